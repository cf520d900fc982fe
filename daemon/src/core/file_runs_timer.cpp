// The stat timer's share of a file's life as runs: which tracked files it
// looks at on a tick (every live one, a round-robin share of the finished
// ones), so an idle daemon's cost does not grow with the finished files it
// tracks. Loop thread only.
#include <string>
#include <vector>

#include "core/file_runs.h"
#include "state/state_store.h"

namespace sigdump::daemon {

void file_runs::poll() {
  if (stopped_) return;
  // Run log lines a full state folder refused: written once it takes them.
  if (store_ != nullptr) store_->retry();
  ++state_.stat_ticks;
  std::vector<std::string> paths = finished_share();
  paths.insert(paths.end(), each_tick_.begin(), each_tick_.end());
  state_.stat_looks += paths.size();
  for (const auto& p : paths) look(p);
  const auto now = steady_now_ms();
  for (const auto& p : paths) {
    auto it = state_.files.find(p);
    if (it == state_.files.end()) continue;
    tracked_file& tf = *it->second;
    // Written over in place: it starts over once that settles, not ends.
    if (tf.state != run_state::live || tf.run == 0 || tf.written_over) continue;
    if (now - tf.last_change_ms < quiet_.count()) continue;
    end_file(tf, "quiet");
    each_tick_.erase(p);
  }
}

// A live file is looked at on every tick (writes through mmap raise no
// inotify event), and so is one whose in-place rewrite waits for a second
// look. Other files are finished: inotify reports their changes.
bool file_runs::watched_each_tick(const tracked_file& tf) {
  return tf.state == run_state::live || tf.rewrite_mtime_ns != 0;
}

// The finished files this tick looks at: the next share after the last one
// looked at, round robin, so each is looked at once every finished_period
// ticks (a safety net for what inotify cannot see: network file systems,
// events lost) and the cost of a tick does not grow with them.
std::vector<std::string> file_runs::finished_share() {
  std::vector<std::string> out;
  const std::size_t n = state_.files.size();
  const std::size_t quota = (n + finished_period - 1) / finished_period;
  auto it = state_.files.upper_bound(finished_cursor_);
  for (std::size_t i = 0; i < n && out.size() < quota; ++i, ++it) {
    if (it == state_.files.end()) it = state_.files.begin();
    if (it->second && !watched_each_tick(*it->second)) out.push_back(it->first);
  }
  if (!out.empty()) finished_cursor_ = out.back();
  return out;
}

// Whether the stat timer looks at path on every tick, as of this look.
void file_runs::note_each_tick(const std::string& path) {
  auto it = state_.files.find(path);
  if (it != state_.files.end() && it->second && watched_each_tick(*it->second)) {
    each_tick_.insert(path);
  } else {
    each_tick_.erase(path);
  }
}

}  // namespace sigdump::daemon
