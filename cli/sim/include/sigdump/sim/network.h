// The built-in miniature IPU simulator's network: a small deterministic
// convolutional network with a compiled-in picture, run as a float32
// reference or as an emulated fixed-point (UINT8 / INT16) pipeline, layer
// by layer. `sigdump simulate` writes its runs (sigdump/sim/writer.h); the
// demo and the tests run that command as a real writer process.
// docs/demo.md describes the network and the layer built to lose precision.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "sigdump/error.h"
#include "sigdump/record.h"

namespace sigdump::sim {

/* The convolution built so that 8-bit quantization of its input loses
   precision, and that input (the tensor to put in INT16). */
inline constexpr const char* breaking_layer = "conv3_1/linear/bn_xx";
inline constexpr const char* breaking_input = "conv3_1/expand/bn_xx_xx";

struct sim_config {
  bool fixed = false;           // false: float32 reference; true: fixed-point emulation
  std::set<std::string> int16;  // fixed: activation tensors quantized SGS_S16 (see resolve_int16)
  bool dequant = false;         // fixed: write float payloads (isFloat: 1), like dequantFixed
};

/* One tensor as the dump shows it. */
struct sim_tensor {
  std::string name;
  std::vector<std::int64_t> shape;
  bool constant = false;
  dtype type = dtype::f32;  // f32 in float mode; u8/s16 activations, s8 weights, s32 biases
  double scale = 1.0;       // real = (q - zero_point) * scale
  std::int64_t zero_point = 0;
  std::vector<float> real;      // real values (fixed mode: dequantized integers)
  std::vector<std::int32_t> q;  // fixed mode: the integers; empty in float mode
};

/* One executed op: its inputs (activations, then constant weights/bias)
   and its single output. */
struct sim_layer {
  std::int64_t op_index = 0;
  std::string op_type;  // CONV_2D, DEPTHWISE_CONV_2D, ADD, ...
  std::vector<sim_tensor> inputs;
  sim_tensor output;
};

/* Runs the network on the bundled picture. Fixed mode calibrates min/max
   of every activation from a float run first (like a PTQ calibrator).
   Deterministic: same config, same bits. Names in config.int16 that are not
   convolution inputs are ignored (resolve_int16 filters them). */
std::vector<sim_layer> run_network(const sim_config& config);

/* Names of the layer outputs in execution order ("data", "conv1/bn_xx_xx", ...). */
std::vector<std::string> tensor_names();

/* First input tensor of every CONV_2D / DEPTHWISE_CONV_2D, in execution
   order ("data" first: the first convolution, on which INT16 has no effect). */
std::vector<std::string> conv_input_tensors();

struct int16_choice {
  std::set<std::string> applied;      // tensors that will be SGS_S16
  std::vector<std::string> warnings;  // names accepted but without effect, and why
};

/* Validates names for INT16 like the vendor's CONV_CONFIG tensor_arrays:
   each must be the input of a convolution other than the first; all_int16
   (input_format=ALL_INT16) selects every such input. Unknown names are a
   usage error; known names that are not convolution inputs are warnings. */
result<int16_choice> resolve_int16(const std::vector<std::string>& names, bool all_int16);

}  // namespace sigdump::sim
