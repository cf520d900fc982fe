#!/usr/bin/env python3
"""sigdumpd's memory over many runs: a real daemon watches one pair; the
sample is rewritten RUNS times (the miniature simulator's fixed and float
dumps in turn, 13 layers each), each time once the previous run's run_end
is in the events log; VmRSS is printed every 100 runs.

usage: memory_soak.py BIN_DIR RUNS [sigdumpd options...]
example: python3 bench/memory_soak.py build/bin 1000 --history-max-bytes 1048576
"""
import os
import subprocess
import sys
import tempfile
import time


class soak_pair:
    """A real sigdumpd in BASE watching one pair p: the miniature simulator's
    float dump as the benchmark, the sample not written yet; `sources` are
    the fixed and float dumps' bytes (or the given SOURCES: a sample's and
    the benchmark's). `argv` and `env` start the same daemon again. Shared
    with rewrite_soak.py."""

    def __init__(self, base, bin_dir, extra, sources=None):
        self.dumps = os.path.join(base, "d")
        os.mkdir(self.dumps)
        self.bench = os.path.join(self.dumps, "float_outtensor_dump.bin")
        self.sample = os.path.join(self.dumps, "fixed_outtensor_dump.bin")
        self.sources = list(sources or [])
        for mode in () if sources else ("fixed", "float"):
            out = os.path.join(base, mode + ".bin")
            subprocess.run([os.path.join(bin_dir, "sigdump"), "simulate", "--out", out, "--mode", mode],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open(out, "rb") as f:
                self.sources.append(f.read())
        with open(self.bench, "wb") as f:
            f.write(self.sources[1])
        self.events = os.path.join(base, "events.ndjson")
        self.sock = os.path.join(base, "sock")
        self.env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(base, "nc"), XDG_RUNTIME_DIR=base)
        self.argv = [os.path.join(bin_dir, "sigdumpd"), "--foreground", "--state-dir",
                     os.path.join(base, "st"), "--socket", self.sock, "--events-log", self.events,
                     "--watch", self.dumps, "--pair", "p:%s=%s" % (self.sample, self.bench),
                     "--quiet-ms", "400"] + extra
        self.daemon = subprocess.Popen(self.argv, env=self.env, stderr=subprocess.DEVNULL)


def rss_kib(pid, key="VmRSS:"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    return -1


def main():
    bin_dir, runs, extra = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    with tempfile.TemporaryDirectory(prefix="sigdump-soak-") as base:
        pair = soak_pair(base, bin_dir, extra)
        sample, sources, events, sock, daemon = (pair.sample, pair.sources, pair.events, pair.sock,
                                                 pair.daemon)

        def ends():
            try:
                with open(events) as f:
                    return sum(1 for l in f if '"event":"run_end"' in l and sample in l)
            except FileNotFoundError:
                return 0

        while not os.path.exists(sock):
            time.sleep(0.05)
        start = time.time()
        try:
            for i in range(1, runs + 1):
                with open(sample, "wb") as f:
                    f.write(sources[i % 2])
                deadline = time.time() + 20
                while ends() < i and time.time() < deadline:
                    time.sleep(0.005)
                if ends() < i:
                    sys.exit("no run_end for run %d within 20 s" % i)
                if i % 100 == 0:
                    print("%5d runs  VmRSS %6d KiB  %6.1f s" % (i, rss_kib(daemon.pid), time.time() - start),
                          flush=True)
        finally:
            daemon.terminate()
            daemon.wait()


if __name__ == "__main__":
    main()
