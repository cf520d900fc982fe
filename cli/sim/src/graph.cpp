// The network: plain, depthwise and 1x1 convolutions, a residual ADD,
// pooling and a classifier, with seeded weights and two outlier channels
// that make one convolution's input hard to quantize in 8 bits.
#include "graph.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "sigdump/sim/network.h"

namespace sigdump::sim::detail {

namespace {

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

}  // namespace

const std::vector<op_def>& network() {
  static const std::vector<op_def> net = build_network();
  return net;
}

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

}  // namespace sigdump::sim::detail
