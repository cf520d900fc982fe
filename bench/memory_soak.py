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


def main():
    bin_dir, runs, extra = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    with tempfile.TemporaryDirectory(prefix="sigdump-soak-") as base:
        dumps = os.path.join(base, "d")
        os.mkdir(dumps)
        bench = os.path.join(dumps, "float_outtensor_dump.bin")
        sample = os.path.join(dumps, "fixed_outtensor_dump.bin")
        sources = []
        for mode in ("fixed", "float"):
            out = os.path.join(base, mode + ".bin")
            subprocess.run([os.path.join(bin_dir, "sigdump"), "simulate", "--out", out, "--mode", mode],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            sources.append(open(out, "rb").read())
        with open(bench, "wb") as f:
            f.write(sources[1])
        events = os.path.join(base, "events.ndjson")
        sock = os.path.join(base, "sock")
        env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(base, "nc"), XDG_RUNTIME_DIR=base)
        daemon = subprocess.Popen(
            [os.path.join(bin_dir, "sigdumpd"), "--foreground", "--state-dir", os.path.join(base, "st"),
             "--socket", sock, "--events-log", events, "--watch", dumps,
             "--pair", "p:%s=%s" % (sample, bench), "--quiet-ms", "400"] + extra,
            env=env, stderr=subprocess.DEVNULL)

        def rss_kib():
            with open("/proc/%d/status" % daemon.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
            return -1

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
                    print("%5d runs  VmRSS %6d KiB  %6.1f s" % (i, rss_kib(), time.time() - start),
                          flush=True)
        finally:
            daemon.terminate()
            daemon.wait()


if __name__ == "__main__":
    main()
