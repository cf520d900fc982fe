// The built-in miniature IPU simulator: a small deterministic convolutional
// network with a compiled-in picture, run as a float32 reference or as an
// emulated fixed-point (UINT8 / INT16) pipeline, and written layer by layer
// in the simulator's dump format (FORMAT.md). Used by `sigdump simulate`,
// by `sigdump demo` in-process, and as "a real writer process" by tests.
// docs/demo.md describes the network and the layer built to lose precision.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "sigdump/dump_writer.h"
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

struct conv_config {
  std::vector<std::string> tensor_arrays;  // tensor_arrays='a,b';
  bool all_int16 = false;                  // input_format=ALL_INT16;
  bool has_section = false;                // a [CONV_CONFIG] section was found
};

/* Reads the [CONV_CONFIG] section of a vendor input_config.ini. A missing
   section is not an error (has_section false); an unreadable file is. */
result<conv_config> read_input_config(const std::string& path);

struct sim_write_options {
  std::chrono::milliseconds pace{0};  // sleep between layers
  std::int64_t cut_after = -1;        // >= 0: write this many records, then half of the next, stop
  int repeat = 1;                     // runs written one after another into the same file
  const std::atomic<bool>* stop = nullptr;  // when set and true, stop between layers
};

/* Writer options the simulator uses: binary, "\n};\n" trailers, isFloat
   from the config (float mode or dequant). */
writer_options simulator_writer_options(const sim_config& config);

/* Writes `layers` through `writer` as the simulator does: per op its
   "//in K" records (inputs, then constants) then "//out 0", each record one
   write(2), pacing between ops. Returns the number of complete records
   written (a cut record is not counted). */
result<std::uint64_t> write_layers(dump_writer& writer, const std::vector<sim_layer>& layers,
                                   const sim_config& config, const sim_write_options& options);

/* Creates (truncates) `path`, runs the network and writes it. */
result<std::uint64_t> simulate_to_file(const std::string& path, const sim_config& config,
                                       const sim_write_options& options);

/* The vendor's per-layer numbers (FORMAT.md): MSE, COS, RMSE (relative L1). */
struct sim_metrics {
  double mse = 0, cos = 0, rmse = 0;
};
/* sample vs benchmark, equal sizes (the shorter length is used otherwise). */
sim_metrics vendor_metrics(std::span<const float> sample, std::span<const float> bench) noexcept;

}  // namespace sigdump::sim
