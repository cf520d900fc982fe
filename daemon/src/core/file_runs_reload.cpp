// What a reload does to the runs of the files already tracked: a new pair
// compares the files on disk, and a pair that is gone leaves its files'
// runs. Loop thread only.
#include <algorithm>

#include "core/file_runs.h"

namespace sigdump::daemon {

void file_runs::pairs_changed() {
  for (const auto& [path, tf] : state_.files) {
    if (!tf || !tf->file || !tf->failed.empty()) continue;
    drop_removed_pairs(*tf);
    const auto had = runs_of(state_, *tf);
    std::string end_reason = "quiet";
    for (const auto& r : had) {
      if (r->state != run_state::live && !r->end_reason.empty()) end_reason = r->end_reason;
    }
    for (pair_info* p : sides_.pairs_of_sample(path)) {
      if (std::any_of(had.begin(), had.end(), [&](const auto& r) { return r->pair == p->name; }))
        continue;
      start_after_reload(*tf, p, end_reason);
    }
  }
}

// The runs of tf whose pair a reload removed stop being its runs: a live
// one ends ("unpaired"); a file left with no run gets one without a pair.
void file_runs::drop_removed_pairs(tracked_file& tf) {
  const auto had = runs_of(state_, tf);
  std::vector<std::uint64_t> kept;
  for (const auto& r : had) {
    if (r->pair.empty() || state_.find_pair(r->pair) != nullptr) {
      kept.push_back(r->number);
      continue;
    }
    if (r->state == run_state::live) end_run(*r, run_state::ended, "unpaired");
    r->file.reset();
  }
  if (kept.size() == had.size()) return;
  tf.runs = kept;
  tf.run = kept.empty() ? 0 : kept.front();
  if (!kept.empty() || !sides_.pairs_of_sample(tf.path).empty()) return;
  start_after_reload(tf, nullptr, had.front()->end_reason);
}

// A run of tf (of pair, or without one) that a reload calls for, compared
// as the file is on disk; a finished file's run ends at once, as end_reason.
void file_runs::start_after_reload(tracked_file& tf, pair_info* pair,
                                   const std::string& end_reason) {
  const run_state file_state = tf.state;
  auto r = start_run(tf, "started", pair);
  tf.state = file_state;
  publish_run_event(state_, event_kind::run_start, *r, "started");
  pairs_.records_added(*r, tf, 0);
  if (file_state != run_state::live) end_run(*r, run_state::ended, end_reason);
}

}  // namespace sigdump::daemon
