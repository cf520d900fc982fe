#!/usr/bin/env python3
"""The Python package's costs against the C++ programs (docs/performance.md,
"Python"):

- open: sigdump.open() of the open_index_bench dump (1024 records, 1 MiB
  float payloads as holes, 1 GiB) against open_index_bench's own figure;
- compare: sigdump.compare() against `sigdump compare --json` on a ~1 GB
  pair (two 512 MiB float dumps), warm cache, alternating, median of N.

usage: PYTHONPATH=build/python /usr/bin/python3 bench/python_bench.py build/bin [--runs N]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import sigdump


def open_bench_dump(path, records=1024, side=256):
    payload = side * side * 4 * 4
    with open(path, "wb") as f:
        f.write(b"isFloat: 1\n")
        for i in range(records):
            f.write(("//out 0 s: 1.000000 z: 0 type: float name: layer%04d/conv bConstant:0 "
                     "shape:[1, %d, %d, 4] dims:4\nop_out[%d] CONV_2D = {\n"
                     "//buffer data size: %d\n" % (i, side, side, i, payload)).encode())
            f.seek(payload, os.SEEK_CUR)  # a hole, as open_index_bench makes
            f.write(b"\n};\n")


def pair(dirname, mib=512, layers=64):
    rng = np.random.default_rng(3)
    per = mib * (1 << 20) // layers // 4
    side = int(np.sqrt(per // 4))
    per = side * side * 4
    paths = []
    for name, noise in (("sample.bin", 0.01), ("bench.bin", 0.0)):
        p = os.path.join(dirname, name)
        base = np.random.default_rng(5).normal(size=per).astype(np.float32)
        with open(p, "wb") as f:
            f.write(b"isFloat: 1\n")
            for i in range(layers):
                v = base + np.float32(i) + (rng.normal(size=per).astype(np.float32) * noise
                                            if noise else 0)
                f.write(("//out 0 s: 1.000000 z: 0 type: float name: layer%03d bConstant:0 "
                         "shape:[1, %d, %d, 4] dims:4\nop_out[%d] CONV_2D = {\n"
                         "//buffer data size: %d\n" % (i, side, side, i, per * 4)).encode())
                f.write(v.astype(np.float32).tobytes())
                f.write(b"\n};\n")
        paths.append(p)
    return paths


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin_dir")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    cli = os.path.join(args.bin_dir, "sigdump")
    with tempfile.TemporaryDirectory(prefix="sigdump-pybench-") as tmp:
        # open
        path = os.path.join(tmp, "open.bin")
        open_bench_dump(path)
        sigdump.open(path)
        times, cpu = [], []
        for _ in range(200):
            t, c = time.perf_counter(), time.process_time()
            d = sigdump.open(path)
            cpu.append(time.process_time() - c)
            times.append(time.perf_counter() - t)
            assert len(d) == 1024
            del d
        print("open: sigdump.open, 1024 records, 1 GiB: wall median %.2f ms, CPU mean %.2f ms "
              "(200 runs)" % (statistics.median(times) * 1e3, statistics.mean(cpu) * 1e3))
        os.unlink(path)
        out = subprocess.run([os.path.join(args.bin_dir, "open_index_bench"),
                              "--benchmark_filter=BM_OpenIndex_Big"], capture_output=True, text=True)
        for line in out.stdout.splitlines():
            if line.startswith("BM_OpenIndex_Big"):
                print("open_index_bench:", line.strip())
        # compare
        a, b = pair(tmp)
        size = os.path.getsize(a) + os.path.getsize(b)
        want = json.loads(subprocess.run([cli, "compare", a, b, "--json"], capture_output=True,
                                         text=True).stdout)
        assert sigdump.compare(a, b).data == want
        c_times, p_times = [], []
        for _ in range(args.runs):
            t = time.perf_counter()
            subprocess.run([cli, "compare", a, b, "--json"], stdout=subprocess.DEVNULL)
            c_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            sigdump.compare(a, b)
            p_times.append(time.perf_counter() - t)
        c, p = statistics.median(c_times), statistics.median(p_times)
        print("compare: %.0f MB pair: CLI median %.1f ms, sigdump.compare median %.1f ms, "
              "python/cli = %.3f (%d runs each, alternating)"
              % (size / 1e6, c * 1e3, p * 1e3, p / c, args.runs))


if __name__ == "__main__":
    sys.exit(main())
