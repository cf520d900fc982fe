// Gives the heap's free pages back to the system. The daemon's working set
// is bounded (runs kept, event history), but its peaks are not smooth: a
// burst of work (copies opened to compare from, replies queued, events
// replayed) leaves the heap larger, and glibc returns memory only from the
// top of a heap, so a live block above the freed ones keeps the pages
// resident: VmRSS stepped up by megabytes and stayed there while the bytes
// in use did not grow (docs/performance.md, "Memory over many runs").
// malloc_trim(0) also gives back the whole free pages inside each arena.
// It runs on a worker (it walks every arena's free lists, a few hundred
// microseconds on a loaded machine), at most once per period, after the
// daemon let go of something (a run dropped past keep_runs). Loop thread
// only, except where said.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "platform/event_loop.h"
#include "platform/worker_pool.h"

namespace sigdump::daemon {

/* What malloc says of the heap (mallinfo2), for `status`. */
struct heap_usage {
  std::uint64_t bytes = 0;   // got from the system: arenas and mmapped blocks
  std::uint64_t in_use = 0;  // of those, in blocks the daemon holds
};
/* Any thread; takes each arena's lock in turn. */
heap_usage heap_now() noexcept;

class heap_trimmer {
 public:
  struct stats {
    std::uint64_t trims = 0;           // malloc_trim calls finished
    std::uint64_t released = 0;        // of those, the ones that gave memory back
    std::uint64_t longest_us = 0;      // the longest one, wall time (with waits for a CPU)
    std::uint64_t longest_cpu_us = 0;  // the longest one in the worker's CPU time
  };

  heap_trimmer(event_loop& loop, worker_pool& pool,
               std::chrono::milliseconds period = std::chrono::seconds(1));
  ~heap_trimmer();
  heap_trimmer(const heap_trimmer&) = delete;
  heap_trimmer& operator=(const heap_trimmer&) = delete;

  /* Something big was let go: a trim follows, at the earliest one period
     after the last one began. */
  void freed();
  /* No trim from now on (the daemon stops; the pool goes away). */
  void stop();
  const stats& counts() const noexcept { return stats_; }

 private:
  void start_trim();

  event_loop& loop_;
  worker_pool& pool_;
  std::chrono::milliseconds period_;
  std::chrono::steady_clock::time_point last_{};
  timer_id timer_ = 0;    // armed: a trim is due
  bool running_ = false;  // a trim runs on the pool
  bool again_ = false;    // freed() while it ran: another one is due
  bool stopped_ = false;
  stats stats_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // the posted outcome checks it
};

}  // namespace sigdump::daemon
