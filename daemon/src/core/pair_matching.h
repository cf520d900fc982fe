// Where a waiting sample record stands against a benchmark still being
// written (pair_scheduler's settling rules, pair_matching.cpp). Loop thread.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string_view>

#include "platform/event_loop.h"
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
   are served in between. A slice lasts a millisecond, and ends at the
   latest 1.5 ms after the loop callback it runs in began (the slices of one
   callback share that budget; a posted rest runs in a callback of its own,
   so work always goes on). */
class loop_slice {
 public:
  bool over() const { return std::chrono::steady_clock::now() >= end_; }

 private:
  static std::chrono::steady_clock::time_point end_of_slice() {
    const auto now = std::chrono::steady_clock::now();
    const auto began = event_loop::callback_began();
    const auto own = now + std::chrono::microseconds(1000);
    if (began == std::chrono::steady_clock::time_point{}) return own;
    return std::min(own, began + std::chrono::microseconds(1500));
  }
  std::chrono::steady_clock::time_point end_ = end_of_slice();
};

}  // namespace sigdump::daemon
