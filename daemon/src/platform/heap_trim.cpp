#include "platform/heap_trim.h"

#include <malloc.h>

#include <algorithm>
#include <utility>

namespace sigdump::daemon {

heap_usage heap_now() noexcept {
  const struct mallinfo2 m = mallinfo2();
  return {m.arena + m.hblkhd, m.uordblks + m.hblkhd};
}

heap_trimmer::heap_trimmer(event_loop& loop, worker_pool& pool, std::chrono::milliseconds period)
    : loop_(loop), pool_(pool), period_(period) {}

heap_trimmer::~heap_trimmer() { stop(); }

void heap_trimmer::stop() {
  stopped_ = true;
  *alive_ = false;
  if (timer_ != 0) loop_.cancel_timer(timer_);
  timer_ = 0;
}

void heap_trimmer::freed() {
  if (stopped_) return;
  if (running_ || timer_ != 0) {
    again_ = running_;
    return;
  }
  using namespace std::chrono;
  const auto due = last_ + period_;
  const auto wait = duration_cast<milliseconds>(due - steady_clock::now());
  timer_ = loop_.add_timer(std::max(wait, milliseconds(0)), false, [this] {
    timer_ = 0;
    start_trim();
  });
}

void heap_trimmer::start_trim() {
  running_ = true;
  last_ = std::chrono::steady_clock::now();
  pool_.submit([loop = &loop_, alive = alive_, this] {
    const auto t0 = std::chrono::steady_clock::now();
    const std::uint64_t cpu0 = thread_cpu_ns();
    const bool released = malloc_trim(0) != 0;
    const std::uint64_t cpu = (thread_cpu_ns() - cpu0) / 1000;
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    loop->post([alive, this, released, us, cpu] {
      if (!*alive) return;
      running_ = false;
      ++stats_.trims;
      stats_.released += released;
      stats_.longest_us =
          std::max<std::uint64_t>(stats_.longest_us, static_cast<std::uint64_t>(us));
      stats_.longest_cpu_us = std::max(stats_.longest_cpu_us, cpu);
      if (std::exchange(again_, false)) freed();
    });
  });
}

}  // namespace sigdump::daemon
