// A compare_report as text for a terminal: what `sigdump compare` prints.
#pragma once

#include <string>

#include "sigdump/compare.h"

namespace sigdump {

/* The guide's "0) name MSE: .. COS: .. RMSE: .." lines then the summary
   (unmatched names, layouts, suspects, first bad layer, diagnosis,
   advice). Colour escapes only when `color`. */
std::string report_text(const compare_report& report, bool color);

}  // namespace sigdump
