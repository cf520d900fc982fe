#!/usr/bin/env python3
"""sigdumpd through RUNS runs of one pair whose sample and benchmark are both
rewritten at random moments, with subscribers that disconnect and resume
with `since`, and every run's persisted results checked against
`sigdump compare --json` on its archived files.

A real daemon (with --archive-dir) watches a folder holding the pair p: two
float dumps of LAYERS layers (default 60; 64 to 448 values each), with new
numbers at every write of either, so a layer compared with the bytes of
another write or another benchmark run shows. The sample is written RUNS times,
each time in chunks with short random pauses, by one of three rewrites
chosen at random: truncate and write (O_TRUNC), write a new file and rename
it over the old one, or write over the old bytes in place and cut the rest.
A third of the runs are cut off mid-write by the next rewrite; half of the
others are followed at once by the next one, the rest once their run_end is
in the events log. Meanwhile a second writer rewrites the benchmark the same
ways at random moments (on average every --bench-every seconds, a fifth cut
mid-write; its last write is whole). SUBSCRIBERS clients subscribe to p, and
each now and then closes its socket and subscribes again with `since` = the
clock of the last event it received.

Each sample run is checked soon after it ended, while the daemon still
keeps it, so a small --keep-runs bounds the daemon's memory and yet every
run is checked (bench/soak_check.py): once the run and its benchmark_run
have ended, every line of theirs is persisted and both copies are final
(the same `runs` entries at two polls in a row), `sigdump compare --json`
on the two copies must give the same layers as the daemon persisted (each
layer's object as the `tensor` method returns it for that run: index,
names, records, n, mse, cos, rmse, max_abs, suspect, error, exactly) and,
for a run that ended, the same coverage, verdict and first bad layer as
`runs` shows. A run cut by the next rewrite (reason truncated, rewritten,
replaced) may have compared fewer layers than its copy holds: those it has
must be equal. The daemon's two marks are accepted and counted: a copy
marked short (`"short":true`, the file started over before the copier
reached what the run read) may lack the run's last layers (its coverage,
of the records the run read, is then not compared), and a run may lack as
many layers as its coverage counts `lost` (never compared: the file
started over first and the copies could not stand in). Mismatching runs
are counted by kind: other numbers (read from another write), not
persisted, copy short but unmarked, coverage only. A sample run of the
events log that was never checked (dropped past --keep-runs first) fails;
so that none is, the next write waits while --max-unchecked runs (default
20) wait for their check (a loaded machine), and the soak says how often.

Checked at the end (exit status 1 when a check fails):
  - every run of the sample and of the benchmark has exactly one run_start
    and one run_end, in that order, in the events log;
  - every subscriber received every event of p the log holds from its first
    subscribe on exactly once and in order, except those a `gap` event
    reported;
  - VmRSS (read after every write, printed every 100 runs with the heap
    malloc holds and its bytes in use, from `status`) is flat: the
    median over the last fifth of the runs is at most --rss-tolerance MiB
    (default 1) above the median over the second fifth (the first fifth is
    the warm-up: the runs kept and the event history filling up);
  - the daemon holds no more descriptors (/proc/PID/fd) with every
    subscriber gone than it did before the first one came;
  - after a restart of the daemon (so what it says comes from its state
    folder), every sample run it keeps passes the same check again.

usage: rewrite_soak.py BIN_DIR RUNS [--subscribers N] [--seed S] [--layers N]
                       [--bench-every SECONDS] [--rss-tolerance MIB]
                       [-- sigdumpd options...]
example: python3 bench/rewrite_soak.py build/bin 1000 -- --history-max-bytes 1048576 --keep-runs 50
"""
import argparse
import array
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from memory_soak import rss_kib, soak_pair
from soak_check import RunChecker, call, check_kept, recv_messages


def clock_n(clock):
    """The event counter of a clock ("c:INSTANCE:PID:N")."""
    return int(clock.rsplit(":", 1)[1])


def read_log(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                if line.endswith("\n"):
                    out.append(json.loads(line))
    except FileNotFoundError:
        pass
    return out


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class Subscriber(threading.Thread):
    """Subscribes to p; every few events closes its socket and resumes."""

    def __init__(self, sock_path, seed):
        super().__init__(daemon=True)
        self.sock_path = sock_path
        self.rng = random.Random(seed)
        self.events = []  # (clock number, event, run) of every live event received
        self.gaps = []  # (from, to) clock numbers a gap event reported
        self.first = None  # clock number of the first subscribe reply
        self.last_clock = None
        self.resumes = 0
        self.error = None
        self.stop = False

    def run(self):
        try:
            while not self.stop:
                self.session()
        except Exception as e:  # reported by the final check
            self.error = repr(e)

    def session(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.sock_path)
        params = {"pair": "p"}
        if self.last_clock is not None:
            params["since"] = self.last_clock
            self.resumes += 1
        s.sendall((json.dumps({"id": 7, "method": "subscribe", "params": params}) + "\n").encode())
        s.settimeout(0.5)
        budget = self.rng.randint(5, 400)  # events before it drops the link
        buf = b""
        while not self.stop and budget > 0:
            try:
                messages, buf = recv_messages(s, buf, 65536)
            except socket.timeout:
                continue
            for line, m in messages:
                if "error" in m:
                    raise RuntimeError("subscribe failed: " + line.decode())
                if "event" not in m:
                    if self.last_clock is None:
                        self.first = clock_n(m["result"]["clock"])
                        self.last_clock = m["result"]["clock"]
                    continue
                if m.get("replay"):
                    continue  # the state sent to a fresh subscriber
                if m["event"] == "gap":
                    self.gaps.append((clock_n(m["from"]), clock_n(m["to"])))
                else:
                    self.events.append((clock_n(m["clock"]), m["event"], m.get("run")))
                self.last_clock = m["clock"]
                budget -= 1
        s.close()  # drops the link, replies and events still unread


def layer_dump(layers, write, benchmark):
    """A float dump of LAYERS layers ("blockNN/conv:0", [1, 64 to 448]). All
    share the same base values; the sample adds noise that grows with the
    layer, the benchmark shifts every layer a little, both drawn anew for
    each WRITE (with an amplitude that alternates), so every write has its
    own numbers: a layer compared with bytes of another write, or with
    another benchmark run, shows."""
    base, noise = random.Random(1), random.Random(2 * write + benchmark)
    out = [b"isFloat: 1\n"]
    for i in range(layers):
        n = 64 * (1 + i % 7)
        odd = write % 2
        amp = (0.002 + 0.01 * odd) * (1 + i % 9) if not benchmark else 0.001 + 0.002 * odd
        values = array.array("f", (base.uniform(-1, 1) + amp * noise.uniform(-1, 1)
                                   for _ in range(n)))
        out.append(("//out 0 s: 1.000000 z: 0 type: float name: block%02d/conv:0 bConstant:0 "
                    "shape:[1, %d] dims:2\nop_out[%d] CONV_2D = {\n//buffer data size: %d\n" %
                    (i, n, i, 4 * n)).encode())
        out.append(values.tobytes())
        out.append(b"\n};\n")
    return b"".join(out)


def write_run(path, data, mode, rng, cut, base, tmp_name="next.bin"):
    """One run of a file: `data` written in chunks by `mode`; when `cut`,
    only part of it (the next rewrite comes in the middle)."""
    end = rng.randint(len(data) // 4, len(data) - 1) if cut else len(data)
    chunks = [data[i:i + 8192] for i in range(0, end, 8192)]
    if mode == "rename":
        tmp = os.path.join(base, tmp_name)  # outside the watched folder
        with open(tmp, "wb") as f:
            for c in chunks:
                f.write(c)
        os.rename(tmp, path)
        return
    with open(path, "r+b" if mode == "inplace" and os.path.exists(path) else "wb") as f:
        for c in chunks:
            f.write(c)
            f.flush()
            if rng.random() < 0.3:
                time.sleep(rng.random() * 0.003)  # the writer's pace: test input
        if mode == "inplace":
            f.truncate()


class BenchWriter(threading.Thread):
    """The benchmark's writer: rewrites it at random moments with the
    sample's rewrites, new numbers each time; its last write is whole."""

    def __init__(self, path, layers, seed, base, every, modes):
        super().__init__(daemon=True)
        self.path, self.layers, self.base, self.every = path, layers, base, every
        self.modes = modes
        self.rng = random.Random(seed)
        self.writes = self.cuts = 0
        self.stop = threading.Event()
        self.error = None

    def run(self):
        try:
            while not self.stop.wait(self.rng.uniform(0, 2 * self.every)):
                self.write(self.rng.random() < 0.2)
            self.write(False)
        except Exception as e:  # reported by the final check
            self.error = repr(e)

    def write(self, cut):
        self.writes += 1
        self.cuts += cut
        write_run(self.path, layer_dump(self.layers, self.writes, True),
                  self.rng.choice(self.modes), self.rng, cut, self.base,
                  "next-benchmark.bin")


def rss_growth(rss):
    """How much the median VmRSS of the last fifth of the runs exceeds that
    of the second fifth (the first is the warm-up: the runs kept and the
    event history filling up), in KiB, and a line saying so."""
    n = rss[-1][0] if rss else 0
    early = [k for i, k in rss if n / 5 < i <= 2 * n / 5]
    late = [k for i, k in rss if i > 4 * n / 5]
    if not early or not late:
        return 0, "VmRSS: too few runs to judge"
    growth = statistics.median(late) - statistics.median(early)
    return growth, ("VmRSS median (max) over runs %d-%d: %d (%d) KiB, over runs %d-%d: %d (%d) "
                    "KiB: %+d KiB" % (n // 5 + 1, 2 * n // 5, statistics.median(early),
                                      max(early), 4 * n // 5 + 1, n, statistics.median(late),
                                      max(late), growth))


def run_n(run):
    return int(run[1:])


def unchecked(log, sample, checker, failures):
    """Every sample run of the events log was checked while the daemon kept it."""
    runs = [e["run"] for e in log if e["event"] == "run_start" and e.get("path") == sample]
    if checker.error:
        failures.append("run checker: " + checker.error)
    for what, left in (("never listed by `runs`", [r for r in runs if r not in checker.seen]),
                       ("dropped before they were checked", sorted(checker.missed, key=run_n)),
                       ("never settled",
                        sorted(checker.seen - checker.done - checker.missed, key=run_n))):
        if left:
            failures.append("%d sample runs %s: %s" % (len(left), what, " ".join(left[:20])))


def soak(a, extra, base, rng, failures):
    extra = ["--archive-dir", os.path.join(base, "archive"), "--archive-max-bytes", "0"] + extra
    pair = soak_pair(base, a.bin_dir, extra,
                     [layer_dump(a.layers, 1, False), layer_dump(a.layers, 0, True)])
    bench, sample = pair.bench, pair.sample
    events, sock, daemon = pair.events, pair.sock, pair.daemon

    def count(kind, path=sample):
        try:
            with open(events) as f:
                return sum(1 for l in f if '"event":"%s"' % kind in l and path in l)
        except FileNotFoundError:
            return 0

    def all_ended():
        return all(count("run_end", p) >= count("run_start", p) for p in (sample, bench))

    def wait_for(pred, seconds, what):
        deadline = time.time() + seconds
        while not pred():
            if time.time() > deadline:
                sys.exit("soak: %s within %d s" % (what, seconds))
            time.sleep(0.01)

    wait_for(lambda: os.path.exists(sock), 20, "no socket")
    # The first run, finished, before anyone subscribes: the descriptor baseline.
    with open(sample, "wb") as f:
        f.write(pair.sources[0])
    wait_for(lambda: count("run_end") >= 1, 20, "no run_end of the first run")
    fds_before = fd_count(daemon.pid)
    checker = RunChecker(a.bin_dir, sock, sample, os.path.join(base, "archive"), failures)
    checker.start()
    subs = [Subscriber(sock, a.seed * 100 + i) for i in range(a.subscribers)]
    for s in subs:
        s.start()
    wait_for(lambda: all(s.first is not None for s in subs), 20, "a subscriber not answered")
    writer = BenchWriter(bench, a.layers, a.seed * 100 + 99, base, a.bench_every, a.modes)
    writer.start()
    start = time.time()
    rss = []  # (run, VmRSS KiB) after each write
    modes = {"truncate": 0, "rename": 0, "inplace": 0, "cut": 0}
    held = [0, 0.0]  # writes held back for the checker, and the seconds they waited
    try:
        for i in range(2, a.runs + 1):
            if checker.backlog >= a.max_unchecked:
                # The checker lags (a loaded machine): the next write waits,
                # so no run is dropped past --keep-runs before it is checked.
                t = time.time()
                wait_for(lambda: checker.backlog < a.max_unchecked or checker.error, 120,
                         "the checker still %d runs behind" % checker.backlog)
                held[0] += 1
                held[1] += time.time() - t
            mode = rng.choice(a.modes)
            cut = rng.random() < 1 / 3 and i < a.runs
            modes[mode] += 1
            modes["cut"] += cut
            write_run(sample, layer_dump(a.layers, i, False), mode, rng, cut, base)
            if not cut and rng.random() < 0.5:
                wait_for(lambda: count("run_end") >= count("run_start"), 30,
                         "no run_end for run %d" % i)
            rss.append((i, rss_kib(daemon.pid)))
            if i % 100 == 0:
                # What malloc holds, and of it what is in use: a VmRSS that
                # grows with the bytes in use flat is the allocator's.
                d = call(sock, "status", {"only": "daemon"})["result"]["daemon"]
                print("%5d runs  VmRSS %6d KiB (anon %6d; heap %6d, in use %6d KiB, %d trims)  "
                      "fds %4d  runs checked %4d  %6.1f s%s" %
                      (i, rss[-1][1], rss_kib(daemon.pid, "RssAnon:"), d["heap_bytes"] // 1024,
                       d["heap_in_use_bytes"] // 1024, d["heap_trims"], fd_count(daemon.pid),
                       checker.n["checked"],
                       time.time() - start, "  checker: " + checker.error if checker.error
                       else ""), flush=True)
        writer.stop.set()
        writer.join()
        # Every run ends (the last one closed, or quiet).
        wait_for(all_ended, 60, "runs still without run_end")
        checker.finish(60)
        last = max(clock_n(e["clock"]) for e in read_log(events) if e.get("pair") == "p")
        wait_for(lambda: all(s.error or (s.events and s.events[-1][0] >= last) for s in subs),
                 60, "subscribers did not catch up")
        for s in subs:
            s.stop = True
        for s in subs:
            s.join(5)
        wait_for(lambda: call(sock, "status", {"only": "daemon"})["result"]["daemon"]["clients"]
                 <= 1, 20, "subscribers still connected")
        fds_after = fd_count(daemon.pid)
        heap = call(sock, "status", {"only": "daemon"})["result"]["daemon"]
        # Where the daemon's memory is, for a VmRSS that is not flat.
        shutil.copyfile("/proc/%d/smaps" % daemon.pid,
                        os.path.join(tempfile.gettempdir(), "rewrite-soak-smaps.txt"))
        log = read_log(events)
    finally:
        daemon.terminate()
        daemon.wait()
    # What the daemon persisted, read back by a new one from its state folder.
    daemon = subprocess.Popen(pair.argv, env=pair.env, stderr=subprocess.DEVNULL)
    try:
        def answers():
            try:
                return "result" in call(sock, "hello")
            except OSError:  # not listening yet
                return False

        wait_for(answers, 20, "no answer on the socket after the restart")
        wait_for(lambda: not any(r["state"] == "live" for r in call(sock, "runs")["result"]
                                 ["runs"]), 60, "runs live after the restart")
        kept = check_kept(a.bin_dir, sock, sample, os.path.join(base, "archive"), failures)
    finally:
        daemon.terminate()
        daemon.wait()

    # One run_start and one run_end per run, in that order.
    seen = {}
    for e in log:
        if e.get("path") not in (sample, bench) or e["event"] not in ("run_start", "run_end"):
            continue
        st = seen.setdefault(e["run"], [0, 0])
        if e["event"] == "run_start":
            if st[0] or st[1]:
                failures.append("%s: a second run_start" % e["run"])
            st[0] += 1
        else:
            if not st[0] or st[1]:
                failures.append("%s: run_end without run_start, or a second one" % e["run"])
            st[1] += 1
    for run, (s_, e_) in seen.items():
        if (s_, e_) != (1, 1):
            failures.append("%s: %d run_start, %d run_end" % (run, s_, e_))
    # Subscribers: every event of p after their first subscribe, once, in order.
    truth = [(clock_n(e["clock"]), e["event"], e.get("run")) for e in log
             if e.get("pair") == "p" or e.get("event") == "resync"]
    gapped = 0
    for n, s in enumerate(subs):
        if s.error:
            failures.append("subscriber %d: %s" % (n, s.error))
            continue
        want = [t for t in truth if t[0] > s.first]
        got = s.events
        if len(set(c for c, _, _ in got)) != len(got):
            failures.append("subscriber %d: an event received twice" % n)
        received = set(got)  # once: 60 layers a run make tens of thousands of events
        missing = [t for t in want if t not in received
                   and not any(f <= t[0] <= to for f, to in s.gaps)]
        gapped += sum(to - f + 1 for f, to in s.gaps)
        if missing:
            failures.append("subscriber %d: %d events missing without a gap, first %s" %
                            (n, len(missing), missing[0]))
        if [c for c, _, _ in got] != sorted(c for c, _, _ in got):
            failures.append("subscriber %d: events out of order" % n)
    growth, rss_text = rss_growth(rss)
    if growth > a.rss_tolerance * 1024:
        failures.append("VmRSS not flat: " + rss_text)
    unchecked(log, sample, checker, failures)
    if writer.error:
        failures.append("benchmark writer: " + writer.error)
    if fds_after > fds_before:
        failures.append("descriptors: %d before the subscribers, %d after" %
                        (fds_before, fds_after))
    print("runs %d (truncate %d, rename %d, in place %d; %d cut mid-write), benchmark "
          "writes %d (%d cut), runs in the log %d (sample %d), events %d, subscribers %d "
          "resumed %d times, %d events reported as gaps, fds %d -> %d, "
          "%.1f s" %
          (a.runs, modes["truncate"], modes["rename"], modes["inplace"], modes["cut"],
           writer.writes, writer.cuts, len(seen),
           sum(1 for e in log if e["event"] == "run_start" and e.get("path") == sample),
           len(log), len(subs), sum(s.resumes for s in subs), gapped,
           fds_before, fds_after, time.time() - start))
    print(rss_text)
    print("heap trims %d (%d gave memory back), the longest %d us (%d us of CPU time)" %
          (heap["heap_trims"], heap["heap_trims_released"], heap["heap_trim_longest_us"],
           heap["heap_trim_longest_cpu_us"]))
    with open(os.path.join(tempfile.gettempdir(), "rewrite-soak-rss.txt"), "w") as f:
        f.writelines("%d %d\n" % x for x in rss)  # VmRSS KiB after each write
    print("sample runs checked against a benchmark run the daemon had dropped past "
          "--keep-runs (its copy found in archive.json): %d" % len(checker.dropped_benchmark))
    print("writes held back while the checker had %d runs or more to check: %d (%.1f s)" %
          (a.max_unchecked, held[0], held[1]))
    for what, n in (("soon after they ended", checker.n), ("after a restart", kept)):
        print("%s: persisted runs checked against sigdump compare --json on their copies: %d "
              "(%d cut by the next rewrite), %d layers; not checked: %d without a benchmark "
              "run, %d without both copies; marked by the daemon: %d runs with a short copy (%d "
              "layers compared beyond its end), %d layers of %d runs lost (their file started "
              "over first); runs that differ: %s" %
              (what, n["checked"], n["cut"], n["layers"], n["no benchmark run"], n["no copy"],
               n["short runs"], n["beyond a short copy"], n["lost"], n["lost runs"],
               ", ".join("%d %s" % (v, k) for k, v in n["kinds"].items())))
        for x in n["not checked"][:10]:
            print("  not checked:", x)
    if failures:
        # The events log, to look at what went wrong.
        kept = os.path.join(tempfile.gettempdir(), "rewrite-soak-events.ndjson")
        with open(kept, "w") as f:
            f.writelines(json.dumps(e) + "\n" for e in log)
        every = os.path.join(tempfile.gettempdir(), "rewrite-soak-failures.txt")
        with open(every, "w") as f:
            f.writelines(x + "\n" for x in failures)
        print("events log kept in", kept, "and every failure in", every)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin_dir")
    ap.add_argument("runs", type=int)
    ap.add_argument("--subscribers", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rss-tolerance", type=float, default=1.0,
                    help="MiB the median VmRSS of the last fifth of the runs may exceed that "
                    "of the second fifth")
    ap.add_argument("--layers", type=int, default=60)
    ap.add_argument("--max-unchecked", type=int, default=20,
                    help="the next write waits while this many runs wait for their check "
                    "(keep it well below the daemon's --keep-runs)")
    ap.add_argument("--bench-every", type=float, default=2.0)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--modes", default="truncate,rename,inplace",
                    help="the rewrites to choose from (default: all three)")
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    a = ap.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    a.modes = tuple(a.modes.split(","))
    if not a.modes or any(m not in ("truncate", "rename", "inplace") for m in a.modes):
        ap.error("--modes: a list of truncate, rename, inplace")
    rng = random.Random(a.seed)
    failures = []
    base = tempfile.mkdtemp(prefix="sigdump-rewrite-soak-")
    try:
        soak(a, extra, base, rng, failures)
    finally:
        if a.keep:
            print("kept", base)
        else:
            shutil.rmtree(base)
    for f in failures[:20]:
        print("FAIL:", f)
    if failures:
        print("%d failures" % len(failures))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
