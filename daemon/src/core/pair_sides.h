// Pair sides: the configured sample/benchmark pairs (state.pairs) and which
// tracked dump file each side names now: the file itself, or for a folder
// its sigma_outtensor_dump.bin, else its only dump. Loop thread only.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "config/daemon_options.h"
#include "state/daemon_state.h"

namespace sigdump::daemon {

class pair_sides {
 public:
  explicit pair_sides(daemon_state& state) : state_(state) {}

  /* The configured pairs into state.pairs; a pair that survives a reload
     (same name and sample) keeps its run, a new one starts with its newest
     run in state.runs (read back from the state folder). */
  void configure(const std::vector<pair_config>& pairs);
  /* The tracked dump file `side` names now; empty when none (a folder
     holding several dumps and no sigma_outtensor_dump.bin is logged once). */
  std::string resolve(const std::string& side);
  /* The pairs whose sample side names the file at `path`. */
  std::vector<pair_info*> pairs_of_sample(const std::string& path);

 private:
  std::uint64_t newest_run_of(const std::string& pair) const;

  daemon_state& state_;
  std::set<std::string> ambiguous_;  // folder sides already logged
};

}  // namespace sigdump::daemon
