// A fixed set of threads running jobs off the loop thread (layer metrics).
// Results go back to the loop with event_loop::post().
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sigdump::daemon {

class worker_pool {
 public:
  /* Starts `threads` workers (at least one). */
  explicit worker_pool(unsigned threads);
  /* Finishes the queued jobs, then joins. */
  ~worker_pool();
  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;

  /* Queues a job (FIFO); thread-safe. */
  void submit(std::function<void()> job);
  /* Stops taking jobs, runs what is queued, joins the threads. Idempotent. */
  void shutdown();
  unsigned size() const noexcept { return static_cast<unsigned>(threads_.size()); }

 private:
  void work();
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace sigdump::daemon
