// Private: the float32 reference run of the network.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sigdump::sim::detail {

struct ftensor {
  std::vector<std::int64_t> shape;
  std::vector<float> v;
};

/* Softmax in double, returned as float. */
std::vector<float> softmax(const std::vector<float>& x);

/* Every op's output of the float run on the bundled picture, by name. */
std::map<std::string, ftensor> run_float();

}  // namespace sigdump::sim::detail
