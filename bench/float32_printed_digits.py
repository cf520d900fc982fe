#!/usr/bin/env python3
"""How often float32 a-b and a*b change the %f-printed MSE / COS / RMSE.

Generated layers: benchmark b ~ N(0, 1) in float32, sample a = b quantized
to 8 bits (scale = range / 255) plus that rounding, in float32. Reference:
every term and sum in double (sigdump). H1: each a-b, (a-b)^2, a*b, a^2,
b^2 rounded to float32, summed in double. H2: the same terms summed in a
float32 accumulator, in order. Prints, per tensor size, the share of layers
whose printed line differs and by how many units of the 6th decimal.

usage: python3 bench/float32_printed_digits.py [SEED]   (docs/compare.md, "No
--arith float32 mode")
"""
import math, random, struct, sys

F = struct.Struct("f")
def f32(x):
    return F.unpack(F.pack(x))[0]

def metrics(a, b, mode):
    n = len(a)
    acc = (lambda s, t: f32(s + t)) if mode == "H2" else (lambda s, t: s + t)
    term = f32 if mode in ("H1", "H2") else (lambda x: x)
    d2 = ab = a2 = b2 = ad = ab_ = 0.0
    for x, y in zip(a, b):
        d = term(x - y)
        d2 = acc(d2, term(d * d)); ab = acc(ab, term(x * y))
        a2 = acc(a2, term(x * x)); b2 = acc(b2, term(y * y))
        ad = acc(ad, abs(d)); ab_ = acc(ab_, abs(y))
    mse = d2 / n
    cos = ab / (math.sqrt(a2) * math.sqrt(b2))
    rmse = ad / ab_
    return ["%f" % v for v in (mse, cos, rmse)]

def layer(rng, n):
    b = [f32(rng.gauss(0, 1) * rng.choice((0.05, 1, 20))) for _ in range(n)]
    lo, hi = min(b), max(b)
    s = f32((hi - lo) / 255) or 1.0
    a = [f32(round((y - lo) / s) * s + lo) for y in b]
    return a, b

def main():
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    rng = random.Random(seed)
    for n, count in ((16, 4000), (64, 4000), (256, 2000), (1024, 600), (4096, 150)):
        diff = {"H1": 0, "H2": 0}
        worst = {"H1": 0, "H2": 0}
        for _ in range(count):
            a, b = layer(rng, n)
            ref = metrics(a, b, "double")
            for h in ("H1", "H2"):
                got = metrics(a, b, h)
                if got != ref:
                    diff[h] += 1
                    worst[h] = max(worst[h], max(round(abs(float(g) - float(r)) * 1e6)
                                                 for g, r in zip(got, ref)))
        print("n=%5d layers=%5d  H1 (float32 terms, double sums): %6.2f%% differ, max %d in the "
              "6th decimal  H2 (float32 sums): %6.2f%% differ, max %d"
              % (n, count, 100.0 * diff["H1"] / count, worst["H1"], 100.0 * diff["H2"] / count,
                 worst["H2"]), flush=True)

if __name__ == "__main__":
    main()
