// Private: the network's definition: its ops in execution order with
// their deterministic weights, and the bundled input picture.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sigdump::sim::detail {

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

/* The ops in execution order, built once. */
const std::vector<op_def>& network();

inline constexpr int image_size = 32;
inline constexpr int image_channels = 3;

/* A synthetic image_size x image_size RGB picture (HWC bytes): gradients, a
   disc, a box and stripes. */
std::vector<std::uint8_t> bundled_image();

/* Dimension i of a shape as an int (the network's shapes are small). */
inline int dim(const std::vector<std::int64_t>& s, std::size_t i) { return static_cast<int>(s[i]); }

}  // namespace sigdump::sim::detail
