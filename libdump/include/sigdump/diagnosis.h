// Reading the numbers the way the vendor guide does: the first layer past
// a threshold, and whether precision is lost at one layer (a jump), little
// by little (drift) or around the thresholds (oscillation). The rules are in
// docs/diagnosis.md; summarize() (compare.h) fills both in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sigdump {

struct diagnosis {
  enum class kind : std::uint8_t { none, jump, drift, oscillation } what = kind::none;
  std::int64_t at = -1;  // layer index (report position) the diagnosis points at
  std::string text;
  // jump: how many comparable layers after `at` the persistence test looked
  // at (up to diagnosis_window; fewer near the end: less evidence); else -1.
  std::int32_t following = -1;
  // jump at the first comparable layer: the input already differs, the
  // preprocessing is to blame rather than a convolution (no INT16 advice).
  bool preprocessing = false;
};

/* Layers before a step that set the level it is measured from, and layers
   after it that must stay past the step for it to be a jump. */
inline constexpr std::size_t diagnosis_window = 5;
const char* diagnosis_kind_name(diagnosis::kind k) noexcept;

struct first_bad_layer {
  std::uint32_t index = 0;
  std::string name;
  std::string reason;  // "COS 0.912 < 0.99", "RMSE 0.31 > 0.1", "not comparable: ..."
};

}  // namespace sigdump
