#include "progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace sigdump::cli {

bool progress_wanted(std::uint64_t total_bytes) noexcept {
  return total_bytes > (std::uint64_t{256} << 20) && ::isatty(STDERR_FILENO) == 1;
}

progress_bar::progress_bar(std::uint64_t total, bool enabled)
    : enabled_(enabled), total_(total), start_(std::chrono::steady_clock::now()), last_(start_) {}

progress_bar::~progress_bar() { finish(); }

void progress_bar::update(std::uint64_t done, std::uint64_t total) {
  if (!enabled_) return;
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_ < std::chrono::milliseconds(100) && done < total) return;
  last_ = now;
  drawn_ = true;
  if (total) total_ = total;
  const double frac = total_ ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double rate = secs > 0 ? static_cast<double>(done) / secs : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - std::min(done, total_)) / rate : 0.0;
  constexpr int width = 30;
  const int filled = static_cast<int>(frac * width);
  char bar[width + 1];
  for (int i = 0; i < width; ++i) bar[i] = i < filled ? '#' : '.';
  bar[width] = '\0';
  constexpr double mb = 1024.0 * 1024.0;
  std::fprintf(stderr, "\r[%s] %3d%% %.0f/%.0f MB %.0f MB/s ETA %ds ", bar,
               static_cast<int>(frac * 100), static_cast<double>(done) / mb,
               static_cast<double>(total_) / mb, rate / mb, static_cast<int>(eta + 0.5));
  std::fflush(stderr);
}

void progress_bar::finish() {
  std::lock_guard lock(mutex_);
  if (!enabled_ || !drawn_) return;
  std::fprintf(stderr, "\r\x1b[2K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace sigdump::cli
