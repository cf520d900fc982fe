// Crash-safe persistence of runs in the state folder: one append-only NDJSON
// log per run (runs/rN.ndjson: a start line, one line per layer, an end
// line), tolerant of a torn last line, plus index.json (next run number)
// written temp + fsync + rename. Loop thread only; the syncs (a run's new
// index, a finished log's fdatasync) run in order on a thread of its own,
// so a slow disk does not hold up the loop.
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

  /* Opens the run's log and writes its start line; sets r.persisted. */
  void run_started(run_info& r);
  /* Appends one layer line (with the run's first_bad/diagnosis so far). */
  void layer_added(const run_info& r, const layer_result& l);
  /* Appends the end line; the log is synced and closed on the sync thread. */
  void run_ended(const run_info& r);
  /* Waits for the sync thread's queue, then syncs every open log (shutdown). */
  void sync_all();
  /* Deletes a run's log (pruning past keep_runs). */
  void remove(std::uint64_t run);

  const std::string& dir() const noexcept { return dir_; }

 private:
  explicit state_store(std::string dir) : dir_(std::move(dir)) {}
  /* The sync thread, started at its first job: after the daemon blocked
     the signals that only its signalfd may take. */
  worker_pool& syncer();
  std::string log_path(std::uint64_t run) const;
  void append(std::uint64_t run, const std::string& line);

  std::string dir_;
  std::map<std::uint64_t, ipc::unique_fd> open_;  // logs of live runs
  std::unique_ptr<worker_pool> syncer_;           // one thread: syncs in order; null until used
};

/* Serializes a layer_result with every member (round-trips exactly). */
std::string layer_record_json(const layer_result& l);

}  // namespace sigdump::daemon
