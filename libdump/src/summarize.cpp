// summarize(): a report's first bad layer, diagnosis and advice, from its
// layers. Called once offline, and by the daemon as layers arrive (throttled
// for big runs: daemon/src/core/pair_outcome.cpp).
#include <vector>

#include "sigdump/compare.h"
#include "summary_parts.h"

namespace sigdump {

void diagnose_report(compare_report& report) {
  const thresholds& t = report.thresholds;
  std::vector<const layer_result*> comparable;
  std::int64_t first = -1;
  for (const layer_result& l : report.layers) {
    // All-zero pairs are identical but carry the vendor's COS 0: they would
    // read as a collapse to the trend rules.
    if (!l.error.empty() || l.metrics.all_zero) continue;
    if (l.suspect && first < 0) first = static_cast<std::int64_t>(comparable.size());
    comparable.push_back(&l);
  }
  report.first_bad.reset();
  if (first >= 0) {
    const layer_result& l = *comparable[static_cast<std::size_t>(first)];
    report.first_bad = first_bad_layer{l.index, l.name, detail::suspect_reason(l, t)};
  } else {
    for (const layer_result& l : report.layers) {
      if (l.error.empty()) continue;
      report.first_bad = first_bad_layer{l.index, l.name, "not comparable: " + l.error};
      break;
    }
  }
  detail::diagnose(report, comparable, first);
  count_coverage(report);
}

void summarize(compare_report& report, const dump_file& sample,
               const std::vector<quant_param>* quant_params) {
  diagnose_report(report);
  advise_report(report, sample, quant_params);
}

void advise_report(compare_report& report, const dump_file& sample,
                   const std::vector<quant_param>* quant_params) {
  detail::advise(report, sample, quant_params);
}

}  // namespace sigdump
