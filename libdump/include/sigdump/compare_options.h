// What a comparison is asked to do: its thresholds, which records take
// part, the name map, and how many threads report progress how.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "sigdump/metrics.h"

namespace sigdump {

struct compare_options {
  struct thresholds thresholds;
  bool include_constants = false;
  bool include_inputs = false;
  std::unordered_map<std::string, std::string> name_map;  // sample name -> benchmark name
  unsigned threads = 0;                                   // 0: hardware concurrency
  /* compare_dumps: per-channel evidence (channel_metrics.h) for each suspect
     layer, in a second pass over just those layers (`sigdump compare`,
     `sigdump report` and the daemon's compare method turn it on). */
  bool channel_evidence = false;
  /* Called from the comparing threads with bytes done so far and the total. */
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
};

/* Empty when a threshold is in range, else why not, naming `option`:
   cos_min must lie in [-1, 1] (what COS can be), rmse_max must be finite
   and >= 0 (RMSE is a ratio of sums of magnitudes). */
std::string cos_min_problem(std::string_view option, double v);
std::string rmse_max_problem(std::string_view option, double v);

}  // namespace sigdump
