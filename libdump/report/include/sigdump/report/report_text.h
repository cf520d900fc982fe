// A compare_report as text for a terminal: what `sigdump compare` prints.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sigdump/compare.h"

namespace sigdump {

/* The guide's "0) name MSE: .. COS: .. RMSE: .." lines then the summary
   (unmatched names, layouts, suspects, first bad layer, diagnosis,
   advice). Colour escapes only when `color`. */
std::string report_text(const compare_report& report, bool color);

/* Per-channel evidence in two lines, each starting with `indent`: the
   channel count and axis of `shape`, the three worst channels (COS, RMSE,
   max |a-b|) and the lowest COS of the others; then the three elements
   with the largest |a-b| (coordinates, difference, sample vs benchmark). */
std::string channel_text(const channel_evidence& channels, const std::vector<std::int64_t>& shape,
                         std::string_view indent);

}  // namespace sigdump
