// The dump pairs the comparison benchmarks run on, written with
// dump_writer: shared by compare_bench (in-process) and make_bench_pair
// (files for whole-process timings of `sigdump compare`).
//   f32    float32 layers of 2 Mi elements, [1,128,128,128] on both sides
//   quant  the same layers as isFloat: 0 dumps: u8, s8 and s16 in turn,
//          dequantized with their scale and zero point
//   nchw   float32 layers, sample NHWC [1,64,128,256], benchmark NCHW
//          [1,256,64,128]: the benchmark is read transposed
// The sample is the benchmark plus a little noise that grows with the layer.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sigdump/dump_writer.h"

namespace sigdump::bench {

inline constexpr std::int64_t pair_layer_elements = std::int64_t{2} << 20;  // 2 Mi

enum class pair_kind { f32, quant, nchw };

inline const char* pair_kind_name(pair_kind k) {
  switch (k) {
    case pair_kind::f32: return "f32";
    case pair_kind::quant: return "quant";
    case pair_kind::nchw: return "nchw";
  }
  return "f32";
}

inline bool parse_pair_kind(std::string_view s, pair_kind& out) {
  for (pair_kind k : {pair_kind::f32, pair_kind::quant, pair_kind::nchw}) {
    if (s == pair_kind_name(k)) {
      out = k;
      return true;
    }
  }
  return false;
}

// Shapes a transpose tells apart: [N,H,W,C] = [1,64,128,256] for nchw.
inline constexpr std::int64_t nchw_h = 64, nchw_w = 128, nchw_c = 256;

/* Writes one side (the sample when `sample`) of a pair of `layers` layers. */
inline bool write_pair_side(pair_kind kind, int layers, const std::string& path, bool sample) {
  constexpr dtype quant_types[] = {dtype::u8, dtype::s8, dtype::s16};
  writer_options wo;
  wo.is_float = kind != pair_kind::quant;
  auto w = dump_writer::create(path, wo);
  if (!w) return false;
  std::vector<float> v(static_cast<std::size_t>(pair_layer_elements)), t;
  std::uint32_t state = 12345;
  for (int l = 0; l < layers; ++l) {
    std::uint32_t noise_state = 777u + static_cast<std::uint32_t>(l);
    for (auto& x : v) {
      state = state * 1664525u + 1013904223u;
      x = static_cast<float>(state >> 8) * (1.0f / 16777216.0f) - 0.5f;
      if (sample) {
        noise_state = noise_state * 22695477u + 1u;
        x += static_cast<float>(noise_state >> 8) * (0.01f / 16777216.0f) *
             static_cast<float>(l % 8);
      }
    }
    tensor_spec s;
    s.name = "layer" + std::to_string(l) + "/conv:0";
    s.op_index = l;
    s.shape = {1, 128, 128, 128};
    if (kind == pair_kind::quant) {
      s.type = quant_types[l % 3];
      s.scale = s.type == dtype::s16 ? 1.0 / 32768 : 1.0 / 128;
      s.zero_point = s.type == dtype::u8 ? 128 : 0;
    }
    std::span<const float> values = v;
    if (kind == pair_kind::nchw) {
      constexpr std::size_t H = nchw_h, W = nchw_w, C = nchw_c;
      if (sample) {
        s.shape = {1, nchw_h, nchw_w, nchw_c};
      } else {
        // The benchmark holds the sample's [N,H,W,C] tensor as [N,C,H,W].
        s.shape = {1, nchw_c, nchw_h, nchw_w};
        t.resize(v.size());
        for (std::size_t h = 0; h < H; ++h)
          for (std::size_t x = 0; x < W; ++x)
            for (std::size_t c = 0; c < C; ++c) t[(c * H + h) * W + x] = v[(h * W + x) * C + c];
        values = t;
      }
    }
    if (!w->write(s, values)) return false;
  }
  return w->close().has_value();
}

}  // namespace sigdump::bench
