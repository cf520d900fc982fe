// The daemon core: watches paths with inotify (plus a stat timer), tracks
// each dump file as a sequence of runs, indexes records as they complete,
// dispatches layer comparisons of pairs to the worker pool, and publishes
// and persists the results. Loop thread only.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "daemon_options.h"
#include "daemon_state.h"
#include "event_loop.h"
#include "sigdump/ipc/unique_fd.h"
#include "state_store.h"
#include "worker_pool.h"

namespace sigdump::daemon {

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
  std::size_t in_flight() const noexcept { return in_flight_; }

 private:
  struct spec {
    std::string path;
    watched_path::kind kind = watched_path::kind::dir;
    std::string origin;
  };
  // Per-run bookkeeping of the comparison (not part of the model).
  struct run_work {
    std::deque<std::uint32_t> unmatched;         // sample records waiting for their benchmark
    std::uint32_t next_index = 0;                // report index of the next dispatched layer
    std::uint32_t next_publish = 0;              // next index to publish (in order)
    std::map<std::uint32_t, layer_result> done;  // computed, waiting for earlier ones
    std::uint32_t in_flight = 0;
    std::string end_reason;  // end requested while jobs were in flight
    run_state end_state = run_state::ended;
  };
  struct job;

  void set_options(const daemon_options& options);
  void resolve_watches();
  void add_dir_watch(const std::string& dir, std::set<int>& keep);
  void on_inotify();
  void on_timer();
  void scan_dir(const std::string& dir);
  void read_debug_config(const std::string& file);
  bool is_watched_dir(const std::string& dir) const;
  bool is_file_spec(const std::string& path) const;
  bool looks_like_dump(const std::string& path, const struct stat& st);
  void check_file(const std::string& path, bool created, bool closed);
  void track_new(const std::string& path, const struct stat& st, bool created);
  void file_gone(const std::string& path, const std::string& reason = "deleted");
  void after_growth(tracked_file& tf, std::size_t first_new);
  std::shared_ptr<run_info> start_run(tracked_file& tf, const std::string& reason);
  void end_run(run_info& r, run_state how, const std::string& reason);
  void finish_end(run_info& r, run_work& w);
  void try_match(pair_info& p);
  void dispatch(run_info& r, run_work& w, std::shared_ptr<tracked_file> sample,
                std::shared_ptr<tracked_file> bench, std::uint32_t sample_record,
                std::uint32_t bench_record, match_rule rule);
  void on_result(std::shared_ptr<job> j);
  void publish_layer(run_info& r, layer_result l);
  void prune_runs();
  pair_info* pair_of_sample(const std::string& path);
  std::int64_t now_ms() const;

  event_loop& loop_;
  daemon_state& state_;
  state_store* store_;
  worker_pool& pool_;
  std::vector<spec> specs_;       // configured + DebugConfig.txt-added
  std::vector<spec> base_specs_;  // configured only
  std::chrono::milliseconds quiet_{3000};
  std::chrono::milliseconds poll_{200};
  std::uint32_t keep_runs_ = 200;
  ipc::unique_fd inotify_;
  watch_id inotify_watch_ = 0;
  timer_id timer_ = 0;
  std::map<int, std::string> wd_dirs_;                        // inotify wd -> folder
  std::map<std::string, std::pair<ino_t, off_t>> not_dumps_;  // sniffed negative, by identity+size
  std::map<std::uint64_t, run_work> work_;                    // live comparisons by run number
  std::size_t in_flight_ = 0;
  bool stopped_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // posted results check it
};

}  // namespace sigdump::daemon
