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

Checked at the end (exit status 1 when a check fails):
  - every run of the sample and of the benchmark has exactly one run_start
    and one run_end, in that order, in the events log;
  - every subscriber received every event of p the log holds from its first
    subscribe on exactly once and in order, except those a `gap` event
    reported;
  - VmRSS (printed every 100 runs) after the last run is at most 1.5 times
    what it was after the first 100 (set --rss-factor);
  - the daemon holds no more descriptors (/proc/PID/fd) with every
    subscriber gone than it did before the first one came;
  - after a restart of the daemon (so what it says comes from its state
    folder), for every sample run it keeps (--keep-runs) whose copy and
    whose benchmark_run's copy are in the archive: `sigdump compare --json`
    on the two copies gives the same layers (each layer's persisted object
    as the `tensor` method returns it for that run: index, names, records,
    n, mse, cos, rmse, max_abs, suspect, error, exactly) and, for a run that
    ended, the same coverage, verdict and first bad layer as `runs` shows.
    A run cut by the next rewrite (reason truncated, rewritten, replaced)
    may have compared fewer layers than its copy holds: those it has must
    be equal. The daemon's two marks are accepted: a copy marked short
    (`"short":true`, the file started over before the copier reached what
    the run read) may lack the run's last layers, and a run may lack as
    many layers as its coverage counts `lost` (never compared: the file
    started over first and the copies could not stand in). Mismatching
    runs are counted by kind: other numbers (read from another write), not
    persisted, copy short but unmarked, coverage only.

usage: rewrite_soak.py BIN_DIR RUNS [--subscribers N] [--seed S] [--layers N]
                       [--bench-every SECONDS] [--rss-factor F]
                       [-- sigdumpd options...]
example: python3 bench/rewrite_soak.py build/bin 1000 --subscribers 4 -- --keep-runs 2400
"""
import argparse
import array
import json
import os
import random
import shutil
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


def recv_messages(s, buf, size):
    """One recv on s after buf: the (line, message) pairs it completed, and
    the bytes left of a line still arriving."""
    chunk = s.recv(size)
    if not chunk:
        raise RuntimeError("the daemon closed the connection")
    *lines, rest = (buf + chunk).split(b"\n")
    return [(line, json.loads(line)) for line in lines], rest


def call_many(sock_path, requests):
    """Sends every (method, params) on one connection; the replies in order."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    replies = {}
    buf = b""
    for first in range(0, len(requests), 256):  # a window the queue limits never see
        batch = requests[first:first + 256]
        s.sendall(b"".join((json.dumps({"id": first + i, "method": m, "params": p}) + "\n").encode()
                           for i, (m, p) in enumerate(batch)))
        while len(replies) < first + len(batch):
            messages, buf = recv_messages(s, buf, 1 << 20)
            for _, m in messages:
                replies[m["id"]] = m
    s.close()
    return [replies[i] for i in range(len(requests))]


# The keys of a layer object checked against `sigdump compare --json`.
LAYER_KEYS = ("index", "name", "benchmark_name", "sample_record", "benchmark_record", "n", "mse",
              "cos", "rmse", "max_abs", "suspect", "error")
CUT_REASONS = ("truncated", "rewritten", "replaced")
# What a mismatching run shows, counted once per kind (a run may show more):
# layers with numbers other than compare's (read from another write), layers
# compare has and the daemon did not persist nor mark lost, more layers
# persisted than the copy holds without the copy marked short, or only the
# coverage, verdict or first bad layer.
MISMATCH_KINDS = ("other numbers", "not persisted", "copy short, unmarked", "coverage only")


def check_persisted(bin_dir, sock, sample, failures):
    """Every kept sample run against `sigdump compare --json` on its archived
    copy and its benchmark run's; returns counts of what was checked."""
    runs = call(sock, "runs")["result"]["runs"]
    by_id = {r["run"]: r for r in runs}
    n = {"checked": 0, "cut": 0, "layers": 0, "no copy": 0, "no benchmark run": 0,
         "beyond a short copy": 0, "lost": 0, "short runs": 0, "lost runs": 0, "kinds": {k: 0 for k in MISMATCH_KINDS}}
    for r in reversed(runs):
        if r["path"] != sample:
            continue
        b = by_id.get(r["benchmark_run"])
        if r["state"] == "live":
            failures.append("%s: live after the restart" % r["run"])
        if not b:
            n["no benchmark run"] += 1
            continue
        if not r["archive"] or not b["archive"] or r["archive"]["failed"] or b["archive"]["failed"]:
            n["no copy"] += 1
            continue
        out = subprocess.run([os.path.join(bin_dir, "sigdump"), "compare", "--json",
                              r["archive"]["path"], b["archive"]["path"]],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if out.returncode not in (0, 1):
            failures.append("%s: sigdump compare %s %s: %s" % (r["run"], r["archive"]["path"],
                                                               b["archive"]["path"],
                                                               out.stderr.decode().strip()))
            continue
        want = json.loads(out.stdout)
        got = call_many(sock, [("tensor", {"run": r["run"], "name": l["name"]})
                               for l in want["layers"]])
        cut = r["end_reason"] in CUT_REASONS
        n["checked"] += 1
        n["cut"] += cut
        what = "%s (%s, %s against %s)" % (r["run"], r["end_reason"], r["archive"]["path"],
                                           b["run"])
        before = len(failures)
        kinds = set()
        # Marked by the daemon: layers it compared that the copy lacks (the
        # file started over before the copier got there), and layers whose
        # bytes were gone before a worker read them.
        beyond = max(0, r["layers"] - len(want["layers"])) if short_copy(r, b) else 0
        lost = (r.get("coverage") or {}).get("lost", 0)
        n["beyond a short copy"] += beyond
        n["lost"] += lost
        n["short runs"] += beyond > 0
        n["lost runs"] += lost > 0
        have = absent = 0
        for l, g in zip(want["layers"], got):
            m = g.get("result", {}).get("metrics")
            if m is None and cut:
                continue  # not compared before the next rewrite came
            if m is None:
                absent += 1
                if absent > lost:
                    kinds.add("not persisted")
                    failures.append("%s: layer %d %s: not persisted (%s)" %
                                    (what, l["index"], l["name"], g.get("error", "no metrics")))
                continue
            have += 1
            diff = [k for k in LAYER_KEYS if m.get(k) != l.get(k)]
            if diff:
                kinds.add("other numbers")
                failures.append("%s: layer %d %s: %s" % (what, l["index"], l["name"], ", ".join(
                    "%s %r persisted, %r by compare" % (k, m.get(k), l.get(k)) for k in diff)))
        n["layers"] += have
        if r["layers"] > len(want["layers"]) and not beyond:
            kinds.add("copy short, unmarked")
            failures.append("%s: %d layers persisted, the copy holds %d" %
                            (what, r["layers"], len(want["layers"])))
        elif have + beyond != r["layers"] and not cut:
            failures.append("%s: %d layers persisted, compare has %d" % (what, r["layers"], have))
        if not cut and not beyond and not lost:
            for k in ("coverage", "verdict", "first_bad"):
                a_, b_ = r.get(k), want.get(k)
                if k == "first_bad" and a_ and b_:
                    a_, b_ = (a_["index"], a_["name"]), (b_["index"], b_["name"])
                if a_ != b_:
                    failures.append("%s: %s %s persisted, %s by compare" %
                                    (what, k, json.dumps(a_), json.dumps(b_)))
        if len(failures) > before:
            for k in kinds or ("coverage only",):
                n["kinds"][k] += 1
    return n


def short_copy(r, b):
    """Whether the daemon marked r's copy, or its benchmark run's, short:
    the file started over before the copier reached what the run had read."""
    return any((x["archive"] or {}).get("short") for x in (r, b))


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
    subs = [Subscriber(sock, a.seed * 100 + i) for i in range(a.subscribers)]
    for s in subs:
        s.start()
    wait_for(lambda: all(s.first is not None for s in subs), 20, "a subscriber not answered")
    writer = BenchWriter(bench, a.layers, a.seed * 100 + 99, base, a.bench_every, a.modes)
    writer.start()
    start = time.time()
    rss_100 = None
    modes = {"truncate": 0, "rename": 0, "inplace": 0, "cut": 0}
    try:
        for i in range(2, a.runs + 1):
            mode = rng.choice(a.modes)
            cut = rng.random() < 1 / 3 and i < a.runs
            modes[mode] += 1
            modes["cut"] += cut
            write_run(sample, layer_dump(a.layers, i, False), mode, rng, cut, base)
            if not cut and rng.random() < 0.5:
                wait_for(lambda: count("run_end") >= count("run_start"), 30,
                         "no run_end for run %d" % i)
            if i % 100 == 0:
                rss = rss_kib(daemon.pid)
                rss_100 = rss_100 or rss
                print("%5d runs  VmRSS %6d KiB  fds %4d  %6.1f s" %
                      (i, rss, fd_count(daemon.pid), time.time() - start), flush=True)
        writer.stop.set()
        writer.join()
        # Every run ends (the last one closed, or quiet).
        wait_for(all_ended, 60, "runs still without run_end")
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
        checked = check_persisted(a.bin_dir, sock, sample, failures)
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
    if rss_100 and rss_end > a.rss_factor * rss_100:
        failures.append("VmRSS grew from %d KiB at run 100 to %d KiB" % (rss_100, rss_end))
    if writer.error:
        failures.append("benchmark writer: " + writer.error)
    if fds_after > fds_before:
        failures.append("descriptors: %d before the subscribers, %d after" %
                        (fds_before, fds_after))
    print("runs %d (truncate %d, rename %d, in place %d; %d cut mid-write), benchmark "
          "writes %d (%d cut), runs in the log %d (sample %d), events %d, subscribers %d "
          "resumed %d times, %d events reported as gaps, VmRSS %s -> %d KiB, fds %d -> %d, "
          "%.1f s" %
          (a.runs, modes["truncate"], modes["rename"], modes["inplace"], modes["cut"],
           writer.writes, writer.cuts, len(seen),
           sum(1 for e in log if e["event"] == "run_start" and e.get("path") == sample),
           len(log), len(subs), sum(s.resumes for s in subs), gapped, rss_100, rss_end,
           fds_before, fds_after, time.time() - start))
    print("persisted runs checked against sigdump compare --json on their copies: %d (%d cut "
          "by the next rewrite), %d layers; not checked: %d without a benchmark run, %d "
          "without both copies" % (checked["checked"], checked["cut"], checked["layers"],
                                   checked["no benchmark run"], checked["no copy"]))
    print("marked by the daemon: %d layers of %d runs beyond a short copy, %d layers of %d runs "
          "lost (their file started over first); runs that differ: %s" %
          (checked["beyond a short copy"], checked["short runs"], checked["lost"],
           checked["lost runs"], ", ".join(
              "%d %s" % (v, k) for k, v in checked["kinds"].items())))
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
    ap.add_argument("--rss-factor", type=float, default=1.5)
    ap.add_argument("--layers", type=int, default=60)
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
