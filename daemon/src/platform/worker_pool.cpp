#include "platform/worker_pool.h"

#include <pthread.h>

#include <exception>
#include <system_error>

#include "platform/log.h"

namespace sigdump::daemon {

worker_pool::worker_pool(unsigned threads, std::string name) : name_(std::move(name)) {
  if (threads == 0) threads = 1;
  threads_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) {
    try {
      threads_.emplace_back([this] { work(); });
    } catch (const std::system_error& e) {
      start_error_ = e.what();
      log(log_level::warning, "cannot start a worker thread (" + start_error_ + "); running with " +
                                  std::to_string(threads_.size()) + " of " +
                                  std::to_string(threads));
      break;
    }
  }
  if (!threads_.empty()) start_error_.clear();
}

worker_pool::~worker_pool() { shutdown(); }

void worker_pool::submit(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

std::size_t worker_pool::shutdown() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    dropped.swap(jobs_);
  }
  cv_.notify_all();
  // Destroyed outside the lock and before waiting for the running jobs: a
  // job's captures may be the last owners of mappings and descriptors.
  const std::size_t n = dropped.size();
  dropped.clear();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  return n;
}

std::size_t worker_pool::failed_jobs() const {
  std::lock_guard lock(mutex_);
  return failed_;
}

void worker_pool::work() {
  // Its own name, cut to what the kernel keeps (a longer one is refused).
  ::pthread_setname_np(::pthread_self(), name_.substr(0, 15).c_str());
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_ || jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    try {
      job();
    } catch (const std::exception& e) {
      log(log_level::err, std::string("a worker job failed: ") + e.what());
      std::lock_guard lock(mutex_);
      ++failed_;
    } catch (...) {
      log(log_level::err, "a worker job failed with an unknown exception");
      std::lock_guard lock(mutex_);
      ++failed_;
    }
  }
}

}  // namespace sigdump::daemon
