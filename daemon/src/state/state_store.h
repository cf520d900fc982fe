// Crash-safe persistence of runs in the state folder: one append-only NDJSON
// log per run (runs/rN.ndjson: a start line, one line per layer, an end
// line), tolerant of a torn last line, plus index.json (next run number)
// written temp + fsync + rename. A line that cannot be written (a full
// disk) is kept in memory, in order, and written by retry() once the disk
// takes it again; until then the run is not `persisted`. Loop thread only;
// once attach()ed, every disk operation (a log's open, its lines, its
// fdatasync, a run's new index) runs in order on a thread of its own
// (run_log_writer), so a slow disk does not hold up the loop.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "platform/event_loop.h"
#include "sigdump/error.h"
#include "state/daemon_state.h"
#include "state/run_log_writer.h"

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

  /* From here on the run logs are written on the store's thread, and a
     run of `runs` is marked persisted on the loop once its lines are in its
     log. Both must outlive the store, or detach() first. */
  void attach(event_loop& loop, std::map<std::uint64_t, std::shared_ptr<run_info>>& runs);
  /* No more reports to the loop (it is going away). */
  void detach();

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
  /* Writes the lines kept in memory, oldest run first (on the store's
     thread; each run is marked persisted once its lines are written). */
  void retry();
  /* Writes what it can of the lines kept in memory, syncs every open log
     (shutdown); logs what could not be written. */
  void sync_all();
  /* Deletes a run's log (pruning past keep_runs). */
  void remove(std::uint64_t run);

  const std::string& dir() const noexcept { return dir_; }
  /* Bytes of run log lines kept in memory because they could not be
     written (0: everything is on disk). */
  std::uint64_t unsaved_bytes() const { return writer_->unsaved_bytes(); }
  /* Writes to the state folder that failed since the start. */
  std::uint64_t write_failures() const { return writer_->failures(); }
  /* The newest write error; empty when none happened. */
  std::string last_error() const { return writer_->last_error(); }

 private:
  state_store(std::string dir, std::string test_fail)
      : dir_(std::move(dir)),
        writer_(std::make_unique<run_log_writer>(dir_, std::move(test_fail))) {}
  void append(run_info& r, std::string line, bool ends = false);

  std::string dir_;
  std::unique_ptr<run_log_writer> writer_;  // the logs' lines, on its thread once attached
};

/* Serializes a layer_result with every member (round-trips exactly). */
std::string layer_record_json(const layer_result& l);

}  // namespace sigdump::daemon
