// Private: asks the kernel to read the mapped bytes a comparison will sum
// next while it sums the current ones, so that on a cold page cache reading
// the files and computing overlap instead of taking turns.
#pragma once

#include <liburing.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace sigdump::detail {

/* Mapped bytes one work item reads (a null or empty range: none). */
struct byte_range {
  const std::byte* data = nullptr;
  std::uint64_t size = 0;
};

class read_ahead {
 public:
  /* items[i]: the bytes work item i reads, items in the order they start;
     `window`: how many bytes past the item being started to have asked for.
     Asks for the first window at once. */
  read_ahead(std::vector<std::array<byte_range, 2>> items, std::uint64_t window);
  ~read_ahead();
  read_ahead(const read_ahead&) = delete;
  read_ahead& operator=(const read_ahead&) = delete;

  /* Item i is starting (any thread): asks for the items that begin within
     `window` bytes after it. Never waits: a thread finding another one
     asking returns, and a full queue defers the asking to a later call. */
  void starting(std::uint64_t i) noexcept;

 private:
  void ask_up_to(std::uint64_t from) noexcept;  // mutex held
  bool ask(const byte_range& r) noexcept;       // true: queued on the ring
  void reap() noexcept;

  std::vector<std::array<byte_range, 2>> items_;
  std::vector<std::uint64_t> starts_;  // bytes of the items before item i
  std::uint64_t window_;
  std::mutex mutex_;
  std::uint64_t asked_ = 0;  // items [0, asked_) have been asked for
  io_uring ring_{};
  bool ring_ok_ = false;
  unsigned in_flight_ = 0;
};

}  // namespace sigdump::detail
