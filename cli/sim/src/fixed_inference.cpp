// The fixed-point emulation. It follows the usual integer pipeline of a PTQ
// deployment: per-tensor asymmetric UINT8 (or symmetric INT16) activations
// calibrated on a float run, per-tensor symmetric INT8 weights, INT32
// biases at scale s_in * s_w, integer MACs and a requantization through a
// fixed-point multiplier (mantissa + shift).
#include "fixed_inference.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "float_inference.h"

namespace sigdump::sim::detail {

namespace {

// A real multiplier M as a Q31 mantissa m and an exponent: M ~ m * 2^(shift - 31).
struct multiplier {
  std::int64_t m = 0;
  int shift = 0;
};

multiplier make_multiplier(double real) {
  if (real <= 0) return {};
  int e = 0;
  const double f = std::frexp(real, &e);  // real = f * 2^e, f in [0.5, 1)
  auto m = std::llround(f * 2147483648.0);
  if (m == 2147483648LL) m /= 2, ++e;
  return {m, e};
}

// x * M with round-half-away-from-zero, in 128-bit so no accumulator overflows.
std::int64_t apply(std::int64_t x, multiplier mul) {
  const __int128 p = static_cast<__int128>(x) * mul.m;
  const int rs = 31 - mul.shift;
  __int128 r;
  if (rs <= 0) {
    r = p * (static_cast<__int128>(1) << std::min(-rs, 62));
  } else if (rs >= 120) {
    r = 0;
  } else {
    const __int128 half = static_cast<__int128>(1) << (rs - 1);
    r = p >= 0 ? (p + half) >> rs : -((-p + half) >> rs);
  }
  constexpr auto big = static_cast<__int128>(std::numeric_limits<std::int32_t>::max()) * 4;
  return static_cast<std::int64_t>(std::clamp(r, -big, big));
}

std::int32_t saturate(std::int64_t v, std::int64_t lo, std::int64_t hi) {
  return static_cast<std::int32_t>(std::clamp(v, lo, hi));
}

}  // namespace

qparams calibrate(const std::vector<float>& v, bool int16) {
  float mn = 0, mx = 0;
  for (float x : v) mn = std::min(mn, x), mx = std::max(mx, x);
  qparams p;
  if (int16) {
    const double m =
        std::max(std::fabs(static_cast<double>(mn)), std::fabs(static_cast<double>(mx)));
    p = {dtype::s16, m > 0 ? m / 32767.0 : 1.0, 0, -32768, 32767};
  } else {
    const double range = static_cast<double>(mx) - static_cast<double>(mn);
    const double s = range > 0 ? range / 255.0 : 1.0;
    const auto z = std::clamp<std::int64_t>(std::llround(-static_cast<double>(mn) / s), 0, 255);
    p = {dtype::u8, s, z, 0, 255};
  }
  return p;
}

std::int32_t quantize_value(double real, const qparams& p) {
  return saturate(std::llround(real / p.scale) + p.zero, p.lo, p.hi);
}

qweights quantize_weights(const op_def& op, double in_scale) {
  qweights q;
  float max_abs = 0;
  for (float w : op.w) max_abs = std::max(max_abs, std::fabs(w));
  q.w_scale = max_abs > 0 ? static_cast<double>(max_abs) / 127.0 : 1.0;
  q.b_scale = in_scale * q.w_scale;
  q.w.reserve(op.w.size());
  for (float w : op.w)
    q.w.push_back(saturate(std::llround(static_cast<double>(w) / q.w_scale), -127, 127));
  q.b.reserve(op.b.size());
  for (float b : op.b)
    q.b.push_back(saturate(std::llround(static_cast<double>(b) / q.b_scale),
                           std::numeric_limits<std::int32_t>::min(),
                           std::numeric_limits<std::int32_t>::max()));
  return q;
}

qtensor conv_q(const qtensor& x, const op_def& op, const qweights& qw, const qparams& op_p) {
  const int h = dim(x.shape, 1), w = dim(x.shape, 2), c = dim(x.shape, 3);
  const bool dw = op.kind == op_kind::dwconv;
  const int oh = (h + 2 * op.pad - op.k) / op.stride + 1,
            ow = (w + 2 * op.pad - op.k) / op.stride + 1;
  qtensor out{{1, oh, ow, op.out_c},
              std::vector<std::int32_t>(static_cast<std::size_t>(oh * ow * op.out_c)),
              op_p};
  const multiplier mul = make_multiplier(x.p.scale * qw.w_scale / op_p.scale);
  const std::int64_t lo = op.relu ? std::max(op_p.lo, op_p.zero) : op_p.lo;
  const std::int64_t zx = x.p.zero;
  for (int oy = 0; oy < oh; ++oy) {
    for (int ox = 0; ox < ow; ++ox) {
      for (int oc = 0; oc < op.out_c; ++oc) {
        std::int64_t acc = qw.b[static_cast<std::size_t>(oc)];
        for (int ky = 0; ky < op.k; ++ky) {
          const int iy = oy * op.stride - op.pad + ky;
          if (iy < 0 || iy >= h) continue;  // padding holds the zero point: adds nothing
          for (int kx = 0; kx < op.k; ++kx) {
            const int ix = ox * op.stride - op.pad + kx;
            if (ix < 0 || ix >= w) continue;
            const std::int32_t* in = &x.q[static_cast<std::size_t>((iy * w + ix) * c)];
            if (dw) {
              acc += (in[oc] - zx) * qw.w[static_cast<std::size_t>((ky * op.k + kx) * c + oc)];
            } else {
              const std::int32_t* wt =
                  &qw.w[static_cast<std::size_t>(((oc * op.k + ky) * op.k + kx) * c)];
              for (int ic = 0; ic < c; ++ic) acc += (in[ic] - zx) * wt[ic];
            }
          }
        }
        out.q[static_cast<std::size_t>((oy * ow + ox) * op.out_c + oc)] =
            saturate(op_p.zero + apply(acc, mul), lo, op_p.hi);
      }
    }
  }
  return out;
}

qtensor fc_q(const qtensor& x, const op_def& op, const qweights& qw, const qparams& op_p) {
  const auto n = static_cast<int>(x.q.size());
  qtensor out{{1, op.out_c}, std::vector<std::int32_t>(static_cast<std::size_t>(op.out_c)), op_p};
  const multiplier mul = make_multiplier(x.p.scale * qw.w_scale / op_p.scale);
  for (int o = 0; o < op.out_c; ++o) {
    std::int64_t acc = qw.b[static_cast<std::size_t>(o)];
    for (int i = 0; i < n; ++i)
      acc +=
          (x.q[static_cast<std::size_t>(i)] - x.p.zero) * qw.w[static_cast<std::size_t>(o * n + i)];
    out.q[static_cast<std::size_t>(o)] = saturate(op_p.zero + apply(acc, mul), op_p.lo, op_p.hi);
  }
  return out;
}

// Both operands brought to a common scale with 20 bits of headroom, summed,
// then rescaled to the output: an integer-only ADD.
qtensor add_q(const qtensor& a, const qtensor& b, const qparams& op_p) {
  constexpr int left = 20;
  const double twice_max = 2 * std::max(a.p.scale, b.p.scale);
  const multiplier ma = make_multiplier(a.p.scale / twice_max);
  const multiplier mb = make_multiplier(b.p.scale / twice_max);
  const multiplier mo = make_multiplier(twice_max / (static_cast<double>(1 << left) * op_p.scale));
  qtensor out{a.shape, std::vector<std::int32_t>(a.q.size()), op_p};
  for (std::size_t i = 0; i < a.q.size(); ++i) {
    const std::int64_t sa = apply((a.q[i] - a.p.zero) * (std::int64_t{1} << left), ma);
    const std::int64_t sb = apply((b.q[i] - b.p.zero) * (std::int64_t{1} << left), mb);
    out.q[i] = saturate(op_p.zero + apply(sa + sb, mo), op_p.lo, op_p.hi);
  }
  return out;
}

qtensor relu_q(const qtensor& x, const qparams& op_p) {
  const multiplier mul = make_multiplier(x.p.scale / op_p.scale);
  qtensor out{x.shape, std::vector<std::int32_t>(x.q.size()), op_p};
  for (std::size_t i = 0; i < x.q.size(); ++i) {
    const std::int64_t v = std::max<std::int64_t>(x.q[i] - x.p.zero, 0);
    out.q[i] = saturate(op_p.zero + apply(v, mul), std::max(op_p.lo, op_p.zero), op_p.hi);
  }
  return out;
}

qtensor maxpool_q(const qtensor& x, int k, const qparams& op_p) {
  const int h = dim(x.shape, 1), w = dim(x.shape, 2), c = dim(x.shape, 3);
  const int oh = h / k, ow = w / k;
  const multiplier mul = make_multiplier(x.p.scale / op_p.scale);
  qtensor out{
      {1, oh, ow, c}, std::vector<std::int32_t>(static_cast<std::size_t>(oh * ow * c)), op_p};
  for (int oy = 0; oy < oh; ++oy)
    for (int ox = 0; ox < ow; ++ox)
      for (int ch = 0; ch < c; ++ch) {
        std::int32_t m = std::numeric_limits<std::int32_t>::min();
        for (int ky = 0; ky < k; ++ky)
          for (int kx = 0; kx < k; ++kx)
            m = std::max(m,
                         x.q[static_cast<std::size_t>(((oy * k + ky) * w + ox * k + kx) * c + ch)]);
        out.q[static_cast<std::size_t>((oy * ow + ox) * c + ch)] =
            saturate(op_p.zero + apply(m - x.p.zero, mul), op_p.lo, op_p.hi);
      }
  return out;
}

qtensor avgpool_q(const qtensor& x, const qparams& op_p) {
  const int h = dim(x.shape, 1), w = dim(x.shape, 2), c = dim(x.shape, 3);
  const multiplier mul = make_multiplier(x.p.scale / (op_p.scale * h * w));
  qtensor out{{1, 1, 1, c}, std::vector<std::int32_t>(static_cast<std::size_t>(c)), op_p};
  for (int ch = 0; ch < c; ++ch) {
    std::int64_t s = 0;
    for (int i = 0; i < h * w; ++i) s += x.q[static_cast<std::size_t>(i * c + ch)] - x.p.zero;
    out.q[static_cast<std::size_t>(ch)] = saturate(op_p.zero + apply(s, mul), op_p.lo, op_p.hi);
  }
  return out;
}

// Softmax reads the dequantized logits (as the hardware's lookup table
// does) and requantizes the probabilities.
qtensor softmax_q(const qtensor& x, const qparams& op_p) {
  std::vector<float> logits(x.q.size());
  for (std::size_t i = 0; i < x.q.size(); ++i)
    logits[i] = static_cast<float>(static_cast<double>(x.q[i] - x.p.zero) * x.p.scale);
  const auto probs = softmax(logits);
  qtensor out{x.shape, std::vector<std::int32_t>(probs.size()), op_p};
  for (std::size_t i = 0; i < probs.size(); ++i) out.q[i] = quantize_value(probs[i], op_p);
  return out;
}

}  // namespace sigdump::sim::detail
