// The miniature network and its two inference modes. The fixed mode follows
// the usual integer pipeline of a PTQ deployment: per-tensor asymmetric UINT8
// (or symmetric INT16) activations calibrated on a float run, per-tensor
// symmetric INT8 weights, INT32 biases at scale s_in * s_w, integer MACs and a
// requantization through a fixed-point multiplier (mantissa + shift).
#include "sim_network.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace sigdump::sim {
namespace {

// ---------------------------------------------------------------- network

enum class op_kind : std::uint8_t { input, conv, dwconv, add, relu, maxpool, avgpool, fc, softmax };

struct op_def {
  op_kind kind = op_kind::input;
  std::string type;                 // vendor op type on line 2
  std::string layer;                // prefix of the constants' names
  std::vector<std::string> inputs;  // activation inputs
  std::string output;
  int k = 1, stride = 1, pad = 0, out_c = 0;
  bool relu = false;
  std::vector<float> w, b;
  std::vector<std::int64_t> w_shape;
};

struct splitmix64 {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [-1, 1), exact in float (24 random bits).
  float uniform() { return static_cast<float>(next() >> 40) * (2.0f / 16777216.0f) - 1.0f; }
};

constexpr int image_size = 32;
constexpr int image_channels = 3;
// Channels of conv3_1/expand whose weights have a large gain: they make the
// breaking convolution's input range ~100x wider than most of its channels.
constexpr int outlier_channels[] = {5, 21};
constexpr float outlier_gain = 4.0f;
constexpr float outlier_bias = 500.0f;

void fill(std::vector<float>& v, std::size_t n, float bound, splitmix64& rng) {
  v.resize(n);
  for (auto& x : v) x = rng.uniform() * bound;
}

op_def make_conv(op_kind kind, std::string layer, std::string in, std::string out, int in_c,
                 int out_c, int k, int stride, bool relu, std::uint64_t seed) {
  op_def op;
  op.kind = kind;
  op.type = kind == op_kind::dwconv ? "DEPTHWISE_CONV_2D"
            : kind == op_kind::fc   ? "FULLY_CONNECTED"
                                    : "CONV_2D";
  op.layer = std::move(layer);
  op.inputs = {std::move(in)};
  op.output = std::move(out);
  op.k = k;
  op.stride = stride;
  op.pad = k / 2;
  op.out_c = out_c;
  op.relu = relu;
  splitmix64 rng{seed};
  if (kind == op_kind::dwconv) {
    op.w_shape = {1, k, k, out_c};
    fill(op.w, static_cast<std::size_t>(k * k * out_c), std::sqrt(6.0f / static_cast<float>(k * k)),
         rng);
  } else if (kind == op_kind::fc) {
    op.w_shape = {out_c, in_c};
    fill(op.w, static_cast<std::size_t>(out_c * in_c),
         3.0f * std::sqrt(6.0f / static_cast<float>(in_c)), rng);
  } else {
    op.w_shape = {out_c, k, k, in_c};
    fill(op.w, static_cast<std::size_t>(out_c * k * k * in_c),
         std::sqrt(6.0f / static_cast<float>(k * k * in_c)), rng);
  }
  fill(op.b, static_cast<std::size_t>(out_c), 0.1f, rng);
  return op;
}

op_def make_simple(op_kind kind, std::string type, std::vector<std::string> in, std::string out,
                   int k = 1) {
  op_def op;
  op.kind = kind;
  op.type = std::move(type);
  op.inputs = std::move(in);
  op.output = std::move(out);
  op.k = k;
  op.stride = k;
  return op;
}

std::vector<op_def> build_network() {
  std::vector<op_def> net;
  net.push_back(make_simple(op_kind::input, "INPUT", {}, "data"));
  net.push_back(make_conv(op_kind::conv, "conv1", "data", "conv1/bn_xx_xx", 3, 16, 3, 2, true, 11));
  net.push_back(make_conv(op_kind::dwconv, "conv2_1/dwise", "conv1/bn_xx_xx",
                          "conv2_1/dwise/bn_xx_xx", 16, 16, 3, 1, true, 12));
  net.push_back(make_conv(op_kind::conv, "conv2_1/linear", "conv2_1/dwise/bn_xx_xx",
                          "conv2_1/linear/bn_xx", 16, 16, 1, 1, false, 13));
  net.push_back(
      make_simple(op_kind::add, "ADD", {"conv1/bn_xx_xx", "conv2_1/linear/bn_xx"}, "block_2_1"));
  net.push_back(make_simple(op_kind::relu, "RELU", {"block_2_1"}, "relu2_1"));
  net.push_back(make_simple(op_kind::maxpool, "MAX_POOL_2D", {"relu2_1"}, "pool2", 2));

  op_def expand =
      make_conv(op_kind::conv, "conv3_1/expand", "pool2", breaking_input, 16, 32, 1, 1, true, 14);
  for (int oc : outlier_channels) {
    // Larger gain and a large positive bias: these channels are always on
    // and ~100x the others. The bias (INT32) carries most of the size, so
    // the per-tensor INT8 weights of this layer keep their precision.
    for (int ic = 0; ic < 16; ++ic)
      expand.w[static_cast<std::size_t>(oc * 16 + ic)] *= outlier_gain;
    expand.b[static_cast<std::size_t>(oc)] = outlier_bias;
  }
  net.push_back(std::move(expand));

  op_def linear = make_conv(op_kind::conv, "conv3_1/linear", breaking_input, breaking_layer, 32, 32,
                            3, 1, false, 15);
  {
    // The outlier channels take part only through a few taps of the smallest
    // INT8 weight step, so the output is carried mostly by the small channels
    // that UINT8 quantization of the input crushes (its step is ~2, their
    // values 0..3), while the weights stay exactly representable in INT8.
    float max_abs = 0;
    for (float w : linear.w) max_abs = std::max(max_abs, std::fabs(w));
    const float step = max_abs / 127.0f;
    splitmix64 rng{16};
    for (int oc = 0; oc < 32; ++oc) {
      for (int t = 0; t < 9; ++t) {
        for (int ic : outlier_channels) {
          const auto r = rng.next() % 12;  // one tap in six is +-1 step
          const float sign = r == 0 ? 1.0f : r == 1 ? -1.0f : 0.0f;
          linear.w[static_cast<std::size_t>((oc * 9 + t) * 32 + ic)] = sign * step;
        }
      }
    }
  }
  net.push_back(std::move(linear));
  net.push_back(make_conv(op_kind::conv, "conv3_2", breaking_layer, "conv3_2/bn_xx_xx", 32, 32, 1,
                          1, true, 17));
  net.push_back(make_simple(op_kind::avgpool, "AVERAGE_POOL_2D", {"conv3_2/bn_xx_xx"}, "pool5"));
  net.push_back(make_conv(op_kind::fc, "fc6", "pool5", "fc6", 32, 10, 1, 1, false, 18));
  net.push_back(make_simple(op_kind::softmax, "SOFTMAX", {"fc6"}, "prob"));
  return net;
}

const std::vector<op_def>& network() {
  static const std::vector<op_def> net = build_network();
  return net;
}

// A synthetic 32x32 RGB picture: gradients, a disc, a box and stripes.
std::vector<std::uint8_t> bundled_image() {
  std::vector<std::uint8_t> px(image_size * image_size * image_channels);
  for (int y = 0; y < image_size; ++y) {
    for (int x = 0; x < image_size; ++x) {
      int r = 8 * x, g = 8 * y, b = 96 + 2 * (x + y);
      const int dx = x - 11, dy = y - 12;
      if (dx * dx + dy * dy <= 49) r = 230, g = 40, b = 60;
      if (x >= 18 && x <= 28 && y >= 16 && y <= 27) r = 30, g = 200, b = 90;
      if (x > 20 && y < 12 && (x + y) % 6 < 3) b = 250;
      auto* p = &px[static_cast<std::size_t>((y * image_size + x) * image_channels)];
      p[0] = static_cast<std::uint8_t>(std::clamp(r, 0, 255));
      p[1] = static_cast<std::uint8_t>(std::clamp(g, 0, 255));
      p[2] = static_cast<std::uint8_t>(std::clamp(b, 0, 255));
    }
  }
  return px;
}

// ---------------------------------------------------------------- float

struct ftensor {
  std::vector<std::int64_t> shape;
  std::vector<float> v;
};

int dim(const std::vector<std::int64_t>& s, std::size_t i) { return static_cast<int>(s[i]); }

ftensor conv_f(const ftensor& x, const op_def& op) {
  const int h = dim(x.shape, 1), w = dim(x.shape, 2), c = dim(x.shape, 3);
  const bool dw = op.kind == op_kind::dwconv;
  const int oh = (h + 2 * op.pad - op.k) / op.stride + 1,
            ow = (w + 2 * op.pad - op.k) / op.stride + 1;
  ftensor out{{1, oh, ow, op.out_c},
              std::vector<float>(static_cast<std::size_t>(oh * ow * op.out_c))};
  for (int oy = 0; oy < oh; ++oy) {
    for (int ox = 0; ox < ow; ++ox) {
      for (int oc = 0; oc < op.out_c; ++oc) {
        float acc = op.b[static_cast<std::size_t>(oc)];
        for (int ky = 0; ky < op.k; ++ky) {
          const int iy = oy * op.stride - op.pad + ky;
          if (iy < 0 || iy >= h) continue;
          for (int kx = 0; kx < op.k; ++kx) {
            const int ix = ox * op.stride - op.pad + kx;
            if (ix < 0 || ix >= w) continue;
            const float* in = &x.v[static_cast<std::size_t>((iy * w + ix) * c)];
            if (dw) {
              acc += in[oc] * op.w[static_cast<std::size_t>((ky * op.k + kx) * c + oc)];
            } else {
              const float* wt = &op.w[static_cast<std::size_t>(((oc * op.k + ky) * op.k + kx) * c)];
              for (int ic = 0; ic < c; ++ic) acc += in[ic] * wt[ic];
            }
          }
        }
        if (op.relu) acc = std::max(acc, 0.0f);
        out.v[static_cast<std::size_t>((oy * ow + ox) * op.out_c + oc)] = acc;
      }
    }
  }
  return out;
}

ftensor fc_f(const ftensor& x, const op_def& op) {
  const auto n = static_cast<int>(x.v.size());
  ftensor out{{1, op.out_c}, std::vector<float>(static_cast<std::size_t>(op.out_c))};
  for (int o = 0; o < op.out_c; ++o) {
    float acc = op.b[static_cast<std::size_t>(o)];
    for (int i = 0; i < n; ++i)
      acc += x.v[static_cast<std::size_t>(i)] * op.w[static_cast<std::size_t>(o * n + i)];
    out.v[static_cast<std::size_t>(o)] = acc;
  }
  return out;
}

ftensor maxpool_f(const ftensor& x, int k) {
  const int h = dim(x.shape, 1), w = dim(x.shape, 2), c = dim(x.shape, 3);
  const int oh = h / k, ow = w / k;
  ftensor out{{1, oh, ow, c}, std::vector<float>(static_cast<std::size_t>(oh * ow * c))};
  for (int oy = 0; oy < oh; ++oy)
    for (int ox = 0; ox < ow; ++ox)
      for (int ch = 0; ch < c; ++ch) {
        float m = -std::numeric_limits<float>::infinity();
        for (int ky = 0; ky < k; ++ky)
          for (int kx = 0; kx < k; ++kx)
            m = std::max(m,
                         x.v[static_cast<std::size_t>(((oy * k + ky) * w + ox * k + kx) * c + ch)]);
        out.v[static_cast<std::size_t>((oy * ow + ox) * c + ch)] = m;
      }
  return out;
}

ftensor avgpool_f(const ftensor& x) {
  const int h = dim(x.shape, 1), w = dim(x.shape, 2), c = dim(x.shape, 3);
  ftensor out{{1, 1, 1, c}, std::vector<float>(static_cast<std::size_t>(c))};
  for (int ch = 0; ch < c; ++ch) {
    float s = 0;
    for (int i = 0; i < h * w; ++i) s += x.v[static_cast<std::size_t>(i * c + ch)];
    out.v[static_cast<std::size_t>(ch)] = s / static_cast<float>(h * w);
  }
  return out;
}

std::vector<float> softmax(const std::vector<float>& x) {
  const float m = *std::max_element(x.begin(), x.end());
  std::vector<float> out(x.size());
  double sum = 0;
  for (std::size_t i = 0; i < x.size(); ++i) sum += std::exp(static_cast<double>(x[i] - m));
  for (std::size_t i = 0; i < x.size(); ++i)
    out[i] = static_cast<float>(std::exp(static_cast<double>(x[i] - m)) / sum);
  return out;
}

ftensor input_f() {
  const auto px = bundled_image();
  ftensor t{{1, image_size, image_size, image_channels}, std::vector<float>(px.size())};
  for (std::size_t i = 0; i < px.size(); ++i)
    t.v[i] = (static_cast<float>(px[i]) - 127.5f) / 127.5f;
  return t;
}

std::map<std::string, ftensor> run_float() {
  std::map<std::string, ftensor> t;
  for (const auto& op : network()) {
    ftensor out;
    switch (op.kind) {
      case op_kind::input: out = input_f(); break;
      case op_kind::conv:
      case op_kind::dwconv: out = conv_f(t.at(op.inputs[0]), op); break;
      case op_kind::fc: out = fc_f(t.at(op.inputs[0]), op); break;
      case op_kind::add: {
        out = t.at(op.inputs[0]);
        const auto& b = t.at(op.inputs[1]).v;
        for (std::size_t i = 0; i < out.v.size(); ++i) out.v[i] += b[i];
        break;
      }
      case op_kind::relu:
        out = t.at(op.inputs[0]);
        for (auto& v : out.v) v = std::max(v, 0.0f);
        break;
      case op_kind::maxpool: out = maxpool_f(t.at(op.inputs[0]), op.k); break;
      case op_kind::avgpool: out = avgpool_f(t.at(op.inputs[0])); break;
      case op_kind::softmax:
        out = t.at(op.inputs[0]);
        out.v = softmax(out.v);
        break;
    }
    t[op.output] = std::move(out);
  }
  return t;
}

// ---------------------------------------------------------------- fixed

struct qparams {
  dtype type = dtype::u8;
  double scale = 1.0;
  std::int64_t zero = 0;
  std::int64_t lo = 0, hi = 255;
};

struct qtensor {
  std::vector<std::int64_t> shape;
  std::vector<std::int32_t> q;
  qparams p;
};

// Per-tensor calibration: range widened to include 0 (so 0 is exact).
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

std::int32_t quantize_value(double real, const qparams& p) {
  return saturate(std::llround(real / p.scale) + p.zero, p.lo, p.hi);
}

struct qweights {
  double w_scale = 1.0, b_scale = 1.0;
  std::vector<std::int32_t> w, b;
};

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

// ---------------------------------------------------------------- records

sim_tensor float_tensor(const std::string& name, const ftensor& t) {
  sim_tensor s;
  s.name = name;
  s.shape = t.shape;
  s.real = t.v;
  return s;
}

sim_tensor fixed_tensor(const std::string& name, std::vector<std::int64_t> shape,
                        std::vector<std::int32_t> q, dtype type, double scale, std::int64_t zero,
                        bool constant) {
  sim_tensor s;
  s.name = name;
  s.shape = std::move(shape);
  s.constant = constant;
  s.type = type;
  s.scale = scale;
  s.zero_point = zero;
  s.real.resize(q.size());
  for (std::size_t i = 0; i < q.size(); ++i)
    s.real[i] = static_cast<float>(static_cast<double>(q[i] - zero) * scale);
  s.q = std::move(q);
  return s;
}

sim_tensor fixed_tensor(const std::string& name, const qtensor& t) {
  return fixed_tensor(name, t.shape, t.q, t.p.type, t.p.scale, t.p.zero, false);
}

std::vector<std::int64_t> bias_shape(const op_def& op) { return {op.out_c}; }

}  // namespace

std::vector<std::string> tensor_names() {
  std::vector<std::string> out;
  for (const auto& op : network()) out.push_back(op.output);
  return out;
}

std::vector<std::string> conv_input_tensors() {
  std::vector<std::string> out;
  for (const auto& op : network())
    if (op.kind == op_kind::conv || op.kind == op_kind::dwconv) out.push_back(op.inputs[0]);
  return out;
}

std::vector<sim_layer> run_network(const sim_config& config) {
  const auto ref = run_float();
  std::vector<sim_layer> layers;
  const auto& net = network();
  layers.reserve(net.size());

  if (!config.fixed) {
    for (std::size_t i = 0; i < net.size(); ++i) {
      const op_def& op = net[i];
      sim_layer l;
      l.op_index = static_cast<std::int64_t>(i);
      l.op_type = op.type;
      for (const auto& in : op.inputs) l.inputs.push_back(float_tensor(in, ref.at(in)));
      if (!op.w.empty()) {
        sim_tensor w = float_tensor(op.layer + "/weights", {op.w_shape, op.w});
        sim_tensor b = float_tensor(op.layer + "/bias", {bias_shape(op), op.b});
        w.constant = b.constant = true;
        l.inputs.push_back(std::move(w));
        l.inputs.push_back(std::move(b));
      }
      l.output = float_tensor(op.output, ref.at(op.output));
      layers.push_back(std::move(l));
    }
    return layers;
  }

  // INT16 applies only to inputs of convolutions after the first.
  const auto conv_inputs = conv_input_tensors();
  std::set<std::string> int16;
  for (std::size_t i = 1; i < conv_inputs.size(); ++i)
    if (config.int16.contains(conv_inputs[i])) int16.insert(conv_inputs[i]);

  std::map<std::string, qtensor> t;
  for (std::size_t i = 0; i < net.size(); ++i) {
    const op_def& op = net[i];
    const qparams op_p = calibrate(ref.at(op.output).v, int16.contains(op.output));
    sim_layer l;
    l.op_index = static_cast<std::int64_t>(i);
    l.op_type = op.type;
    for (const auto& in : op.inputs) l.inputs.push_back(fixed_tensor(in, t.at(in)));
    qtensor out;
    switch (op.kind) {
      case op_kind::input: {
        const auto& v = ref.at(op.output);
        out = {v.shape, std::vector<std::int32_t>(v.v.size()), op_p};
        for (std::size_t k = 0; k < v.v.size(); ++k) out.q[k] = quantize_value(v.v[k], op_p);
        break;
      }
      case op_kind::conv:
      case op_kind::dwconv:
      case op_kind::fc: {
        const qtensor& x = t.at(op.inputs[0]);
        const qweights qw = quantize_weights(op, x.p.scale);
        out = op.kind == op_kind::fc ? fc_q(x, op, qw, op_p) : conv_q(x, op, qw, op_p);
        l.inputs.push_back(
            fixed_tensor(op.layer + "/weights", op.w_shape, qw.w, dtype::s8, qw.w_scale, 0, true));
        l.inputs.push_back(fixed_tensor(op.layer + "/bias", bias_shape(op), qw.b, dtype::s32,
                                        qw.b_scale, 0, true));
        break;
      }
      case op_kind::add: out = add_q(t.at(op.inputs[0]), t.at(op.inputs[1]), op_p); break;
      case op_kind::relu: out = relu_q(t.at(op.inputs[0]), op_p); break;
      case op_kind::maxpool: out = maxpool_q(t.at(op.inputs[0]), op.k, op_p); break;
      case op_kind::avgpool: out = avgpool_q(t.at(op.inputs[0]), op_p); break;
      case op_kind::softmax: out = softmax_q(t.at(op.inputs[0]), op_p); break;
    }
    l.output = fixed_tensor(op.output, out);
    t[op.output] = std::move(out);
    layers.push_back(std::move(l));
  }
  return layers;
}

result<int16_choice> resolve_int16(const std::vector<std::string>& names, bool all_int16) {
  const auto conv_inputs = conv_input_tensors();
  const auto outputs = tensor_names();
  int16_choice choice;
  if (all_int16) choice.applied.insert(conv_inputs.begin() + 1, conv_inputs.end());
  for (const auto& name : names) {
    if (std::find(outputs.begin(), outputs.end(), name) == outputs.end()) {
      std::string known;
      for (std::size_t i = 1; i < conv_inputs.size(); ++i)
        known += (i > 1 ? ", " : "") + conv_inputs[i];
      return make_error(errc::usage, {}, no_record, no_offset,
                        "no tensor named '" + name +
                            "' in the simulated network; convolution inputs are: " + known);
    }
    if (name == conv_inputs.front()) {
      choice.warnings.push_back(
          "'" + name + "' is the input of the first convolution: INT16 has no effect there");
    } else if (std::find(conv_inputs.begin(), conv_inputs.end(), name) == conv_inputs.end()) {
      choice.warnings.push_back("'" + name +
                                "' is not the input of a convolution: INT16 has no effect there");
    } else {
      choice.applied.insert(name);
    }
  }
  return choice;
}

sim_metrics vendor_metrics(std::span<const float> sample, std::span<const float> bench) noexcept {
  const std::size_t n = std::min(sample.size(), bench.size());
  double se = 0, ab = 0, aa = 0, bb = 0, ad = 0, abs_b = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double a = sample[i], b = bench[i];
    se += (a - b) * (a - b);
    ab += a * b;
    aa += a * a;
    bb += b * b;
    ad += std::fabs(a - b);
    abs_b += std::fabs(b);
  }
  sim_metrics m;
  m.mse = n ? se / static_cast<double>(n) : 0;
  m.cos = aa > 0 && bb > 0 ? ab / (std::sqrt(aa) * std::sqrt(bb)) : 0;
  m.rmse = abs_b > 0 ? ad / abs_b : 0;
  return m;
}

}  // namespace sigdump::sim
