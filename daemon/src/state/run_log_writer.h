// The writes of the run logs (state_store): each line is queued on the
// loop thread and written, in order per run, on the store's own thread (the
// one that also writes index.json and syncs an ended log), so no open,
// write or sync of the state folder runs on the event loop and a slow disk
// does not hold it up. A line the folder refuses (a full disk) waits in
// memory, in order, until retry() writes it. Once attached to the loop,
// each write that reached a log is reported back to it, so a run is
// `persisted` only once every line of it is in its log.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "platform/worker_pool.h"

namespace sigdump::daemon {

class run_log_writer {
 public:
  using poster = std::function<void(std::function<void()>)>;
  /* Runs on the loop thread after lines of `run` reached its log. */
  using written_fn = std::function<void(std::uint64_t run)>;

  /* Logs go to dir/runs/rN.ndjson; while the file test_fail names exists,
     writes fail with ENOSPC (SIGDUMP_STATE_TEST_FAIL; empty: never). */
  run_log_writer(std::string dir, std::string test_fail);
  /* Joins the thread; what is still queued is dropped (sync_all() first). */
  ~run_log_writer();
  run_log_writer(const run_log_writer&) = delete;
  run_log_writer& operator=(const run_log_writer&) = delete;

  /* From here on lines are written on the thread and each write is
     reported through post(written). Before, append() writes on the calling
     thread (a store nobody attached: tests, tools). */
  void attach(poster post, written_fn written);
  /* No more reports (the loop is going away). */
  void detach();

  /* Queues a line of run (behind its lines still waiting); `ends`: the
     log is synced and closed once the line is written. Returns whether
     every line of run is in its log now (false until reported, attached). */
  bool append(std::uint64_t run, std::string line, bool ends);
  /* The same for the line render() returns, called where the line is
     written (a big line is not rendered on the loop). */
  bool append_rendered(std::uint64_t run, std::function<std::string()> render, bool ends);
  /* Whether every line of run queued so far is in its log. */
  bool all_written(std::uint64_t run) const;
  /* When lines wait after a refused write: writes them, oldest run first,
     until one is refused again. */
  void retry();
  /* Drops run's waiting lines and deletes its log (after its queued writes). */
  void remove(std::uint64_t run);
  /* Runs job on the thread, after what is queued (inline without one). */
  void later(std::function<void()> job);
  /* Waits for the queued writes, writes what it can of the waiting lines,
     syncs every open log; logs what could not be written (shutdown). */
  void sync_all();

  /* Bytes of lines waiting in memory because a write was refused. */
  std::uint64_t unsaved_bytes() const;
  std::uint64_t failures() const;
  std::string last_error() const;

 private:
  struct shared;
  worker_pool* thread();
  bool attached() const;
  bool add(std::uint64_t run, std::string text, std::function<std::string()> render, bool ends);
  /* Runs job on the thread and waits for it (inline without one). */
  void now(const std::function<void()>& job);

  std::unique_ptr<shared> s_;
  std::unique_ptr<worker_pool> thread_;  // one: writes in order; null until used
};

}  // namespace sigdump::daemon
