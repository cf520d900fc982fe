// The daemon core: owns and wires the watcher (which paths to look at and
// when), the file runs (each dump file's life as runs), the pair sides and
// the pair scheduler (matching, comparisons on the worker pool, publishing
// in report order), and the run archive. Loop thread only.
#pragma once

#include <memory>
#include <string>

#include "config/daemon_options.h"
#include "core/file_runs.h"
#include "core/pair_scheduler.h"
#include "core/pair_sides.h"
#include "core/watcher.h"
#include "platform/event_loop.h"
#include "platform/worker_pool.h"
#include "state/daemon_state.h"
#include "state/state_store.h"

namespace sigdump::daemon {

class archive;  // archive.h

class tracker {
 public:
  /* store may be null (no persistence, for tests and benchmarks). */
  tracker(event_loop& loop, daemon_state& state, state_store* store, worker_pool& pool);
  ~tracker();
  tracker(const tracker&) = delete;
  tracker& operator=(const tracker&) = delete;

  /* Takes the watch list and pairs from options, starts inotify and the
     stat timer, and scans everything once (the first scan). */
  result<void> start(const daemon_options& options);
  /* SIGHUP: new watch list, pairs and thresholds; runs are kept. Publishes
     resync with reason "reload". */
  void reload(const daemon_options& options);
  /* Re-resolves every watch, re-stats every file; publishes resync with
     `reason` unless it is empty (IN_Q_OVERFLOW uses "inotify_overflow"). */
  void rescan(const std::string& reason);
  /* Looks at one path now (what an inotify event or the timer does). */
  void check_path(const std::string& path);
  /* Ends every live run (reason "stopped"), flushes the logs, stops the
     timer and inotify. Results still being computed are dropped. */
  void stop();

  /* Jobs dispatched and not yet handed back (tests, benchmarks). */
  std::size_t in_flight() const noexcept { return scheduler_.in_flight(); }

 private:
  void set_options(const daemon_options& options);

  event_loop& loop_;
  daemon_state& state_;
  state_store* store_;
  std::unique_ptr<archive> archive_;  // options.archive; null when off
  watcher watcher_;
  pair_sides sides_;
  pair_scheduler scheduler_;
  file_runs runs_;
  bool stopped_ = false;
};

}  // namespace sigdump::daemon
