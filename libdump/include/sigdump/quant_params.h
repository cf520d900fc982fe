// The quantization parameters save_quant_param.py writes (a JSON list of
// {name, min, max, bit}), read for the INT16 advice.
#pragma once

#include <string>
#include <vector>

#include "sigdump/error.h"

namespace sigdump {

/* One entry of the JSON save_quant_param.py writes. */
struct quant_param {
  std::string name;
  std::vector<double> min, max;
  int bit = 8;
};
/* Parses that JSON (simdjson); errors name the file and the element. */
result<std::vector<quant_param>> load_quant_params(const std::string& path);

}  // namespace sigdump
