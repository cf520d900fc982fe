// The plan of an offline comparison: every compared sample record paired
// with its benchmark record before any value is read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sigdump/compare_options.h"
#include "sigdump/coverage.h"
#include "sigdump/dump_file.h"
#include "sigdump/matching.h"

namespace sigdump {

/* Every compared sample record paired with its benchmark record, in sample
   order, plus the names found on one side only (not errors). */
struct layer_plan {
  struct pair {
    std::uint32_t sample_record = 0;
    std::uint32_t bench_record = 0;
    match_rule rule = match_rule::exact;
  };
  std::vector<pair> pairs;
  std::vector<std::string> unmatched_sample, unmatched_benchmark;  // names, each once
  std::uint64_t sample_layers = 0;                                 // compared sample records
  std::vector<sample_only_layer> sample_only;                      // sample records without a match
  std::uint64_t benchmark_only = 0;  // benchmark records no sample record matched
};
layer_plan plan_layers(const dump_file& sample, const dump_file& bench,
                       const compare_options& options);

}  // namespace sigdump
