// Crash-safe persistence of runs in the state folder: one append-only NDJSON
// log per run (runs/rN.ndjson: a start line, one line per layer, an end
// line), tolerant of a torn last line, plus index.json (next run number)
// written temp + fsync + rename. A line that cannot be written (a full
// disk) is kept in memory, in order, and written by retry() once the disk
// takes it again; until then the run is not `persisted`. Loop thread only;
// the syncs (a run's new index, a finished log's fdatasync) run in order on
// a thread of their own, so a slow disk does not hold up the loop.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "platform/worker_pool.h"
#include "sigdump/error.h"
#include "sigdump/ipc/unique_fd.h"
#include "state/daemon_state.h"

namespace sigdump::daemon {

class state_store {
 public:
  /* Creates dir (0700) and dir/runs if needed. */
  static result<state_store> open(const std::string& dir);

  state_store(state_store&&) noexcept = default;
  state_store& operator=(state_store&&) noexcept = default;

  /* Reads every run log into runs (ended; a run without an end line ends
     with reason "restart"), repairing torn tails. Returns the next run
     number: past both index.json and every log found. */
  result<std::uint64_t> load(std::map<std::uint64_t, std::shared_ptr<run_info>>& runs);

  /* Records the next run number (temp + fsync + rename). */
  result<void> write_index(std::uint64_t next_run);
  /* The same on the sync thread (a run start); a failure is logged. */
  void write_index_later(std::uint64_t next_run);

  /* Opens the run's log and writes its start line. Each of these sets
     r.persisted: whether every line of r so far is in its log. */
  void run_started(run_info& r);
  /* Appends one layer line (with the run's first_bad/diagnosis so far). */
  void layer_added(run_info& r, const layer_result& l);
  /* Appends the end line, syncs and closes the log. */
  void run_ended(run_info& r);
  /* r is compared again against another benchmark run (r.benchmark_run):
     the layers logged so far are void. */
  void run_rebenched(run_info& r);
  /* Writes the lines kept in memory, oldest run first, and marks the runs
     of `runs` whose lines are all on disk again as persisted. */
  void retry(const std::map<std::uint64_t, std::shared_ptr<run_info>>& runs);
  /* Writes what it can of the lines kept in memory, syncs every open log
     (shutdown); logs what could not be written. */
  void sync_all();
  /* Deletes a run's log (pruning past keep_runs). */
  void remove(std::uint64_t run);

  const std::string& dir() const noexcept { return dir_; }
  /* Bytes of run log lines kept in memory because they could not be
     written (0: everything is on disk). */
  std::uint64_t unsaved_bytes() const noexcept;
  /* Writes to the state folder that failed since the start. */
  std::uint64_t write_failures() const noexcept { return failures_; }
  /* The newest write error; empty when none happened. */
  const std::string& last_error() const noexcept { return last_error_; }

 private:
  explicit state_store(std::string dir) : dir_(std::move(dir)) {}
  /* The sync thread, started at its first job: after the daemon blocked
     the signals that only its signalfd may take. */
  worker_pool& syncer();
  std::string log_path(std::uint64_t run) const;
  void append(run_info& r, const std::string& line);
  bool flush(std::uint64_t run);
  void failed(const std::string& what, int err);

  std::string dir_;
  std::map<std::uint64_t, ipc::unique_fd> open_;  // logs of live runs
  std::unique_ptr<worker_pool> syncer_;           // one thread: syncs in order; null until used
  std::map<std::uint64_t, std::string> backlog_;  // lines not written yet, by run
  std::map<std::uint64_t, bool> closing_;         // ended: sync and close once written
  std::uint64_t failures_ = 0;
  std::string last_error_;
  bool stuck_ = false;     // lines are waiting (logged once until they are written)
  std::string test_fail_;  // SIGDUMP_STATE_TEST_FAIL: writes fail while this file exists
};

/* Serializes a layer_result with every member (round-trips exactly). */
std::string layer_record_json(const layer_result& l);

}  // namespace sigdump::daemon
