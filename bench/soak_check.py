"""bench/rewrite_soak.py's checks of a run's persisted results against
`sigdump compare --json` on its archived copies, and the socket calls they
make. RunChecker checks each sample run soon after it ended, while the
daemon still keeps it (so a small --keep-runs bounds the daemon's memory
and every run is still checked); check_kept checks every run a daemon
keeps (after a restart: what it read back from its state folder)."""
import json
import os
import socket
import subprocess
import threading
import time


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
                if "event" not in m:
                    replies[m["id"]] = m
    s.close()
    return [replies[i] for i in range(len(requests))]


def call(sock_path, method, params=None):
    return call_many(sock_path, [(method, params)])[0]


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


def new_counts():
    return {"checked": 0, "cut": 0, "layers": 0, "no copy": 0, "no benchmark run": 0,
            "beyond a short copy": 0, "lost": 0, "short runs": 0, "lost runs": 0,
            "kinds": {k: 0 for k in MISMATCH_KINDS}, "not checked": []}


def short_copy(r, b):
    """Whether the daemon marked r's copy, or its benchmark run's, short:
    the file started over before the copier reached what the run had read."""
    return any((x["archive"] or {}).get("short") for x in (r, b))


def check_run(bin_dir, sock, r, b, n):
    """Sample run r (a `runs` entry) against `sigdump compare --json` on its
    copy and its benchmark run b's; adds to the counts n, returns the
    failures (None when r was dropped by the daemon while being checked)."""
    failures = []
    if not b:
        n["no benchmark run"] += 1
        n["not checked"].append("%s (no benchmark run %s)" % (r["run"], r["benchmark_run"]))
        return failures
    if not r["archive"] or not b["archive"] or r["archive"]["failed"] or b["archive"]["failed"]:
        n["no copy"] += 1
        n["not checked"].append("%s (copies: %s, %s of %s)" % (
            r["run"], json.dumps(r["archive"]), json.dumps(b["archive"]), b["run"]))
        return failures
    out = subprocess.run([os.path.join(bin_dir, "sigdump"), "compare", "--json",
                          r["archive"]["path"], b["archive"]["path"]],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if out.returncode not in (0, 1):
        return ["%s: sigdump compare %s %s: %s" % (r["run"], r["archive"]["path"],
                                                   b["archive"]["path"],
                                                   out.stderr.decode().strip())]
    want = json.loads(out.stdout)
    got = call_many(sock, [("tensor", {"run": r["run"], "name": l["name"]})
                           for l in want["layers"]])
    if any(g.get("error") for g in got) and not any(
            x["run"] == r["run"] for x in call(sock, "runs")["result"]["runs"]):
        return None  # dropped past keep_runs meanwhile
    cut = r["end_reason"] in CUT_REASONS
    what = "%s (%s, %s against %s)" % (r["run"], r["end_reason"], r["archive"]["path"], b["run"])
    # What the daemon says of the run and its copy, for a failure of the whole run.
    said = ("; the run read %s records; its copy: %s bytes, verified_bytes %s%s" %
            (r.get("records"), r["archive"].get("bytes"), r["archive"].get("verified_bytes"),
             ", marked short" if r["archive"].get("short") else ""))
    kinds = set()
    # Marked by the daemon: layers it compared that the copy lacks (the file
    # started over before the copier got there), and layers whose bytes
    # were gone before a worker read them.
    # A copy marked short holds fewer records than the run read: its layers
    # are checked, not the coverage (of the records the run read).
    short = short_copy(r, b)
    beyond = max(0, r["layers"] - len(want["layers"])) if short else 0
    lost = (r.get("coverage") or {}).get("lost", 0)
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
    if r["layers"] > len(want["layers"]) and not beyond:
        kinds.add("copy short, unmarked")
        failures.append("%s: %d layers persisted, the copy holds %d%s" %
                        (what, r["layers"], len(want["layers"]), said))
    elif have + beyond != r["layers"] and not cut:
        failures.append("%s: %d layers persisted, compare has %d%s" %
                        (what, r["layers"], have, said))
    if not cut and not short and not lost:
        for k in ("coverage", "verdict", "first_bad"):
            a_, b_ = r.get(k), want.get(k)
            if k == "first_bad" and a_ and b_:
                a_, b_ = (a_["index"], a_["name"]), (b_["index"], b_["name"])
            if a_ != b_:
                failures.append("%s: %s %s persisted, %s by compare%s" %
                                (what, k, json.dumps(a_), json.dumps(b_), said))
    n["checked"] += 1
    n["cut"] += cut
    n["layers"] += have
    n["beyond a short copy"] += beyond
    n["lost"] += lost
    n["short runs"] += short
    n["lost runs"] += lost > 0
    if failures:
        for k in kinds or ("coverage only",):
            n["kinds"][k] += 1
    return failures


def check_kept(bin_dir, sock, sample, archive_dir, failures):
    """Every sample run the daemon keeps, checked; returns the counts."""
    runs = call(sock, "runs")["result"]["runs"]
    by_id = {r["run"]: r for r in runs}
    n = new_counts()
    for r in reversed(runs):
        if r["path"] != sample:
            continue
        if r["state"] == "live":
            failures.append("%s: live after the restart" % r["run"])
        b = by_id.get(r["benchmark_run"])
        if not b and r["benchmark_run"]:
            b = dropped_benchmark_run(archive_dir, r["benchmark_run"])
        failures.extend(check_run(bin_dir, sock, r, b, n) or [])
    return n


def dropped_benchmark_run(archive_dir, run):
    """A benchmark run the daemon dropped past keep_runs while sample runs
    compared with it are still kept: its copy as the daemon's archive index
    (DIR/archive.json) lists it, in the shape `runs` gives; None when it is
    not listed."""
    try:
        with open(os.path.join(archive_dir, "archive.json")) as f:
            copies = json.load(f)["runs"]
    except (OSError, ValueError, KeyError):
        return None
    for c in copies:
        if "r%d" % c["run"] == run:
            return {"run": run, "state": "ended", "persisted": True, "dropped": True,
                    "archive": {"path": os.path.join(archive_dir, c["file"]),
                                "bytes": c["bytes"], "copying": not c["synced"],
                                "failed": c["failed"], "synced": c["synced"],
                                "verified_bytes": c["verified_bytes"], "short": c["short"]}}
    return None


def settled(r, b):
    """Whether sample run r and its benchmark run b are over: ended, every
    line persisted, both copies final."""
    if r["state"] == "live" or not r["persisted"] or r["archive"] and r["archive"]["copying"]:
        return False
    if not r["benchmark_run"]:
        return True
    return bool(b) and b["state"] != "live" and b["persisted"] and not (
        b["archive"] and b["archive"]["copying"])


class RunChecker(threading.Thread):
    """Checks each sample run of the daemon once it and its benchmark run
    settled (the same `runs` entries at two polls in a row), while the
    daemon keeps it. `seen` holds every sample run a poll listed, `missed`
    those of them the daemon dropped before they were checked."""

    def __init__(self, bin_dir, sock, sample, archive_dir, failures, every=0.2):
        super().__init__(daemon=True)
        self.bin_dir, self.sock, self.sample, self.every = bin_dir, sock, sample, every
        self.archive_dir = archive_dir
        self.dropped_benchmark = set()  # sample runs checked against a dropped benchmark run
        self.failures = failures
        self.n = new_counts()
        self.seen, self.done, self.missed, self.last = set(), set(), set(), {}
        self.backlog = 0  # runs seen, not yet checked nor dropped (as of the last poll)
        self.stop = threading.Event()
        self.deadline = None
        self.error = None

    def run(self):
        try:
            final = False  # a poll after finish() was called
            while not (final and (not self.seen - self.done - self.missed or
                                  time.time() > self.deadline)):
                time.sleep(self.every)
                final = self.stop.is_set()
                self.poll()
        except Exception as e:  # reported by the final check
            self.error = repr(e)

    def poll(self):
        runs = call(self.sock, "runs")["result"]["runs"]
        by_id = {r["run"]: r for r in runs}
        for r in reversed(runs):  # oldest first: the next to be dropped
            if r["path"] != self.sample or r["run"] in self.done:
                continue
            self.seen.add(r["run"])
            b = by_id.get(r["benchmark_run"])
            if not b and r["benchmark_run"] and r["state"] != "live":
                b = dropped_benchmark_run(self.archive_dir, r["benchmark_run"])
            if not settled(r, b) or self.last.get(r["run"]) != (r, b):
                self.last[r["run"]] = (r, b)
                continue
            got = check_run(self.bin_dir, self.sock, r, b, self.n)
            if b and b.get("dropped"):
                self.dropped_benchmark.add(r["run"])
            (self.missed if got is None else self.done).add(r["run"])
            self.failures.extend(got or [])
            del self.last[r["run"]]
        self.missed |= self.seen - self.done - set(by_id)
        self.backlog = len(self.seen - self.done - self.missed)

    def finish(self, seconds):
        """Once every run ended: polls until every run seen was checked or
        dropped (or SECONDS), then stops."""
        self.deadline = time.time() + seconds
        self.stop.set()
        self.join()
