// Reading the numbers the way the vendor guide does: the first layer past
// a threshold, and whether precision is lost at one layer (a jump), little
// by little (drift) or around the thresholds (oscillation). The rules are in
// docs/diagnosis.md; summarize() (compare.h) fills both in.
#pragma once

#include <cstdint>
#include <string>

namespace sigdump {

struct diagnosis {
  enum class kind : std::uint8_t { none, jump, drift, oscillation } what = kind::none;
  std::int64_t at = -1;  // layer index (report position) the diagnosis points at
  std::string text;
};
const char* diagnosis_kind_name(diagnosis::kind k) noexcept;

struct first_bad_layer {
  std::uint32_t index = 0;
  std::string name;
  std::string reason;  // "COS 0.912 < 0.99", "RMSE 0.31 > 0.1", "not comparable: ..."
};

}  // namespace sigdump
