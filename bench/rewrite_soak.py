#!/usr/bin/env python3
"""sigdumpd through RUNS runs of one pair whose sample is rewritten at random
moments, with subscribers that disconnect and resume with `since`.

A real daemon watches a folder holding the pair p (the miniature simulator's
fixed-point sample and float benchmark, 13 layers). The sample is written
RUNS times, each time in chunks with short random pauses, by one of three
rewrites chosen at random: truncate and write (O_TRUNC), write a new file
and rename it over the old one, or write over the old bytes in place and cut
the rest. A third of the runs are cut off mid-write by the next rewrite; half
of the others are followed at once by the next one, the rest once their
run_end is in the events log. SUBSCRIBERS clients subscribe to p, and each
now and then closes its socket and subscribes again with `since` = the clock
of the last event it received.

Checked at the end (exit status 1 when a check fails):
  - every run of the sample has exactly one run_start and one run_end, in
    that order, in the events log;
  - every subscriber received every event of p the log holds from its first
    subscribe on exactly once and in order, except those a `gap` event
    reported;
  - VmRSS (printed every 100 runs) after the last run is at most 1.5 times
    what it was after the first 100 (set --rss-factor);
  - the daemon holds no more descriptors (/proc/PID/fd) with every
    subscriber gone than it did before the first one came.

usage: rewrite_soak.py BIN_DIR RUNS [--subscribers N] [--seed S]
                       [--rss-factor F] [-- sigdumpd options...]
example: python3 bench/rewrite_soak.py build/bin 1000 --subscribers 4
"""
import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time

from memory_soak import rss_kib, soak_pair


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


def call(sock_path, method, params=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    req = {"id": 1, "method": method}
    if params is not None:
        req["params"] = params
    s.sendall((json.dumps(req) + "\n").encode())
    buf = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError("no reply to " + method)
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            m = json.loads(line)
            if m.get("id") == 1 and "event" not in m:
                s.close()
                return m


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
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise RuntimeError("the daemon closed the connection")
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                m = json.loads(line)
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


def write_run(path, data, mode, rng, cut, base):
    """One run of the sample: `data` written in chunks by `mode`; when `cut`,
    only part of it (the next rewrite comes in the middle)."""
    end = rng.randint(len(data) // 4, len(data) - 1) if cut else len(data)
    chunks = [data[i:i + 8192] for i in range(0, end, 8192)]
    if mode == "rename":
        tmp = os.path.join(base, "next.bin")  # outside the watched folder
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin_dir")
    ap.add_argument("runs", type=int)
    ap.add_argument("--subscribers", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rss-factor", type=float, default=1.5)
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    a = ap.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    rng = random.Random(a.seed)
    failures = []
    with tempfile.TemporaryDirectory(prefix="sigdump-rewrite-soak-") as base:
        pair = soak_pair(base, a.bin_dir, extra)
        dumps, bench, sample, sources = pair.dumps, pair.bench, pair.sample, pair.sources
        events, sock, daemon = pair.events, pair.sock, pair.daemon

        def count(kind):
            try:
                with open(events) as f:
                    return sum(1 for l in f if '"event":"%s"' % kind in l and sample in l)
            except FileNotFoundError:
                return 0

        def wait_for(pred, seconds, what):
            deadline = time.time() + seconds
            while not pred():
                if time.time() > deadline:
                    sys.exit("soak: %s within %d s" % (what, seconds))
                time.sleep(0.01)

        wait_for(lambda: os.path.exists(sock), 20, "no socket")
        # The first run, finished, before anyone subscribes: the descriptor baseline.
        with open(sample, "wb") as f:
            f.write(sources[0])
        wait_for(lambda: count("run_end") >= 1, 20, "no run_end of the first run")
        fds_before = fd_count(daemon.pid)
        subs = [Subscriber(sock, a.seed * 100 + i) for i in range(a.subscribers)]
        for s in subs:
            s.start()
        wait_for(lambda: all(s.first is not None for s in subs), 20, "a subscriber not answered")
        start = time.time()
        rss_100 = None
        modes = {"truncate": 0, "rename": 0, "inplace": 0, "cut": 0}
        try:
            for i in range(2, a.runs + 1):
                mode = rng.choice(("truncate", "rename", "inplace"))
                cut = rng.random() < 1 / 3 and i < a.runs
                modes[mode] += 1
                modes["cut"] += cut
                write_run(sample, sources[i % 2], mode, rng, cut, base)
                if not cut and rng.random() < 0.5:
                    wait_for(lambda: count("run_end") >= count("run_start"), 30,
                             "no run_end for run %d" % i)
                if i % 100 == 0:
                    rss = rss_kib(daemon.pid)
                    rss_100 = rss_100 or rss
                    print("%5d runs  VmRSS %6d KiB  fds %4d  %6.1f s" %
                          (i, rss, fd_count(daemon.pid), time.time() - start), flush=True)
            # Every run ends (the last one closed, or quiet).
            wait_for(lambda: count("run_end") >= count("run_start"), 60,
                     "runs still without run_end")
            last = max(clock_n(e["clock"]) for e in read_log(events) if e.get("pair") == "p")
            wait_for(lambda: all(s.error or (s.events and s.events[-1][0] >= last) for s in subs),
                     60, "subscribers did not catch up")
            rss_end = rss_kib(daemon.pid)
            for s in subs:
                s.stop = True
            for s in subs:
                s.join(5)
            wait_for(lambda: call(sock, "status", {"only": "daemon"})["result"]["daemon"]["clients"]
                     <= 1, 20, "subscribers still connected")
            fds_after = fd_count(daemon.pid)
            log = read_log(events)
        finally:
            daemon.terminate()
            daemon.wait()

        # One run_start and one run_end per run, in that order.
        seen = {}
        for e in log:
            if e.get("path") != sample or e["event"] not in ("run_start", "run_end"):
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
            missing = [t for t in want if t not in set(got)
                       and not any(f <= t[0] <= to for f, to in s.gaps)]
            gapped += sum(to - f + 1 for f, to in s.gaps)
            if missing:
                failures.append("subscriber %d: %d events missing without a gap, first %s" %
                                (n, len(missing), missing[0]))
            if [c for c, _, _ in got] != sorted(c for c, _, _ in got):
                failures.append("subscriber %d: events out of order" % n)
        if rss_100 and rss_end > a.rss_factor * rss_100:
            failures.append("VmRSS grew from %d KiB at run 100 to %d KiB" % (rss_100, rss_end))
        if fds_after > fds_before:
            failures.append("descriptors: %d before the subscribers, %d after" %
                            (fds_before, fds_after))
        print("runs %d (truncate %d, rename %d, in place %d; %d cut mid-write), sample runs in "
              "the log %d, events %d, subscribers %d resumed %d times, %d events reported as gaps, "
              "VmRSS %s -> %d KiB, fds %d -> %d, %.1f s" %
              (a.runs, modes["truncate"], modes["rename"], modes["inplace"], modes["cut"],
               len(seen), len(log), len(subs), sum(s.resumes for s in subs), gapped, rss_100,
               rss_end, fds_before, fds_after, time.time() - start))
        if failures:
            # The events log, to look at what went wrong.
            kept = os.path.join(tempfile.gettempdir(), "rewrite-soak-events.ndjson")
            with open(kept, "w") as f:
                f.writelines(json.dumps(e) + "\n" for e in log)
            print("events log kept in", kept)
    for f in failures[:20]:
        print("FAIL:", f)
    if failures:
        print("%d failures" % len(failures))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
