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
#include <string>
#include <vector>

#include "core/pair_scheduler.h"
#include "core/pair_sides.h"
#include "core/watcher.h"
#include "state/daemon_state.h"
#include "state/state_store.h"

namespace sigdump::daemon {

class archive;  // archive.h

class file_runs {
 public:
  /* store may be null (no persistence). */
  file_runs(daemon_state& state, state_store* store, watcher& files, pair_sides& sides,
            pair_scheduler& pairs)
      : state_(state), store_(store), files_(files), sides_(sides), pairs_(pairs) {}

  /* How long a live file may sit still before its runs end ("quiet"), and
     how many runs are kept (the oldest ended ones go first). */
  void configure(std::chrono::milliseconds quiet, std::uint32_t keep_runs);
  /* Where runs are copied as they are written; null: nowhere. */
  void set_archive(archive* a) { archive_ = a; }

  /* Looks at one path now: tracks a new dump, reads what was appended to
     a tracked one, or notices it was replaced, truncated, rewritten in
     place, closed or deleted. */
  void look(const std::string& path, const watcher::cue& why = {});
  /* Looks at every tracked file (writes through mmap raise no inotify
     event) and ends the runs of those quiet for too long. */
  void poll();
  /* The pairs changed (a reload): a tracked file that is the sample of a
     pair it has no run for starts one (reason "started") and is compared
     as it is on disk; when the file is finished, so is the run. */
  void pairs_changed();
  /* No more looks; ends every live run ("stopped"). */
  void stop();

 private:
  // How the bytes of a tracked file were read again on a look.
  enum class reread : std::uint8_t {
    same,   // the same content, maybe with more records
    reset,  // read from scratch: new content
    done,   // nothing more to do on this look (dropped, or a parse error kept)
  };
  enum class in_place : std::uint8_t { no, not_yet, yes };

  void look_at_new(const std::string& path, const struct stat& st, const watcher::cue& why);
  void look_at_tracked(tracked_file& tf, const struct stat& st, bool closed,
                       bool written_after_close);
  bool deferred_for_readers(tracked_file& tf, const struct stat& st, bool closed);
  bool still_malformed(tracked_file& tf, const std::string& reason, std::uint64_t size);
  in_place rewritten_in_place(tracked_file& tf, const std::string& reason, std::uint64_t size,
                              std::int64_t mtime, bool closed, bool written_after_close);
  reread read_again(tracked_file& tf, std::string& reason, bool rewritten, std::uint64_t size);
  reread reopen_rewritten(tracked_file& tf, const std::string& reason);
  reread reopen_after_shrink(tracked_file& tf, std::string& reason);
  reread reopen_after_parse_error(tracked_file& tf, const std::string& reason,
                                  const error& parse_error, std::uint64_t size);
  bool open_again_or_drop(tracked_file& tf, const std::string& reason);
  void start_over(tracked_file& tf, const std::string& reason);
  void grew(tracked_file& tf, std::size_t first_new);
  void end_file(tracked_file& tf, const std::string& reason);

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

  daemon_state& state_;
  state_store* store_;
  watcher& files_;
  pair_sides& sides_;
  pair_scheduler& pairs_;
  archive* archive_ = nullptr;
  std::chrono::milliseconds quiet_{3000};
  std::uint32_t keep_runs_ = 200;
  bool stopped_ = false;
};

/* The current runs of tf, its primary run (tf.run) first. */
std::vector<std::shared_ptr<run_info>> runs_of(const daemon_state& state, const tracked_file& tf);
/* tf's fingerprint now (from its last look); nullopt if it cannot be read. */
std::optional<file_fingerprint> fingerprint_of(const tracked_file& tf);
/* The steady clock in milliseconds, as tracked_file::last_change_ms counts. */
std::int64_t steady_now_ms();

}  // namespace sigdump::daemon
