// A one-line progress bar on stderr for long offline commands: only on a
// terminal, never on a pipe, redrawn at most ten times a second.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace sigdump::cli {

/* True when stderr is a terminal and `total_bytes` is over 256 MB. */
bool progress_wanted(std::uint64_t total_bytes) noexcept;

class progress_bar {
 public:
  /* A disabled bar draws nothing. */
  progress_bar(std::uint64_t total, bool enabled);
  ~progress_bar();
  progress_bar(const progress_bar&) = delete;
  progress_bar& operator=(const progress_bar&) = delete;

  /* Thread-safe; `done` bytes of `total`. Skips the redraw when another
     thread is drawing or the last draw was under 100 ms ago. */
  void update(std::uint64_t done, std::uint64_t total);
  /* Clears the line (also done by the destructor). */
  void finish();

 private:
  bool enabled_;
  bool drawn_ = false;
  std::uint64_t total_;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace sigdump::cli
