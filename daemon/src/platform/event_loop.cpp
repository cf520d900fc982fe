#include "platform/event_loop.h"

#include <liburing.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "platform/log.h"
#include "sigdump/ipc/unique_fd.h"

namespace sigdump::daemon {

namespace {

using clock_type = std::chrono::steady_clock;

// How long posted calls may run before the loop looks at its descriptors.
constexpr auto posted_slice = std::chrono::milliseconds(1);
using ipc::unique_fd;

std::unexpected<error> sys_error(const char* call) {
  return make_error(errc::io, {}, no_record, no_offset,
                    std::string(call) + " failed: " + std::strerror(errno));
}

// The start of the callback running on the loop thread (the epoch between).
thread_local clock_type::time_point began_{};

// Timers, posts and the watch table are the same for both kernels; the
// subclasses only arm fds and wait for readiness.
class loop_base : public event_loop {
 public:
  loop_base() = default;

  result<void> init_wake() {
    wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake_) return sys_error("eventfd");
    return {};
  }

  watch_id watch_fd(int fd, bool read, bool write, fd_callback cb) override {
    watch_id id = next_watch_++;
    auto& w = watches_[id];
    w.fd = fd;
    w.read = read;
    w.write = write;
    w.cb = std::make_shared<fd_callback>(std::move(cb));
    arm(id, w, true);
    return id;
  }

  void modify(watch_id id, bool read, bool write) override {
    auto it = watches_.find(id);
    if (it == watches_.end()) return;
    if (it->second.read == read && it->second.write == write) return;
    it->second.read = read;
    it->second.write = write;
    arm(id, it->second, false);
  }

  void unwatch(watch_id id) override {
    auto it = watches_.find(id);
    if (it == watches_.end()) return;
    disarm(id, it->second);
    watches_.erase(it);
  }

  timer_id add_timer(std::chrono::milliseconds delay, bool repeat,
                     std::function<void()> cb) override {
    timer_id id = next_timer_++;
    if (delay.count() < 0) delay = std::chrono::milliseconds(0);
    timers_[id] = timer{delay, repeat, std::make_shared<std::function<void()>>(std::move(cb))};
    due_.push({clock_type::now() + delay, id});
    return id;
  }

  void cancel_timer(timer_id id) override { timers_.erase(id); }

  void post(std::function<void()> fn) override {
    {
      std::lock_guard lock(posted_mutex_);
      posted_.push_back(std::move(fn));
    }
    wake();
  }

  void stop() override {
    stopping_.store(true);
    wake();
  }

  result<void> run() override {
    // A stop() that came before run() still counts; the flag is cleared on
    // the way out so the loop can be run again.
    while (!stopping_.load()) {
      int timeout = next_timeout_ms();
      auto r = wait(timeout);
      if (!r) {
        stopping_.store(false);
        return r;
      }
      run_due_timers();
      run_posted();
    }
    stopping_.store(false);
    return {};
  }

 protected:
  struct watch {
    int fd = -1;
    bool read = false, write = false;
    std::uint64_t token = 0;  // io_uring: user_data of the armed poll
    bool armed = false;
    std::shared_ptr<fd_callback> cb;
  };

  // (Re)arms interest in the kernel; fresh: first time for this id.
  virtual void arm(watch_id id, watch& w, bool fresh) = 0;
  virtual void disarm(watch_id id, watch& w) = 0;
  // Waits up to timeout_ms (-1: forever) and dispatches ready fds.
  virtual result<void> wait(int timeout_ms) = 0;

  void dispatch(watch_id id, bool readable, bool writable, bool hangup) {
    auto it = watches_.find(id);
    if (it == watches_.end()) return;
    // Keep the callback alive even if it unwatches itself.
    auto cb = it->second.cb;
    timed([&] { (*cb)(readable, writable, hangup); });
  }

  callback_stats stats() const noexcept override { return stats_; }

  // Runs fn, adding its thread CPU time and wall time to stats_.
  template <typename F>
  void timed(F&& fn) {
    const auto wall0 = clock_type::now();
    const std::uint64_t cpu0 = thread_cpu_ns();
    began_ = wall0;
    fn();
    began_ = {};
    const std::uint64_t cpu = thread_cpu_ns() - cpu0;
    const auto wall = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - wall0).count());
    ++stats_.callbacks;
    stats_.longest_cpu_ns = std::max(stats_.longest_cpu_ns, cpu);
    stats_.longest_wall_ns = std::max(stats_.longest_wall_ns, wall);
    if (cpu > static_cast<std::uint64_t>(
                  std::chrono::duration_cast<std::chrono::nanoseconds>(stall_budget).count())) {
      ++stats_.over_budget;
    }
  }

  void drain_wake() {
    std::uint64_t v = 0;
    [[maybe_unused]] auto n = ::read(wake_.get(), &v, sizeof v);
  }

  int next_timeout_ms() {
    if (!ready_.empty()) return 0;
    {
      std::lock_guard lock(posted_mutex_);
      if (!posted_.empty()) return 0;
    }
    while (!due_.empty() && !timers_.contains(due_.top().id)) due_.pop();
    if (due_.empty()) return -1;
    auto left = due_.top().when - clock_type::now();
    if (left <= clock_type::duration::zero()) return 0;
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    return static_cast<int>(std::min<long long>(ms, 60'000));
  }

  std::unordered_map<watch_id, watch> watches_;
  unique_fd wake_;

 private:
  void wake() {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);
  }

  void run_due_timers() {
    auto now = clock_type::now();
    while (!due_.empty() && due_.top().when <= now) {
      auto d = due_.top();
      due_.pop();
      auto it = timers_.find(d.id);
      if (it == timers_.end()) continue;
      auto cb = it->second.cb;
      if (it->second.repeat) {
        due_.push({now + it->second.period, d.id});
      } else {
        timers_.erase(it);
      }
      timed([&] { (*cb)(); });
      if (stopping_.load()) return;
    }
  }

  // Runs what was posted for about a millisecond at most; the rest waits
  // until the descriptors and timers were looked at (a thousand results
  // posted by the workers at once do not hold up a request).
  void run_posted() {
    if (ready_.empty()) {
      std::vector<std::function<void()>> batch;
      {
        std::lock_guard lock(posted_mutex_);
        batch.swap(posted_);
      }
      for (auto& fn : batch) ready_.push_back(std::move(fn));
    }
    const auto end = clock_type::now() + posted_slice;
    while (!ready_.empty()) {
      auto fn = std::move(ready_.front());
      ready_.pop_front();
      timed(fn);
      if (clock_type::now() >= end) break;
    }
  }

  callback_stats stats_;

  struct timer {
    std::chrono::milliseconds period;
    bool repeat = false;
    std::shared_ptr<std::function<void()>> cb;
  };
  struct due_entry {
    clock_type::time_point when;
    timer_id id;
    bool operator>(const due_entry& o) const { return when > o.when; }
  };

  watch_id next_watch_ = 1;
  timer_id next_timer_ = 1;
  std::map<timer_id, timer> timers_;
  std::priority_queue<due_entry, std::vector<due_entry>, std::greater<>> due_;
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  std::deque<std::function<void()>> ready_;  // taken from posted_, loop thread only
  std::atomic<bool> stopping_{false};
};

// ---------------------------------------------------------------- epoll

class epoll_loop final : public loop_base {
 public:
  result<void> init() {
    ep_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!ep_) return sys_error("epoll_create1");
    if (auto r = init_wake(); !r) return r;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = 0;  // 0: the wake eventfd
    if (::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, wake_.get(), &ev) != 0) return sys_error("epoll_ctl");
    return {};
  }
  const char* name() const noexcept override { return "epoll"; }

 protected:
  void arm(watch_id id, watch& w, bool fresh) override {
    epoll_event ev{};
    ev.events = (w.read ? EPOLLIN : 0u) | (w.write ? EPOLLOUT : 0u);
    ev.data.u64 = id;
    if (::epoll_ctl(ep_.get(), fresh ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, w.fd, &ev) != 0) {
      log(log_level::err, std::string("epoll_ctl failed: ") + std::strerror(errno));
    }
  }
  void disarm(watch_id, watch& w) override { ::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, w.fd, nullptr); }
  result<void> wait(int timeout_ms) override {
    epoll_event evs[64];
    int n = ::epoll_wait(ep_.get(), evs, 64, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) return {};
      return sys_error("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      if (evs[i].data.u64 == 0) {
        drain_wake();
        continue;
      }
      auto e = evs[i].events;
      dispatch(evs[i].data.u64, (e & EPOLLIN) != 0, (e & EPOLLOUT) != 0,
               (e & (EPOLLHUP | EPOLLERR)) != 0);
    }
    return {};
  }

 private:
  unique_fd ep_;
};

// ---------------------------------------------------------------- io_uring

// One-shot POLL_ADD per watch, re-armed after each completion (level
// semantics like epoll). Every arming gets a fresh token as user_data so a
// completion of a poll that was removed or replaced is recognised and
// dropped.
class uring_loop final : public loop_base {
 public:
  ~uring_loop() override {
    if (ring_ok_) ::io_uring_queue_exit(&ring_);
  }
  int init() {
    int rc = ::io_uring_queue_init(256, &ring_, 0);
    if (rc < 0) return rc;
    ring_ok_ = true;
    if (auto r = init_wake(); !r) return -EIO;
    wake_token_ = next_token_++;
    add_poll(wake_.get(), POLLIN, wake_token_);
    return 0;
  }
  const char* name() const noexcept override { return "io_uring"; }

 protected:
  void arm(watch_id id, watch& w, bool) override {
    if (w.armed) remove_poll(w.token);
    tokens_.erase(w.token);
    w.armed = false;
    // Armed even with neither direction wanted, as epoll keeps reporting
    // EPOLLHUP/EPOLLERR for such a descriptor: an io_uring poll always
    // completes on POLLHUP and POLLERR, so a peer that closes a connection
    // we neither read nor write (a subscriber whose filter never matches)
    // is still noticed.
    unsigned mask = (w.read ? POLLIN : 0u) | (w.write ? POLLOUT : 0u);
    w.token = next_token_++;
    tokens_[w.token] = id;
    add_poll(w.fd, mask, w.token);
    w.armed = true;
  }
  void disarm(watch_id, watch& w) override {
    if (w.armed) remove_poll(w.token);
    tokens_.erase(w.token);
    w.armed = false;
  }
  result<void> wait(int timeout_ms) override {
    ::io_uring_submit(&ring_);
    io_uring_cqe* cqe = nullptr;
    int rc;
    if (timeout_ms < 0) {
      rc = ::io_uring_wait_cqe(&ring_, &cqe);
    } else {
      __kernel_timespec ts{};
      ts.tv_sec = timeout_ms / 1000;
      ts.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1'000'000;
      rc = ::io_uring_wait_cqe_timeout(&ring_, &cqe, &ts);
    }
    if (rc == -ETIME || rc == -EINTR) return {};
    if (rc < 0) {
      errno = -rc;
      return sys_error("io_uring_wait_cqe");
    }
    // Collect first: callbacks may arm/remove polls, which touches the SQ.
    struct ready {
      std::uint64_t token;
      int res;
    };
    std::vector<ready> got;
    unsigned head;
    unsigned count = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      got.push_back({cqe->user_data, cqe->res});
      ++count;
    }
    ::io_uring_cq_advance(&ring_, count);
    for (const auto& g : got) {
      if (g.token == 0) continue;  // a poll-remove completion
      if (g.token == wake_token_) {
        drain_wake();
        add_poll(wake_.get(), POLLIN, wake_token_);
        continue;
      }
      auto t = tokens_.find(g.token);
      if (t == tokens_.end()) continue;  // removed or re-armed meanwhile
      watch_id id = t->second;
      tokens_.erase(t);
      auto w = watches_.find(id);
      if (w == watches_.end()) continue;
      w->second.armed = false;
      bool readable = false, writable = false, hangup = false;
      if (g.res < 0) {
        hangup = true;  // e.g. -EBADF: report it as an error on the fd
      } else {
        auto ev = static_cast<unsigned>(g.res);
        readable = (ev & POLLIN) != 0;
        writable = (ev & POLLOUT) != 0;
        hangup = (ev & (POLLHUP | POLLERR | POLLNVAL)) != 0;
      }
      dispatch(id, readable, writable, hangup);
      // Re-arm unless the callback removed or re-armed it.
      auto again = watches_.find(id);
      if (again != watches_.end() && !again->second.armed) arm(id, again->second, false);
    }
    return {};
  }

 private:
  io_uring_sqe* get_sqe() {
    io_uring_sqe* sqe = ::io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      ::io_uring_submit(&ring_);
      sqe = ::io_uring_get_sqe(&ring_);
    }
    return sqe;
  }
  void add_poll(int fd, unsigned mask, std::uint64_t token) {
    io_uring_sqe* sqe = get_sqe();
    if (sqe == nullptr) {
      log(log_level::err, "io_uring: submission queue full");
      return;
    }
    ::io_uring_prep_poll_add(sqe, fd, mask);
    ::io_uring_sqe_set_data64(sqe, token);
  }
  void remove_poll(std::uint64_t token) {
    io_uring_sqe* sqe = get_sqe();
    if (sqe == nullptr) return;
    ::io_uring_prep_poll_remove(sqe, token);
    ::io_uring_sqe_set_data64(sqe, 0);
  }

  io_uring ring_{};
  bool ring_ok_ = false;
  std::uint64_t next_token_ = 1;
  std::uint64_t wake_token_ = 0;
  std::unordered_map<std::uint64_t, watch_id> tokens_;
};

bool io_uring_disabled_by_sysctl() {
  std::ifstream f("/proc/sys/kernel/io_uring_disabled");
  int v = 0;
  if (f >> v) return v != 0;
  return false;
}

}  // namespace

std::chrono::steady_clock::time_point event_loop::callback_began() noexcept { return began_; }

std::uint64_t thread_cpu_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

result<std::unique_ptr<event_loop>> make_event_loop(loop_kind kind) {
  if (kind == loop_kind::automatic) {
    const char* env = std::getenv("SIGDUMP_EVENT_LOOP");
    if (env != nullptr && std::strcmp(env, "epoll") == 0) kind = loop_kind::epoll;
  }
  std::string why;
  if (kind != loop_kind::epoll) {
    if (io_uring_disabled_by_sysctl()) {
      why = "io_uring is disabled (/proc/sys/kernel/io_uring_disabled)";
    } else {
      auto loop = std::make_unique<uring_loop>();
      int rc = loop->init();
      if (rc == 0) {
        log(log_level::info, "event loop: io_uring");
        return loop;
      }
      why = std::string("io_uring_queue_init failed: ") + std::strerror(-rc);
    }
    if (kind == loop_kind::io_uring) return make_error(errc::io, {}, no_record, no_offset, why);
  }
  auto loop = std::make_unique<epoll_loop>();
  if (auto r = loop->init(); !r) return std::unexpected(r.error());
  log(log_level::info,
      why.empty() ? std::string("event loop: epoll") : "event loop: epoll (" + why + ")");
  return loop;
}

}  // namespace sigdump::daemon
