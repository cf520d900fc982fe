// The float32 reference: each op computed directly on real values.
#include "float_inference.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "graph.h"

namespace sigdump::sim::detail {

namespace {

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

}  // namespace

std::vector<float> softmax(const std::vector<float>& x) {
  const float m = *std::max_element(x.begin(), x.end());
  std::vector<float> out(x.size());
  double sum = 0;
  for (std::size_t i = 0; i < x.size(); ++i) sum += std::exp(static_cast<double>(x[i] - m));
  for (std::size_t i = 0; i < x.size(); ++i)
    out[i] = static_cast<float>(std::exp(static_cast<double>(x[i] - m)) / sum);
  return out;
}

namespace {

ftensor input_f() {
  const auto px = bundled_image();
  ftensor t{{1, image_size, image_size, image_channels}, std::vector<float>(px.size())};
  for (std::size_t i = 0; i < px.size(); ++i)
    t.v[i] = (static_cast<float>(px[i]) - 127.5f) / 127.5f;
  return t;
}

}  // namespace

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

}  // namespace sigdump::sim::detail
