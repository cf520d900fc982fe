#include "platform/worker_pool.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <system_error>

#include "platform/log.h"

namespace sigdump::daemon {

namespace {

// The calling thread's nice value (Linux: per thread).
int own_nice() {
  errno = 0;
  const int n = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
  return errno == 0 ? n : 0;
}

}  // namespace

worker_pool::worker_pool(unsigned threads, std::string name, int nicer) : name_(std::move(name)) {
  if (threads == 0) threads = 1;
  const int nice = nicer > 0 ? std::min(own_nice() + nicer, 19) : 0;
  threads_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) {
    try {
      threads_.emplace_back([this, nice] { work(nice); });
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

void worker_pool::work(int nice) {
  // Before the first job, so everything the pool runs runs so. Neither can
  // fail for the thread's own name (cut to 15 characters) and a nicer value.
  const std::string name = name_.substr(0, 15);
  ::pthread_setname_np(::pthread_self(), name.c_str());
  if (nice > own_nice() && ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice) != 0) {
    log(log_level::warning,
        "cannot lower the priority of a " + name + " thread: " + std::strerror(errno));
  }
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
