// The daemon's model, owned by the loop thread: what is watched, which dump
// files are tracked, their runs with per-layer results, and the pairs. The
// protocol methods (daemon/src/method_*.cpp) read it on the loop thread; the
// core (tracker) is the only writer. Events go out through publish().
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/daemon_options.h"
#include "sigdump/compare.h"
#include "sigdump/dump_file.h"
#include "state/daemon_event.h"

namespace sigdump::daemon {

class archive;       // archive.h
class heap_trimmer;  // platform/heap_trim.h
class state_store;   // state_store.h

/* A path the daemon was asked to watch. */
struct watched_path {
  std::string path;  // absolute, normalized
  enum class kind : std::uint8_t {
    dir,
    file
  } what = kind::dir;  // "dir" if it is (or will be) a folder
  std::string origin;  // "command line", "config", or the DebugConfig.txt that added it
};
/* "dir" or "file" */
const char* watched_kind_name(watched_path::kind k) noexcept;

enum class run_state : std::uint8_t { live, ended, reset };
/* "live", "ended", "reset" */
const char* run_state_name(run_state s) noexcept;

/* What a run's file looked like when the run ended, to tell after a restart
   whether the file is still that run: its identity, size and mtime, and
   hashes of its first and last complete records. */
struct file_fingerprint {
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::uint64_t records = 0;
  std::uint64_t head_hash = 0;  // xxh3 of the first complete record (its ends, when big)
  std::uint64_t tail_hash = 0;  // the same of the last complete record
  bool known() const noexcept { return dev != 0 || ino != 0; }
  friend bool operator==(const file_fingerprint&, const file_fingerprint&) = default;
};

/* A dump file currently being tracked (it exists or existed until now). */
struct tracked_file {
  std::string path;                   // absolute path
  std::unique_ptr<dump_file> file;    // the open dump; records() grow as it is written.
                                      // Loop thread only, unless a lease is held.
  std::uint64_t run = 0;              // number of its current run (0: none yet)
  std::vector<std::uint64_t> runs;    // every current run: one per pair the file is the sample
                                      // of (or one without a pair); `run` is the first
  run_state state = run_state::live;  // live while written; ended after close/quiet
  std::uint64_t bytes = 0;            // file size at the last look
  std::uint64_t parsed = 0;           // bytes covered by complete records
  std::atomic<int> readers{0};        // leases held: refresh() waits until 0
  bool refresh_wanted = false;        // a refresh was deferred by a lease
  bool close_seen = false;            // IN_CLOSE_WRITE arrived during that deferral
  std::string started_over;           // a deferred look saw the content start over (replaced,
                                      // truncated): acted on by the next look, however long
  std::string failed;                 // non-empty: parse error; not refreshed until reset
  std::int64_t last_change_ms = 0;    // steady clock (ms) of the last growth
  std::int64_t mtime_ns = 0;          // st_mtim at the last look that accepted the content
  std::int64_t rewrite_mtime_ns = 0;  // the st_mtim of a rewrite in place being held
  bool written_over = false;          // written again in place (its first record's mark changed,
                                      // or a newer mtime at the same size after its run ended):
                                      // started over once that settles (file_runs::hold_rewritten)
  std::uint64_t tail_from = 0;        // [tail_from, tail_to): the last 4 KiB of the complete
  std::uint64_t tail_to = 0;          // records, whose hash (tail_hash) a look checks again: a
  std::uint64_t tail_hash = 0;        // rewrite that outgrew the old content between two looks
  bool growing = false;               // a worker makes room for more records (file_runs_room.cpp)
  std::shared_ptr<dump_file::storage> room;  // what it made, taken by the next look
  std::uint64_t end_hash = 0;                // the hash of the last 64 bytes before tail_to
  std::vector<std::uint64_t> marks;          // each complete record's mark when a look parsed it
                                             // (core/record_marks.h); 0: not noted

  /* Whether run n is one of this file's current runs. */
  bool holds_run(std::uint64_t n) const noexcept {
    for (std::uint64_t x : runs) {
      if (x == n) return true;
    }
    return n != 0 && n == run;
  }
};

/* Keeps a tracked file's dump_file from being refreshed (its records and
   mapping stay put) so another thread may read it. Take it on the loop
   thread; release anywhere. */
class file_lease {
 public:
  file_lease() = default;
  explicit file_lease(std::shared_ptr<tracked_file> f) : f_(std::move(f)) {
    if (f_) f_->readers.fetch_add(1);
  }
  file_lease(file_lease&& o) noexcept : f_(std::move(o.f_)) {}
  file_lease& operator=(file_lease&& o) noexcept {
    if (this != &o) {
      reset();
      f_ = std::move(o.f_);
    }
    return *this;
  }
  file_lease(const file_lease&) = delete;
  file_lease& operator=(const file_lease&) = delete;
  ~file_lease() { reset(); }
  void reset() noexcept {
    if (f_) f_->readers.fetch_sub(1);
    f_.reset();
  }
  const dump_file* get() const noexcept { return f_ ? f_->file.get() : nullptr; }
  explicit operator bool() const noexcept { return get() != nullptr; }

 private:
  std::shared_ptr<tracked_file> f_;
};

/* One run of one dump file: from creation/reset to close/quiet/reset. */
struct run_info {
  std::uint64_t number = 0;           // N of "rN", increasing across restarts
  std::string id;                     // "rN"
  std::string path;                   // the dump file
  std::string pair;                   // name of the pair whose sample this file is; empty: none
  run_state state = run_state::live;  // live, ended (closed/quiet/deleted/restart) or reset
  std::string start_reason;           // created|replaced|truncated|rewritten|started
  std::string end_reason;     // closed|quiet|deleted|restart|truncated|...; empty while live
  std::int64_t started = 0;   // unix seconds
  std::int64_t ended = 0;     // unix seconds; 0 while live
  std::uint64_t records = 0;  // complete records indexed
  std::uint64_t bytes = 0;    // bytes of the file at the last look
  compare_report report;      // with a pair: layers (sorted by index), first_bad,
                              // diagnosis, thresholds, sample/benchmark paths
  std::string benchmark_run;  // with a pair: the benchmark run its layers are compared with ("r4");
                              // empty: none yet
  bool persisted = false;     // every line of it so far is in its state log (none waits in memory)
  file_fingerprint content;   // its file when it ended (state ended); unknown otherwise
  std::shared_ptr<tracked_file> file;  // the live file while this is its current run; null after

  /* Layers that are suspect or could not be compared. */
  std::uint64_t suspect_count() const noexcept;
};

/* One row of a three-way view (fixed vs float, float vs framework). */
struct three_way_row {
  std::uint32_t index = 0;                             // layer index in the pair's report
  std::string name;                                    // sample layer name of this pair
  double conversion_cos = 0, conversion_rmse = 0;      // float model vs framework
  double quantization_cos = 0, quantization_rmse = 0;  // fixed model vs float model
};

/* A configured sample/benchmark pair. */
struct pair_info {
  std::string name;            // pair name
  std::string sample;          // sample path (file or watched path)
  std::string benchmark;       // benchmark path
  std::uint64_t run = 0;       // the sample's current (or last) run; 0: none yet
  std::string sample_file;     // dump file the sample side resolved to last; empty: none yet
  std::string benchmark_file;  // dump file the benchmark side resolved to last; empty: none yet
  // The pair's own thresholds or name map over the daemon's; null: the daemon's.
  std::shared_ptr<const compare_options> compare;

  /* The resolved file of a side, else the configured path. */
  const std::string& sample_key() const noexcept {
    return sample_file.empty() ? sample : sample_file;
  }
  const std::string& benchmark_key() const noexcept {
    return benchmark_file.empty() ? benchmark : benchmark_file;
  }
};

/* A configured trigger and its counters since the daemon started (a
   reload keeps the counters of a trigger that keeps its name). */
struct trigger_stats {
  trigger_config config;
  std::uint64_t runs = 0;      // commands started (or tried)
  std::uint64_t failures = 0;  // could not start, exited non-zero, killed by a signal
  std::uint64_t timeouts = 0;  // still running at timeout_ms: its process group killed
  std::uint64_t skipped = 0;   // events while it still ran for the same run
  std::uint32_t running = 0;   // commands running now
};

class daemon_state {
 public:
  /* start: unix seconds of daemon start; pid: ours (both go into clocks). */
  daemon_state(std::int64_t start, pid_t pid) : start_(start), pid_(pid) {}

  std::vector<watched_path> watched;                           // what we watch, in config order
  std::map<std::string, std::shared_ptr<tracked_file>> files;  // path -> tracked dump file
  std::map<std::uint64_t, std::shared_ptr<run_info>> runs;     // number -> run (incl. read back)
  std::vector<pair_info> pairs;                                // configured pairs
  compare_options compare;                                     // options of every comparison
  std::string state_dir;                                       // persisted state folder
  std::string event_loop_name;                                 // "io_uring" or "epoll"
  archive* run_archive = nullptr;                              // run copies (archive.h); null: off
  const state_store* store = nullptr;                          // run logs; null: not persisted
  const heap_trimmer* heap_trims = nullptr;  // the scheduler's heap trims; null: none
  std::uint64_t next_run = 1;                // number the next run gets
  std::uint64_t layers_streamed = 0;         // layers compared partly while they were being written
  std::uint64_t chunks_streamed = 0;         // chunks of those summed before the layer was complete
  std::uint64_t chunks_discarded = 0;        // streamed chunks summed again (truncated since)
  std::uint64_t chunks_summed = 0;           // chunks summed so far while their layer was written
  std::uint64_t parse_slices = 0;            // looks that left the rest of a growth to a later look
  std::uint64_t stat_ticks = 0;              // stat timer periods so far
  std::uint64_t stat_looks = 0;              // files the stat timer looked at so far
  // Failed Prometheus textfile writes, as of the last one.
  std::uint64_t metrics_write_failures = 0;
  std::vector<trigger_stats> triggers;  // configured triggers (export/trigger_runner.h)

  std::int64_t started() const noexcept { return start_; }
  pid_t pid() const noexcept { return pid_; }
  /* The clock of the last published event ("c:START:PID:TICK"). */
  std::string clock() const;
  std::uint64_t tick() const noexcept { return tick_; }

  /* Run by id ("r7") or nullptr. */
  std::shared_ptr<run_info> find_run(std::string_view id) const;
  /* Newest run of a path, or nullptr. */
  std::shared_ptr<run_info> latest_run_of(std::string_view path) const;
  const pair_info* find_pair(std::string_view name) const;
  /* The id of the current run of the tracked dump file at path ("r4"); empty
     when it is not tracked or has no run. */
  std::string current_run_id(const std::string& path) const;
  /* Whether a watched path is there now: a tracked dump file is; anything
     else is looked up on disk at the time of asking (never a snapshot). */
  bool exists_now(const watched_path& w) const;
  /* The options comparing the layers of pair `name` (a run's pair): the
     pair's own, else the daemon's. */
  const compare_options& compare_for(std::string_view name) const;
  /* Three-way rows for a pair when another pair shares its sample or
     benchmark file (fixed->float->framework chain); nullopt otherwise. */
  std::optional<std::vector<three_way_row>> three_way(const pair_info& p) const;

  /* Adds a sink; it receives every later event. Not owned. */
  void add_sink(event_sink* s) { sinks_.push_back(s); }
  void remove_sink(event_sink* s);
  /* Assigns the next tick/clock to e and hands it to every sink. */
  void publish(daemon_event& e);
  /* Tells every sink that r's state changed (event_sink::run_changed). */
  void run_changed(const run_info& r);

 private:
  std::int64_t start_;
  pid_t pid_;
  std::uint64_t tick_ = 0;
  std::vector<event_sink*> sinks_;
};

}  // namespace sigdump::daemon
