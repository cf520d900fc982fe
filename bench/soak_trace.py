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
"""
import array
import collections
import glob
import os
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


def main():
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
