// Private: the parts summarize() (compare.h) is made of: the diagnosis
// (diagnosis.cpp) and the INT16 advice (advice.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sigdump/compare.h"

namespace sigdump::detail {

/* "3) name": how the texts name a layer. */
inline std::string layer_label(const layer_result& l) {
  return std::to_string(l.index) + ") " + l.name;
}

/* Which thresholds a suspect layer breaks: "COS 0.912000 < 0.99", "RMSE
   0.310000 > 0.1", or both joined by ", ". */
std::string suspect_reason(const layer_result& l, const thresholds& t);

/* Fills report.diagnosis from the comparable layers `c` (no error, not all
   zero, in report order); `first` is the position in `c` of the first
   suspect one, or -1. */
void diagnose(compare_report& report, const std::vector<const layer_result*>& c,
              std::int64_t first);

/* Fills report.advice from the suspect convolutions of report.layers, the
   sample's "//in 0" records and, when given, the quant params. */
void advise(compare_report& report, const dump_file& sample,
            const std::vector<quant_param>* quant_params);

}  // namespace sigdump::detail
