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

#include "config/daemon_options.h"
#include "platform/event_loop.h"
#include "platform/worker_pool.h"
#include "sigdump/ipc/unique_fd.h"
#include "state/daemon_state.h"
#include "state/state_store.h"

namespace sigdump::daemon {

class archive;        // archive.h
struct layer_stream;  // tracker.cpp: a cut sample record summed while it is written

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
  struct queued_record {
    enum class status : std::uint8_t { waiting, running, done, skipped };
    std::uint32_t record = 0;   // sample record
    std::uint32_t ordinal = 0;  // its occurrence_ordinal in the sample
    status what = status::waiting;
    layer_result result;  // done: computed, index not yet assigned
  };
  struct run_work {
    // Compared sample records in sample order, from the first not yet
    // published: a layer's report index is known only once every earlier
    // record is matched or known to have no match.
    std::deque<queued_record> queue;
    std::uint64_t front_seq = 0;   // sequence number of queue.front()
    std::uint32_t next_index = 0;  // report index of the next published layer
    std::uint32_t in_flight = 0;
    std::string end_reason;  // end requested, run_end not yet published
    run_state end_state = run_state::ended;
    bool end_published = false;  // run_end went out; later layers reopen the log
    bool late_layers = false;    // layers were published after run_end
    // The sample's cut record, when big and already matched: its chunks are
    // summed as its bytes land, and its comparison reuses them.
    std::shared_ptr<layer_stream> stream;
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
  void check_file(const std::string& path, bool created, bool closed,
                  bool written_after_close = false);
  void track_new(const std::string& path, const struct stat& st, bool created);
  void file_gone(const std::string& path, const std::string& reason = "deleted");
  void after_growth(tracked_file& tf, std::size_t first_new);
  std::shared_ptr<run_info> start_run(tracked_file& tf, const std::string& reason,
                                      pair_info* pair = nullptr);
  // One run per pair whose sample is tf (one without a pair if none).
  std::vector<std::shared_ptr<run_info>> start_runs(tracked_file& tf, const std::string& reason);
  std::vector<std::shared_ptr<run_info>> runs_of(const tracked_file& tf) const;
  void end_run(run_info& r, run_state how, const std::string& reason);
  void finish_end(run_info& r, run_work& w);
  void maybe_finish(run_info& r, run_work& w);
  void try_match(pair_info& p);
  void benchmark_changed(const std::string& path);
  bool benchmark_live(const run_info& r);
  void dispatch(run_info& r, run_work& w, std::uint64_t seq, std::shared_ptr<tracked_file> sample,
                std::shared_ptr<tracked_file> bench, std::uint32_t sample_record,
                std::uint32_t bench_record, match_rule rule);
  void on_result(std::shared_ptr<job> j);
  // Starts or feeds the streamed comparison of tf's cut record for each of
  // its paired live runs; looks at tf every millisecond while it is being
  // written and no big record's size is known, or chunks are still due.
  void stream_pending(tracked_file& tf);
  std::shared_ptr<layer_stream> open_stream(const run_info& r, const tracked_file& tf,
                                            const record& cut);
  void follow(const std::string& path);
  void publish_ready(run_info& r, run_work& w);
  void publish_layer(run_info& r, layer_result l);
  void prune_runs();
  std::vector<pair_info*> pairs_of_sample(const std::string& path);
  // The dump file a pair side names now: the file itself, or for a folder
  // its sigma_outtensor_dump.bin, else its only dump; empty when none.
  std::string resolve_side(const std::string& side);
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
  timer_id follow_timer_ = 0;           // one-shot: looks again at follow_paths_
  std::set<std::string> follow_paths_;  // paired dumps being written: looked at in 1 ms
  std::map<int, std::string> wd_dirs_;  // inotify wd -> folder
  std::map<std::string, std::pair<ino_t, off_t>> not_dumps_;  // sniffed negative, by identity+size
  std::map<std::uint64_t, run_work> work_;                    // live comparisons by run number
  std::set<std::string> ambiguous_sides_;                     // folder sides already logged
  std::size_t in_flight_ = 0;
  bool stopped_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // posted results check it
  std::unique_ptr<archive> archive_;                            // options.archive; null when off
};

}  // namespace sigdump::daemon
