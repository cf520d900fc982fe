// A fixed set of threads running jobs off the loop thread (layer metrics,
// compare requests, archive copies). Results go back to the loop with
// event_loop::post(). The daemon's pools are named (top -H, gdb,
// /proc/PID/task/TID/comm).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sigdump::daemon {

class worker_pool {
 public:
  /* Starts up to `threads` workers (at least one asked for), named `name`
     (cut to 15 characters; each thread names itself before its first job).
     Threads the system refuses (a task limit) are logged; size() says how
     many run, and a pool of size 0 must not be used (start_error() says
     why). */
  explicit worker_pool(unsigned threads, std::string name = "worker");
  /* shutdown(). */
  ~worker_pool();
  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;

  /* Queues a job (FIFO); thread-safe. A job that throws is logged and
     counted, never the end of the process: jobs whose results someone waits
     for catch their own errors and report them. */
  void submit(std::function<void()> job);
  /* Stops taking jobs, drops what is still queued (a stopping daemon does
     not start work nobody will read), waits for the running jobs, joins the
     threads. Idempotent. Returns how many queued jobs were dropped. */
  std::size_t shutdown();
  unsigned size() const noexcept { return static_cast<unsigned>(threads_.size()); }
  /* Why no thread could be started (empty when size() > 0). */
  const std::string& start_error() const noexcept { return start_error_; }
  /* Jobs that ended with an exception so far. */
  std::size_t failed_jobs() const;

 private:
  void work();
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::size_t failed_ = 0;
  std::string name_;
  std::string start_error_;
  std::vector<std::thread> threads_;
};

}  // namespace sigdump::daemon
