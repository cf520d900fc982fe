// Private: the fixed-point emulation of the network's ops: per-tensor
// quantization parameters, integer kernels and requantization.
#pragma once

#include <cstdint>
#include <vector>

#include "graph.h"
#include "sigdump/record.h"

namespace sigdump::sim::detail {

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

/* Per-tensor calibration from float values: asymmetric UINT8, or
   symmetric INT16 when `int16`; the range always includes 0. */
qparams calibrate(const std::vector<float>& v, bool int16);

/* round(real / scale) + zero point, saturated to the type's range. */
std::int32_t quantize_value(double real, const qparams& p);

struct qweights {
  double w_scale = 1.0, b_scale = 1.0;
  std::vector<std::int32_t> w, b;
};

/* Per-tensor symmetric INT8 weights, INT32 biases at scale in_scale * w_scale. */
qweights quantize_weights(const op_def& op, double in_scale);

/* The integer ops: inputs as quantized, output requantized to op_p. */
qtensor conv_q(const qtensor& x, const op_def& op, const qweights& qw, const qparams& op_p);
qtensor fc_q(const qtensor& x, const op_def& op, const qweights& qw, const qparams& op_p);
qtensor add_q(const qtensor& a, const qtensor& b, const qparams& op_p);
qtensor relu_q(const qtensor& x, const qparams& op_p);
qtensor maxpool_q(const qtensor& x, int k, const qparams& op_p);
qtensor avgpool_q(const qtensor& x, const qparams& op_p);
qtensor softmax_q(const qtensor& x, const qparams& op_p);

}  // namespace sigdump::sim::detail
