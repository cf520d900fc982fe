// The optional run archive ("archive": {"dir", "max_bytes"}): every run's
// dump is copied, as it grows, to DIR/rN-BASENAME, so a run the simulator
// overwrites can still be queried. Bytes move in the kernel
// (copy_file_range, or sendfile across filesystems) on a copier thread of
// the archive's own, and only up to what the parser verified (complete
// records); when the run ends, also the trailer after its last record
// (checked to be one), then the copy is fdatasync'ed on a thread of its own, so
// a sync never holds up the next copy: a copy that lags is one a truncation
// can cut short (a short copy is marked so). A metric worker that compared
// a record the copier has not reached yet copies up to it itself
// (copy_fill, archive_copier.h), so the copy holds what was compared. DIR/archive.json (temp +
// fsync + rename) lists the copies so they are found again after a restart; DIR/.lock keeps one
// daemon per folder. Loop thread only, except where said.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/daemon_options.h"
#include "platform/event_loop.h"
#include "platform/worker_pool.h"
#include "sigdump/error.h"
#include "sigdump/ipc/unique_fd.h"
#include "sigdump/mapping.h"
#include "state/daemon_state.h"

namespace sigdump::daemon {

struct copy_channel;  // export/archive_copier.h
struct copy_outcome;

class archive {
 public:
  /* What the archive knows of one archived run (tests, diagnostics). */
  struct copy_info {
    std::string path;            // DIR/rN-BASENAME
    std::string source;          // the dump file it copies
    std::uint64_t bytes = 0;     // bytes copied (a prefix of verified records)
    bool live = false;           // its run is in progress: never evicted
    bool busy = false;           // a copy is running on the copier thread
    bool failed = false;         // a write error stopped it for good
    bool synced = false;         // its run ended and the copy was fdatasync'ed after its last
                                 // byte; the index says "synced" only from then on
    std::uint64_t verified = 0;  // bytes of complete records the run read from its file
    bool short_copy = false;     // the file started over (truncated, cut, written over)
                                 // before the copier reached `verified`: the copy lacks
                                 // records the run read, and may lack layers it compared
  };

  /* What the archive holds, for `status`. */
  struct usage {
    std::string dir;
    std::uint64_t bytes = 0;      // bytes of every copy (as budgeted)
    std::uint64_t max_bytes = 0;  // budget; 0: none
    std::uint64_t copies = 0;     // copies kept (live ones included)
    std::uint64_t copying = 0;    // copies still being made (live run, copy or sync running)
    std::uint64_t failed = 0;     // copies a write error stopped
    std::string last_error;       // the newest archiving error; empty: none
  };

  /* Creates dir (0700) if needed, locks DIR/.lock and reads DIR/archive.json
     (copies whose file is gone are dropped). Errors name the folder. The
     archive registers itself as state.run_archive and unregisters when
     destroyed. */
  static result<std::unique_ptr<archive>> open(const archive_config& config, event_loop& loop,
                                               daemon_state& state);
  /* Stops copying (see stop()) and joins the copier thread. */
  ~archive();
  archive(const archive&) = delete;
  archive& operator=(const archive&) = delete;

  /* A new run of tf began: opens the source (same inode as tf's mapping)
     and creates its copy; a copy left with the same run number by an older
     state folder is replaced. A run that is not tf's primary run (tf.run;
     one file, several pairs) shares the primary run's copy. */
  void run_started(const run_info& r, const tracked_file& tf);
  /* tf (whose current run is r) grew or went on after it looked finished:
     copies up to tf.parsed in the background. */
  void grew(const run_info& r, const tracked_file& tf);
  /* r ended. With r.state == reset the file now holds another run: nothing
     more is copied for r (its copy keeps what it had). Otherwise the copy
     finishes what was verified, plus the bytes after the last record when
     they are only a trailer or blank lines (never a cut record). Either way
     the copy is then fdatasync'ed on the copier thread before the index
     calls it synced, and the run becomes evictable. */
  void run_ended(const run_info& r);
  /* r, an ended run read back from the state folder, is again the run of
     its unchanged file tf (a restart): its copy is kept when it is whole
     (and follows the file if it grows), else it is made again. */
  void run_continued(const run_info& r, const tracked_file& tf);
  /* Starts a copy, from byte 0, of every live run in state.files that has
     none (archiving turned on by a reload while runs were live), as
     run_started and grew would have. */
  void adopt_live_runs();
  /* New byte budget (0: none); evicts at once if over it. */
  void set_budget(std::uint64_t max_bytes);
  /* Cancels copies in flight, waits for the copier, writes the index.
     Idempotent; later calls of the hooks do nothing. */
  void stop();

  /* The copy of the run whose bytes tf holds now (tf.run, or the run whose
     copy it shares) while it may still grow and copies tf's inode, else
     null: a metric worker fills it up to the bytes it compared when the
     copier lags (copy_fill, archive_copier.h). */
  std::shared_ptr<copy_channel> growing_copy(const tracked_file& tf) const;
  /* Whether run `number`'s copy can no longer grow: listed, and nothing of
     it is copying, syncing or still to come (its run ended, or the copier
     stopped). */
  bool copy_final(std::uint64_t number) const;
  /* fn(run) is called (in a posted call on the loop; by stop() at once)
     once a copy becomes final, for its run and the runs sharing it. */
  void on_final(std::function<void(std::uint64_t)> fn) { on_final_ = std::move(fn); }
  /* The archived copy of run `number` opened as a tracked file (its own
     dump_file, reused while the copy does not change), or an error saying
     why not (no copy, evicted, unreadable). keep = false: not cached for
     later calls (a one-off read: the scheduler's comparisons from copies,
     which would otherwise keep one mapping per archived run). */
  result<std::shared_ptr<tracked_file>> open_copy(std::uint64_t number, bool keep = true);
  /* The copy at `path` (of run `number`) opened and parsed as open_copy
     does, uncached: any thread (a worker reading whole copies). */
  static result<std::shared_ptr<tracked_file>> read_copy(const std::string& path,
                                                         std::uint64_t number);
  /* Run `number` was dropped past keep_runs: the reader open_copy kept for
     its copy is let go (no request names the run any more), so the copies
     held open, and their mappings, are bounded by keep_runs. The copy
     itself stays until the budget evicts it. */
  void run_pruned(std::uint64_t number);

  const std::string& dir() const noexcept { return dir_; }
  std::uint64_t max_bytes() const noexcept { return max_bytes_; }
  /* Bytes of every copy, as accounted for the budget. */
  std::uint64_t total_bytes() const noexcept { return total_; }
  /* The copy of run `number`, or nullopt. */
  std::optional<copy_info> find(std::uint64_t number) const;
  /* True when no copy, sync or index write is running or waiting (tests). */
  bool idle() const noexcept;
  /* Totals for `status`. */
  usage summary() const;

 private:
  using channel = copy_channel;  // source + copy descriptors, shared with the copier
  using outcome = copy_outcome;  // what one copy job reports back
  struct entry {
    copy_info info;
    std::string file;                      // BASENAME part: rN-...
    file_identity source_id;               // the source inode the run was parsed from
    std::uint64_t target = 0;              // verified bytes of the source (complete records)
    std::uint64_t records_end = 0;         // end of the last record the run read: a copy
                                           // short of it lacks a record (short_copy)
    bool done = false;                     // reset, failed or stopped: copy no more
    bool ending = false;                   // run ended: the next job is the last (rest, sync)
    bool tail_ok = false;                  // the parser saw no cut record at the run's end
    std::shared_ptr<channel> io;           // open while it may still grow
    std::vector<std::uint64_t> aliases;    // other runs of the same bytes (other pairs)
    std::shared_ptr<tracked_file> reader;  // cached open_copy()
    std::uint64_t reader_size = 0;         // copy size when reader was opened
  };

  archive(std::string dir, std::uint64_t max_bytes, event_loop& loop, daemon_state& state,
          ipc::unique_fd lock);
  void load_index();
  void write_index();
  void index_written(const std::string& err);
  void schedule(std::uint64_t number, entry& e);
  void schedule_final(std::uint64_t number, entry& e);
  void set_error(std::string text);
  void on_outcome(std::uint64_t number, const outcome& o);
  /* Forgets a copy; remove_file: its file is deleted (not when a new copy
     takes its name and is created over it). */
  void drop(std::map<std::uint64_t, entry>::iterator it, bool remove_file = true);
  /* e's bytes as the channel has them (a metric worker may have filled
     the copy since the copier's last outcome). */
  void take_copied(entry& e);
  /* The parser's word on tf: e's target and records_end go up to it. */
  static void raise_target(entry& e, const tracked_file& tf);
  /* e's copy is read through tf's mapping (its path names another inode):
     the copier gets tf's larger mapping of the same inode. */
  static void follow_mapping(entry& e, const tracked_file& tf);
  void now_final(std::uint64_t number);
  /* The copy's run and the runs sharing it. */
  std::vector<std::uint64_t> sharing(std::uint64_t number) const;
  void evict();
  std::uint64_t primary(std::uint64_t number) const;

  std::string dir_;
  std::uint64_t max_bytes_ = 0;
  event_loop& loop_;
  daemon_state& state_;
  ipc::unique_fd lock_;
  std::map<std::uint64_t, entry> entries_;        // by run number (oldest first)
  std::map<std::uint64_t, std::uint64_t> alias_;  // run sharing a copy -> the copy's run
  std::uint64_t total_ = 0;
  bool stopped_ = false;
  bool index_error_logged_ = false;
  std::string last_error_;      // newest error, for status
  std::string test_hold_;       // $SIGDUMP_ARCHIVE_TEST_HOLD (test_hold)
  std::string test_open_hold_;  // $SIGDUMP_ARCHIVE_TEST_OPEN_HOLD (run_started)
  std::function<void(std::uint64_t)> on_final_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // posted outcomes check it
  struct index_body {
    std::mutex m;
    std::optional<std::string> pending;  // the newest archive.json not yet written
    int writes = 0;  // loop thread: writes queued whose outcome has not come back
  };
  std::shared_ptr<index_body> index_ = std::make_shared<index_body>();
  struct dropped_files {
    std::mutex m;
    std::set<std::string> paths;  // dropped copies whose file the copier has not deleted yet
  };
  std::shared_ptr<dropped_files> dropped_ = std::make_shared<dropped_files>();
  // writes archive.json; joined before the members above go
  worker_pool indexer_{1, "archive-index"};
  // fdatasyncs ended runs' copies; joined after the copier
  worker_pool syncer_{1, "archive-sync"};
  // last: joined first, while the members above still exist
  worker_pool copier_{1, "archive-copier"};
};

/* Applies config to slot (SIGHUP too): opens the archive when a folder is
   configured, changes the budget when only it changed, stops and closes it
   when the folder changed or is gone. Errors are logged (archiving stays
   off), never fatal. */
void apply_archive_config(std::unique_ptr<archive>& slot, const archive_config& config,
                          event_loop& loop, daemon_state& state);

}  // namespace sigdump::daemon
