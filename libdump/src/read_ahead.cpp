#include "read_ahead.h"

#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

#include <algorithm>

namespace sigdump::detail {

namespace {

constexpr unsigned ring_entries = 64, max_workers = 4;

std::uintptr_t page_size() noexcept {
  static const std::uintptr_t size = [] {
    const long v = ::sysconf(_SC_PAGESIZE);
    return v > 0 ? static_cast<std::uintptr_t>(v) : std::uintptr_t{4096};
  }();
  return size;
}

// Whether the last page of r is in the page cache: then, read in order as
// it is, r most likely is all there, and asking for it again costs the
// kernel a look at each of its pages for nothing (17 ms per 0.5 GB on the
// build machine).
bool probably_cached(const byte_range& r) noexcept {
  const auto last = (reinterpret_cast<std::uintptr_t>(r.data) + r.size - 1) & ~(page_size() - 1);
  unsigned char in = 0;
  return ::mincore(reinterpret_cast<void*>(last), 1, &in) == 0 && (in & 1) != 0;
}

// Asks for the pages of each file's bytes to be read and kept in 2 MiB
// folios (MADV_HUGEPAGE on the span of its ranges: one call per file, so
// its mapping splits in three at most). Without it, two files read at
// once by several threads confuse each file's read-ahead, whose folios
// then fall back to small ones: on the build machine 0.2 of the 1.07 GB
// came in 2 MiB folios, and the kernel's CPU time was 0.17-0.21 s against
// 0.04 s with the advice. The parse is done by now: with the advice, each
// header page read would have brought in the 2 MiB around it.
void prefer_large_folios(const std::vector<std::array<byte_range, 2>>& items) noexcept {
  for (std::size_t f = 0; f < 2; ++f) {
    std::uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (const auto& it : items) {
      const byte_range& r = it[f];
      if (r.data == nullptr || r.size == 0) continue;
      lo = std::min(lo, reinterpret_cast<std::uintptr_t>(r.data));
      hi = std::max(hi, reinterpret_cast<std::uintptr_t>(r.data) + r.size);
    }
    if (hi <= lo) continue;
    lo &= ~(page_size() - 1);
    hi = (hi + page_size() - 1) & ~(page_size() - 1);
    (void)::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);  // advice only
  }
}

}  // namespace

read_ahead::read_ahead(std::vector<std::array<byte_range, 2>> items, std::uint64_t window)
    : items_(std::move(items)), window_(window) {
  starts_.reserve(items_.size() + 1);
  std::uint64_t total = 0;
  for (const auto& it : items_) {
    starts_.push_back(total);
    total += it[0].size + it[1].size;
  }
  starts_.push_back(total);
  // A comparison within one window is asked for at once, below. Otherwise
  // the requests go through a ring, so that no comparing thread waits for
  // one to be queued; where io_uring is refused (seccomp,
  // io_uring_disabled) they are madvise() calls from the comparing threads.
  if (total > window_) prefer_large_folios(items_);
  ring_ok_ = total > window_ && ::io_uring_queue_init(ring_entries, &ring_, 0) == 0;
  if (ring_ok_) {
    // A few kernel workers keep the disk busy; one per request in flight
    // would only contend with the comparing threads for the cores.
    unsigned workers[2] = {0, max_workers};  // bounded (unchanged), unbounded
    (void)::io_uring_register_iowq_max_workers(&ring_, workers);
  }
  const std::lock_guard lock(mutex_);
  ask_up_to(0);
}

read_ahead::~read_ahead() {
  if (!ring_ok_) return;
  // The requests name this process's mappings: let them finish first (by
  // now they concern bytes already read, so they return at once).
  ::io_uring_submit(&ring_);
  while (in_flight_ > 0) {
    io_uring_cqe* cqe = nullptr;
    if (::io_uring_wait_cqe(&ring_, &cqe) != 0) break;
    ::io_uring_cqe_seen(&ring_, cqe);
    --in_flight_;
  }
  ::io_uring_queue_exit(&ring_);
}

void read_ahead::starting(std::uint64_t i) noexcept {
  if (i >= items_.size()) return;
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return;
  ask_up_to(i);
}

void read_ahead::ask_up_to(std::uint64_t from) noexcept {
  reap();
  const std::uint64_t limit = starts_[from] + window_;
  bool queued = false;
  while (asked_ < items_.size() && starts_[asked_] <= limit) {
    // An item's two ranges go out together or not at all.
    if (ring_ok_ && in_flight_ + 2 > ring_entries) break;
    for (const byte_range& r : items_[asked_]) queued = ask(r) || queued;
    ++asked_;
  }
  if (queued) ::io_uring_submit(&ring_);
}

bool read_ahead::ask(const byte_range& r) noexcept {
  if (r.data == nullptr || r.size == 0 || probably_cached(r)) return false;
  const auto first = reinterpret_cast<std::uintptr_t>(r.data) & ~(page_size() - 1);
  const auto len =
      static_cast<std::size_t>(reinterpret_cast<std::uintptr_t>(r.data) + r.size - first);
  void* at = reinterpret_cast<void*>(first);
  // Errors (bytes no longer in the file) are the comparison's to report.
  if (!ring_ok_) {
    // Queued from this thread without waiting for the reads; the pages
    // come in as single pages.
    (void)::madvise(at, len, MADV_WILLNEED);
    return false;
  }
  io_uring_sqe* sqe = ::io_uring_get_sqe(&ring_);
  if (sqe == nullptr) return false;  // not reached: ask_up_to keeps room for an item
  // Faulted in by a kernel worker, which waits for the reads: through the
  // page-fault path the kernel reads ahead in large folios, and the pages
  // are mapped by the time a comparing thread gets to them.
  ::io_uring_prep_madvise(sqe, at, static_cast<off_t>(len), MADV_POPULATE_READ);
  ++in_flight_;
  return true;
}

void read_ahead::reap() noexcept {
  if (!ring_ok_) return;
  io_uring_cqe* cqe = nullptr;
  while (in_flight_ > 0 && ::io_uring_peek_cqe(&ring_, &cqe) == 0) {
    ::io_uring_cqe_seen(&ring_, cqe);
    --in_flight_;
  }
}

}  // namespace sigdump::detail
