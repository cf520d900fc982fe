#!/usr/bin/env python3
"""Traces the failing layers of a bench/rewrite_soak.py run (kept with --keep)
to the writes whose bytes give them, to tell who is wrong.

The soak's writes are deterministic (rewrite_soak.layer_dump(layers, write,
benchmark)), and every write has its own numbers, so each layer of an
archived copy is the bytes of exactly one write, and each persisted mse is
that of one (sample write, benchmark write) pair. For each failing layer:
  - next sample write / next bench write: the daemon published the numbers
    of a later write than the one the run's copy holds for that layer (the
    daemon read bytes the run did not have);
  - late sample copy / late bench copy: the copy holds a later write than
    the one the daemon compared (the copier copied after the next write had
    overwritten the bytes);
  - unknown: no write near the copy's gives the persisted number.

usage: soak_trace.py SOAK_DIR [WRITES]
  SOAK_DIR: the $TMPDIR of the soak (holding rewrite-soak-failures.txt and
  the kept sigdump-rewrite-soak-* folder); WRITES: sample writes to consider
  (default: the soak's runs + 10).

Runs per write: the writer made exactly RUNS writes of the sample, the
daemon counts its runs. Each sample run's archived copy is traced to the
write(s) its layers come from, and the writer's choices (rewrite, cut
mid-write, waited for run_end) are replayed from the seed (the soak's
random draws do not depend on timing). Prints every write that became no
run or more than one, with each run's start and end reasons.

usage: soak_trace.py runs KEPT_DIR SEED RUNS [MODES]
  KEPT_DIR: the kept sigdump-rewrite-soak-* folder; SEED, RUNS, MODES: the
  soak's (MODES as its --modes).
"""
import array
import collections
import glob
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rewrite_soak import layer_dump  # noqa: E402

LAYERS = 60
PAYLOAD = re.compile(rb"name: block(\d\d)/conv:0 [^\n]*\n[^\n]*\n//buffer data size: (\d+)\n")
FAILURE = re.compile(r"(r\d+) \(([^,]*), (\S+) against (r\d+)\): layer (\d+) \S+: "
                     r"mse (\S+) persisted, (\S+) by compare")


def payloads(data):
    """Layer index -> payload bytes of a dump (whole payloads only)."""
    out = {}
    for m in PAYLOAD.finditer(data):
        n, start = int(m.group(2)), m.end()
        if start + n <= len(data):
            out[int(m.group(1))] = data[start:start + n]
    return out


def mse(a, b):
    x, y = array.array("f", a), array.array("f", b)
    return sum((float(p) - float(q)) ** 2 for p, q in zip(x, y)) / len(x)


def writer_choices(seed, runs, modes, size):
    """The soak's sample writes 2..RUNS as its random draws decide them:
    write -> (rewrite, cut mid-write, waited for its run_end)."""
    rng = random.Random(seed)
    out = {}
    for i in range(2, runs + 1):
        mode = rng.choice(modes)
        cut = rng.random() < 1 / 3 and i < runs
        end = rng.randint(size // 4, size - 1) if cut else size
        if mode != "rename":
            for _ in range(0, end, 8192):
                if rng.random() < 0.3:
                    rng.random()
        waited = not cut and rng.random() < 0.5
        out[i] = (mode, cut, waited)
    return out


def runs_per_write(kept, seed, runs, modes):
    sample_of = {}
    for w in range(1, runs + 1):
        for i, p in payloads(layer_dump(LAYERS, w, False)).items():
            sample_of[(i, p)] = w
    size = len(layer_dump(LAYERS, 2, False))
    choices = writer_choices(seed, runs, modes, size)
    events = [json.loads(l) for l in open(os.path.join(kept, "events.ndjson"))]
    sample = next(e["path"] for e in events if e["event"] == "run_start" and e.get("pair"))
    start, end = {}, {}
    for e in events:
        if e.get("path") != sample:
            continue
        if e["event"] == "run_start":
            start[e["run"]] = e["reason"]
        elif e["event"] == "run_end":
            end[e["run"]] = e["reason"]
    first_layer = {}  # run -> (index, mse) of the first layer it published
    bench_runs = set()
    for e in events:
        if (e["event"] == "layer" and e["run"] in start and e["run"] not in first_layer and
                e["layer"].get("mse") is not None):
            first_layer[e["run"]] = (e["layer"]["index"], e["layer"]["mse"])
        if e["event"] == "run_start" and e.get("path") != sample:
            bench_runs.add(e["run"])
    bench = {w: payloads(layer_dump(LAYERS, w, True)) for w in range(0, len(bench_runs) + 10)}
    sample = {w: payloads(layer_dump(LAYERS, w, False)) for w in range(1, runs + 1)}
    by_write = collections.defaultdict(list)
    for run in start:
        copies = glob.glob(os.path.join(kept, "archive", run + "-*"))
        ws = sorted({sample_of.get((i, p)) for i, p in
                     (payloads(open(copies[0], "rb").read()).items() if copies else [])} -
                    {None})
        # The write whose numbers its first layer has (the copier may have
        # copied a later write's bytes); a run without a layer: its copy's
        # first write, marked "copy".
        w, how = (ws[0] if ws else None), "copy"
        if run in first_layer:
            i, m = first_layer[run]
            near = sorted({x + k for x in ws for k in (-3, -2, -1, 0, 1)} or range(1, runs + 1))
            for ws_ in near:
                if any(i in sample.get(ws_, {}) and i in b and
                       abs(mse(sample[ws_][i], b[i]) - m) <= 1e-6 * max(m, 1e-30)
                       for b in bench.values()):
                    w, how = ws_, "layers"
                    break
        by_write[w].append((run, how, ws, start[run], end.get(run)))
    print("writes %d, sample runs %d, runs with no whole layer of any write %d" %
          (runs, len(start), len(by_write.get(None, []))))
    for w in range(1, runs + 1):
        got = by_write.get(w, [])
        if len(got) != 1:
            print("write %d %s: %d runs %s; write %d %s" %
                  (w, choices.get(w), len(got), got, w - 1, choices.get(w - 1)))
    for r in by_write.get(None, []):
        print("no write:", r)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "runs":
        modes = tuple(sys.argv[5].split(",")) if len(sys.argv) > 5 else (
            "truncate", "rename", "inplace")
        runs_per_write(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), modes)
        return
    base = sys.argv[1]
    failures = os.path.join(base, "rewrite-soak-failures.txt")
    arch = glob.glob(os.path.join(base, "sigdump-rewrite-soak-*", "archive"))[0]
    writes = int(sys.argv[2]) if len(sys.argv) > 2 else 1010
    sample = {w: payloads(layer_dump(LAYERS, w, False)) for w in range(1, writes + 1)}
    bench = {w: payloads(layer_dump(LAYERS, w, True)) for w in range(0, writes // 10 + 10)}
    sample_of = {(i, p): w for w, ls in sample.items() for i, p in ls.items()}
    bench_of = {(i, p): w for w, ls in bench.items() for i, p in ls.items()}
    runs = collections.defaultdict(list)
    for line in open(failures):
        m = FAILURE.match(line)
        if m:
            runs[m.group(1, 2, 3, 4)].append((int(m.group(5)), float(m.group(6))))
    total, failing = collections.Counter(), collections.defaultdict(set)
    for (run, reason, copy, bench_run), layers in runs.items():
        sc = payloads(open(copy, "rb").read())
        bc = payloads(open(glob.glob(os.path.join(arch, bench_run + "-*"))[0], "rb").read())
        cw = {i: sample_of.get((i, p)) for i, p in sc.items()}
        bw = {i: bench_of.get((i, p)) for i, p in bc.items()}
        near_s = sorted({w + k for w in cw.values() if w for k in (0, 1, 2, -1)})
        near_b = sorted({w + k for w in bw.values() if w is not None for k in (0, 1, -1)})
        kinds = collections.Counter()
        for i, persisted in layers:
            kind = "unknown"
            for ws in near_s:
                for wb in near_b:
                    if i not in sample.get(ws, {}) or i not in bench.get(wb, {}):
                        continue
                    if abs(mse(sample[ws][i], bench[wb][i]) - persisted) <= 1e-6 * max(persisted,
                                                                                         1e-30):
                        c, cb = cw.get(i), bw.get(i)
                        kind = ("next sample write" if c and ws > c else
                                "late sample copy" if c and ws < c else
                                "next bench write" if cb is not None and wb > cb else
                                "late bench copy" if cb is not None and wb < cb else
                                "same writes")
                        break
                if kind != "unknown":
                    break
            kinds[kind] += 1
            total[kind] += 1
            failing[kind].add(run)
        print("%s (%s): %s" % (run, reason, dict(kinds)))
    print("layers: %s; runs: %s" % (dict(total), {k: len(v) for k, v in failing.items()}))


if __name__ == "__main__":
    main()
