// A dump file's life as runs: a file that looks like a dump is tracked and
// starts a run (one per pair it is the sample of, else one); each look reads
// what was appended; a replacement, a truncation or a rewrite in place ends
// its runs ("reset") and starts new ones; a close, a quiet spell or its
// deletion ends them. Old runs are pruned. Loop thread only.
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/pair_scheduler.h"
#include "core/pair_sides.h"
#include "core/watcher.h"
#include "platform/event_loop.h"
#include "state/daemon_state.h"
#include "state/state_store.h"

namespace sigdump::daemon {

class archive;  // archive.h

class file_runs {
 public:
  /* store may be null (no persistence). */
  file_runs(event_loop& loop, daemon_state& state, state_store* store, watcher& files,
            pair_sides& sides, pair_scheduler& pairs, worker_pool* pool = nullptr)
      : loop_(loop),
        state_(state),
        store_(store),
        files_(files),
        sides_(sides),
        pairs_(pairs),
        pool_(pool) {}
  ~file_runs();
  file_runs(const file_runs&) = delete;
  file_runs& operator=(const file_runs&) = delete;

  /* How long a live file may sit still before its runs end ("quiet"), and
     how many runs are kept (the oldest ended ones go first). */
  void configure(std::chrono::milliseconds quiet, std::uint32_t keep_runs);
  /* Where runs are copied as they are written; null: nowhere. */
  void set_archive(archive* a) { archive_ = a; }

  /* Looks at one path now: tracks a new dump, reads what was appended to
     a tracked one, or notices it was replaced, truncated, rewritten in
     place, closed or deleted. */
  void look(const std::string& path, const watcher::cue& why = {});
  /* The stat timer: looks at every live file (writes through mmap raise
     no inotify event) and at a share of the finished ones (each once every
     finished_period calls), and ends the runs of those quiet for too long.
     Its cost does not grow with the finished files. */
  void poll();
  static constexpr std::size_t finished_period = 25;
  /* The pairs changed (a reload): a tracked file that is the sample of a
     pair it has no run for starts one (reason "started") and is compared
     as it is on disk; when the file is finished, so is the run. A run of a
     pair that is gone is no longer the file's (a live one ends,
     "unpaired"); a file left without a run starts one without a pair. */
  void pairs_changed();
  /* No more looks; ends every live run ("stopped"). */
  void stop();

  /* Records a look parses at most: a growth of thousands of records (the
     writer far ahead of the daemon) is parsed and queued for matching a
     slice at a time, the rest by a posted look (look_later), so the loop
     serves requests and other files in between. A look of 256 records
     costs a few tenths of a millisecond of the loop thread's CPU time
     (bench/loop_stall_bench.cpp, docs/performance.md). */
  static constexpr std::size_t records_per_look = 256;

 private:
  // How the bytes of a tracked file were read again on a look.
  enum class reread : std::uint8_t {
    same,   // the same content, maybe with more records
    reset,  // read from scratch: new content
    done,   // nothing more to do on this look (dropped, or a parse error kept)
  };
  enum class in_place : std::uint8_t { no, not_yet, yes };

  void look_now(const std::string& path, const watcher::cue& why);
  void look_at_new(const std::string& path, const struct stat& st, const watcher::cue& why);
  void look_at_tracked(tracked_file& tf, const struct stat& st, bool closed,
                       bool written_after_close);
  bool deferred_for_readers(tracked_file& tf, const struct stat& st, bool closed);
  bool left_as_read(const tracked_file& tf) const;  // file_runs_close.cpp
  static const std::string& close_test_hold();      // file_runs_close.cpp
  bool still_malformed(tracked_file& tf, const std::string& reason, std::uint64_t size);
  in_place rewritten_in_place(tracked_file& tf, const std::string& reason, std::uint64_t size,
                              std::int64_t mtime, bool closed, bool written_after_close);
  void hold_rewritten(tracked_file& tf, std::int64_t mtime);
  in_place rewrite_settled(tracked_file& tf, const std::string& reason, std::int64_t mtime,
                           bool closed);
  reread read_again(tracked_file& tf, std::string& reason, bool rewritten, std::uint64_t size);
  reread reopen_rewritten(tracked_file& tf, const std::string& reason);
  reread reopen_after_shrink(tracked_file& tf, std::string& reason);
  reread reopen_after_parse_error(tracked_file& tf, const std::string& reason,
                                  const error& parse_error, std::uint64_t size);
  bool open_again_or_drop(tracked_file& tf, const std::string& reason);
  void start_over(tracked_file& tf, const std::string& reason);
  void grew(tracked_file& tf, std::size_t first_new);
  void end_file(tracked_file& tf, const std::string& reason);
  void drop_removed_pairs(tracked_file& tf);
  void start_after_reload(tracked_file& tf, pair_info* pair, const std::string& end_reason);
  void look_later(const tracked_file& tf);
  void post_look(const std::string& path);
  // file_runs_room.cpp: room for more records, made on a worker.
  void make_room(tracked_file& tf);
  void take_room(tracked_file& tf);

  void track_new(const std::string& path, const struct stat& st, bool created);
  void file_gone(const std::string& path, const std::string& reason = "deleted");
  /* only_live: skips runs that are not live (continued ones). */
  void after_growth(tracked_file& tf, std::size_t first_new, bool only_live = false);
  std::shared_ptr<run_info> start_run(tracked_file& tf, const std::string& reason,
                                      pair_info* pair = nullptr);
  // One run per pair whose sample is tf (one without a pair if none);
  // with may_continue, an earlier run the file is unchanged since goes on
  // instead. Returns the runs started.
  std::vector<std::shared_ptr<run_info>> start_runs(tracked_file& tf, const std::string& reason,
                                                    bool may_continue = false);
  std::shared_ptr<run_info> unchanged_run(const tracked_file& tf, const std::string& pair,
                                          std::optional<file_fingerprint>& now);
  void continue_run(tracked_file& tf, run_info& r, pair_info* pair);
  void end_run(run_info& r, run_state how, const std::string& reason);
  void prune_runs();
  static bool watched_each_tick(const tracked_file& tf);
  std::vector<std::string> finished_share();
  void note_each_tick(const std::string& path);

  event_loop& loop_;
  daemon_state& state_;
  state_store* store_;
  watcher& files_;
  pair_sides& sides_;
  pair_scheduler& pairs_;
  worker_pool* pool_;
  archive* archive_ = nullptr;
  std::chrono::milliseconds quiet_{3000};
  std::uint32_t keep_runs_ = 200;
  bool stopped_ = false;
  std::set<std::string> looks_posted_;  // paths a posted look goes on with (look_later)
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // posted looks check it
  std::string finished_cursor_;      // the finished file the stat timer looked at last
  std::set<std::string> each_tick_;  // files watched_each_tick() at their last look
};

/* Publishes run_start or run_reset (with the run it replaces) for r. */
void publish_run_event(daemon_state& state, event_kind kind, const run_info& r,
                       const std::string& reason, const std::string& previous = {});
/* The current runs of tf, its primary run (tf.run) first. */
std::vector<std::shared_ptr<run_info>> runs_of(const daemon_state& state, const tracked_file& tf);
/* tf's tail_mark (pair_scheduler.h). */
tail_mark tail_of(const tracked_file& tf);
/* Whether f still holds those bytes: false once they changed or were cut
   off (the file started over since). Reads mapped bytes under the SIGBUS
   guard; safe on a worker that holds a lease on f. */
bool tail_holds(const dump_file& f, const tail_mark& t);
/* tf's fingerprint now (from its last look); nullopt if it cannot be read. */
std::optional<file_fingerprint> fingerprint_of(const tracked_file& tf);
/* st's mtime in nanoseconds, as tracked_file::mtime_ns counts. */
std::int64_t mtime_of(const struct stat& st);
/* The steady clock in milliseconds, as tracked_file::last_change_ms counts. */
std::int64_t steady_now_ms();

// Shared by the file_runs*.cpp files.
/* Opens path for a look: at most file_runs::records_per_look records
   parsed (file_runs_rewrite.cpp). */
result<dump_file> open_for_look(const std::string& path);
/* f with the records it left for later parsed too. */
result<dump_file> read_to_end(dump_file f);
/* Why tf's content would have started over, should reading it show that it
   did: "replaced", "truncated" or "rewritten". */
std::string start_over_reason(const tracked_file& tf, const struct stat& st);
/* Notes the hash of the last 4 KiB of tf's complete records and of their
   last 64 bytes (file_runs_content.cpp). */
void note_tail(tracked_file& tf);
/* Whether those last 64 bytes changed since note_tail: a writer writing the
   file again from its start got past the old end. */
bool end_changed(const tracked_file& tf);
/* Whether the noted tail changed since (or vanished: the file was cut). */
bool tail_changed(const tracked_file& tf);

}  // namespace sigdump::daemon
