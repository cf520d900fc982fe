// A read-only memory mapping of a whole file, taken at one size. The file may
// keep growing or be truncated afterwards; readers must only touch bytes that
// were verified to exist (see guarded_read / probe).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "sigdump/error.h"

namespace sigdump {

struct file_identity {
  dev_t dev = 0;
  ino_t ino = 0;
  friend bool operator==(const file_identity&, const file_identity&) = default;
};

/* For a SIGBUS handler that found the signal is not its own: behaves as the
   disposition it replaced (`previous`) would. A handler there is called; the
   default action (or an ignored one, which cannot work for a fault) is put
   back, and then a hardware fault (si_code > 0) recurs when the handler
   returns and the access runs again, while a signal that was sent (kill,
   raise) is raised again. Async-signal-safe. */
void chain_sigbus(const struct sigaction& previous, int sig, siginfo_t* info, void* uctx) noexcept;

class mapping {
 public:
  /* Maps the file read-only at its current size (MAP_SHARED). An empty file
     maps to an empty span. Errors name the file and the failing call. */
  static result<std::shared_ptr<const mapping>> open(const std::string& path);

  /* Maps an already-open descriptor at exactly `size` bytes (size may be
     below the file's size). Does not take ownership of fd. */
  static result<std::shared_ptr<const mapping>> from_fd(int fd, std::uint64_t size,
                                                        const std::string& path, file_identity id);

  mapping(const mapping&) = delete;
  mapping& operator=(const mapping&) = delete;
  ~mapping();

  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  std::uint64_t size() const noexcept { return size_; }
  const std::string& path() const noexcept { return path_; }
  file_identity identity() const noexcept { return id_; }

  /* Returns true when every page of [offset, offset+len) is backed by the
     file right now (MADV_POPULATE_READ; no SIGBUS). On kernels without it,
     falls back to fstat-free optimism and returns true. */
  bool probe(std::uint64_t offset, std::uint64_t len) const noexcept;

  /* Offset in the file of the mapped byte at `address` (e.g. a fault address
     from guarded_read), or no_offset when it is not inside this mapping. */
  std::uint64_t offset_of(const void* address) const noexcept;

 private:
  mapping(const std::byte* data, std::uint64_t size, std::string path, file_identity id)
      : data_(data), size_(size), path_(std::move(path)), id_(id) {}
  const std::byte* data_;
  std::uint64_t size_;
  std::string path_;
  file_identity id_;
};

/* Tells later whether a file was cut short before some offset since now.
   A truncation unmaps the file's pages past its new end from every mapping
   of it; the sentinel maps the one page following the guarded bytes on its
   own, reads it once and never touches it again, so nothing maps it back:
   while it is still mapped, no truncation has reached the guarded bytes
   (which an unseen truncate-and-rewrite would have replaced). */
class truncation_sentinel {
 public:
  /* The file offset of the page the sentinel for bytes before `end` maps:
     the page after the one holding byte end-1. The file must extend past
     it when the sentinel is armed. */
  static std::uint64_t page_after(std::uint64_t end) noexcept;
  /* Arms a sentinel for the bytes before `end` of the file at `path`, which
     must still be the file `id`. Errors name the file: replaced, shorter
     than page_after(end) + 1, or a failing call. With `last_page`, a file
     that ends before that page is guarded by the page holding byte end-1
     instead, with a copy of its bytes before `end`: a cut inside that page
     is then seen only if the bytes differ afterwards (enough for bytes
     nobody is rewriting while they are read: a finished record). */
  static result<truncation_sentinel> arm(const std::string& path, file_identity id,
                                         std::uint64_t end, bool last_page = false);
  truncation_sentinel(truncation_sentinel&& o) noexcept
      : page_(o.page_), snapshot_(std::move(o.snapshot_)) {
    o.page_ = nullptr;
  }
  truncation_sentinel& operator=(truncation_sentinel&& o) noexcept;
  truncation_sentinel(const truncation_sentinel&) = delete;
  truncation_sentinel& operator=(const truncation_sentinel&) = delete;
  ~truncation_sentinel();
  /* False once a truncation reached the guarded bytes; also false when the
     kernel does not tell (no /proc/self/pagemap) or memory pressure dropped
     the page: callers read the bytes again then. */
  bool intact() const noexcept;

 private:
  explicit truncation_sentinel(void* page) : page_(page) {}
  void* page_ = nullptr;
  std::vector<std::byte> snapshot_;  // last_page: the page's bytes before `end`
};

/* The mapped bytes a guarded call reads (one or two mappings: a sample and
   its benchmark). A fault anywhere else is not the guard's to catch. */
struct guard_range {
  std::span<const std::byte> first;
  std::span<const std::byte> second = {};
};

/* Runs fn() with a SIGBUS guard installed for this thread: if a page of
   `range` vanishes under fn (file truncated), returns false instead of
   crashing, with the faulting address in *fault_address when given (left
   untouched on success). Only a fault the kernel raised for a load inside
   `range` (BUS_ADRERR/BUS_OBJERR) is caught; a SIGBUS sent by kill(2),
   tgkill(2) or sigqueue(3), or a fault outside `range`, acts as it would
   without the guard (the previous handler, or death by SIGBUS). The jump
   runs no destructor: fn must not allocate or own anything that needs
   unwinding. Guards nest: the innermost one whose range holds the fault
   catches it. The last line of defence; probe() is the first. */
bool guarded_read(guard_range range, void (*fn)(void*), void* ctx,
                  const void** fault_address = nullptr) noexcept;

/* Copies n mapped bytes at `from` into `to` under one guard; false (with the
   faulting address in *fault_address when given) when a page vanished. */
bool guarded_copy(const std::byte* from, std::size_t n, void* to,
                  const void** fault_address = nullptr) noexcept;

/* A dump_parser::copy_fn over a mapping (`ctx`: the const mapping*): a
   guarded_copy of the mapped bytes [offset, offset + to.size()); false when
   a page vanished, with the offset of the lost byte in *lost. With an
   empty `to`, a prefetch of the byte at offset (which never faults). What
   dump_file parses a mapping with. */
bool copy_mapped(const void* ctx, std::uint64_t offset, std::span<std::byte> to,
                 std::uint64_t* lost) noexcept;

}  // namespace sigdump
