// The vendor's input_config.ini as the simulator reads it: the
// [CONV_CONFIG] section that moves convolution inputs to INT16.
#pragma once

#include <string>
#include <vector>

#include "sigdump/error.h"

namespace sigdump::sim {

struct conv_config {
  std::vector<std::string> tensor_arrays;  // tensor_arrays='a,b';
  bool all_int16 = false;                  // input_format=ALL_INT16;
  bool has_section = false;                // a [CONV_CONFIG] section was found
};

/* Reads the [CONV_CONFIG] section of a vendor input_config.ini. A missing
   section is not an error (has_section false); an unreadable file is. */
result<conv_config> read_input_config(const std::string& path);

}  // namespace sigdump::sim
