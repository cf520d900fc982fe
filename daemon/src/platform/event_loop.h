// The daemon's event loop: fd readiness, timers and cross-thread posts on one
// thread. Two implementations behind one interface: io_uring (poll-add based
// readiness) and epoll, chosen once at start-up by make_event_loop().
//
// Threading: every member except post() and stop() must be called on the
// loop thread (or before run()). Callbacks run on the loop thread. A callback
// may watch/unwatch/modify any fd and add/cancel any timer, its own included.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "sigdump/error.h"

namespace sigdump::daemon {

using watch_id = std::uint64_t;  // 0 is never a valid id
using timer_id = std::uint64_t;  // 0 is never a valid id

class event_loop {
 public:
  /* Called with what the fd is ready for; `hangup` covers POLLHUP/POLLERR. */
  using fd_callback = std::function<void(bool readable, bool writable, bool hangup)>;

  virtual ~event_loop() = default;
  event_loop() = default;
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;

  /* Watches fd (level-triggered: the callback runs again while the fd stays
     ready). The loop does not own fd: unwatch() it before closing it. */
  virtual watch_id watch_fd(int fd, bool read, bool write, fd_callback cb) = 0;
  /* Changes the interest of a watch; no-op for an unknown id. */
  virtual void modify(watch_id id, bool read, bool write) = 0;
  /* Stops watching; the callback never runs again after this returns.
     No-op for an unknown id. */
  virtual void unwatch(watch_id id) = 0;

  /* Runs cb after `delay` (then every `delay` when repeat), on the loop. */
  virtual timer_id add_timer(std::chrono::milliseconds delay, bool repeat,
                             std::function<void()> cb) = 0;
  /* Cancels a timer; no-op for an unknown or fired one-shot id. */
  virtual void cancel_timer(timer_id id) = 0;

  /* Thread-safe: queues fn to run on the loop thread (FIFO). Worker threads
     hand results back this way. Functions posted after stop() may not run. */
  virtual void post(std::function<void()> fn) = 0;

  /* Runs until stop(). Returns an error only if the kernel interface fails. */
  virtual result<void> run() = 0;
  /* Thread-safe: makes run() return after the current iteration (a stop()
     before run() makes the next run() return at once). */
  virtual void stop() = 0;

  /* "io_uring" or "epoll". */
  virtual const char* name() const noexcept = 0;

  /* What the loop thread spent on its callbacks (fd callbacks, timers and
     posted functions, each timed on its own) since run() was first called:
     the longest one in thread CPU time and in wall time, and how many took
     more CPU time than stall_budget. A request waits at most for the
     callbacks ahead of it; on a machine with a CPU to spare, the CPU time
     is the wall time. */
  static constexpr std::chrono::milliseconds stall_budget{5};
  struct callback_stats {
    std::uint64_t callbacks = 0;
    std::uint64_t longest_cpu_ns = 0;
    std::uint64_t longest_wall_ns = 0;
    std::uint64_t over_budget = 0;
  };
  /* Loop thread only. */
  virtual callback_stats stats() const noexcept = 0;

  /* When the callback running on this thread began (the epoch outside a
     callback): work split into slices stops a slice early once the whole
     callback has run for long, so several slices in one callback (a look
     that matches, then publishes) do not add up. */
  static std::chrono::steady_clock::time_point callback_began() noexcept;
};

/* The calling thread's CPU time in nanoseconds (CLOCK_THREAD_CPUTIME_ID):
   what a piece of the loop's work costs, which waiting for a CPU on a
   loaded machine does not inflate. */
std::uint64_t thread_cpu_ns() noexcept;

/* Which implementation make_event_loop() may pick. */
enum class loop_kind : std::uint8_t { automatic, io_uring, epoll };

/* automatic: io_uring unless SIGDUMP_EVENT_LOOP=epoll, io_uring is disabled
   (/proc/sys/kernel/io_uring_disabled) or io_uring_queue_init fails, then
   epoll. Logs the choice once at info level. io_uring forced and refused is
   an error. */
result<std::unique_ptr<event_loop>> make_event_loop(loop_kind kind = loop_kind::automatic);

}  // namespace sigdump::daemon
