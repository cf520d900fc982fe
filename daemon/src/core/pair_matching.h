// Where a waiting sample record stands against a benchmark still being
// written (pair_scheduler's settling rules, pair_matching.cpp). Loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "sigdump/compare_options.h"
#include "sigdump/dump_file.h"
#include "sigdump/matching.h"

namespace sigdump::daemon {

/* The record match_record picks now, and whether it is the ordinal-th
   candidate of its rule (not the "else the last" fallback). */
struct probe_result {
  std::int64_t record = -1;
  match_rule rule = match_rule::exact;
  bool nth = false;
};

probe_result probe(const dump_file& bench, const record& sample, std::uint32_t ordinal,
                   const compare_options& options);

/* The key a benchmark record named `name` wakes the waiting sample records
   by: a hash of its sanitized name, which an exact, a sanitized and a
   mapped match all share. */
std::uint64_t match_key(std::string_view name);

/* A slice of the loop thread's time: work that would hold the loop longer
   stops once it is over and posts the rest, so requests and file events
   are served in between. */
class loop_slice {
 public:
  bool over() const { return std::chrono::steady_clock::now() >= end_; }

 private:
  std::chrono::steady_clock::time_point end_ =
      std::chrono::steady_clock::now() + std::chrono::microseconds(1000);
};

}  // namespace sigdump::daemon
