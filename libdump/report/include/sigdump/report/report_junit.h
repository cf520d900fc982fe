// A compare_report as JUnit XML, the test report every CI server reads:
// one testcase per sample layer, and one for the coverage.
#pragma once

#include <string>

#include "sigdump/compare.h"
#include "sigdump/error.h"

namespace sigdump {

/* One <testsuite> holding, in sample order, a testcase per sample layer
   that takes part: passed when compared and within the thresholds; a
   <failure> when suspect (type "suspect", the metrics and thresholds) or
   not comparable (type "not_comparable", the reason); <skipped> when no
   benchmark layer matched it. Then a testcase
   "coverage" that fails when the verdict is nothing_compared, or
   incomplete and allow_partial is false. */
std::string report_junit(const compare_report& report, bool allow_partial);

/* Writes report_junit() to path atomically. */
result<void> write_junit(const std::string& path, const compare_report& report, bool allow_partial);

}  // namespace sigdump
