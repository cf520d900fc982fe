// The advice for suspect convolutions: which input tensors to quantize as
// INT16 (the vendor's [CONV_CONFIG] tensor_arrays), and which 8-bit tensors
// the quant params show with a wide range. summarize() (compare.h) fills it.
#pragma once

#include <string>
#include <vector>

namespace sigdump {

struct advice {
  std::vector<std::string> tensor_arrays;    // first input tensor of each suspect conv
  std::string input_config;                  // ready-to-paste [CONV_CONFIG] block
  std::string text;                          // explanation, marks guesses
  std::vector<std::string> wide_range_8bit;  // from quant params: 8-bit, max-min > 20
};

}  // namespace sigdump
