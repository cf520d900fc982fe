#include "sigdump/mapping.h"

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>

#include "sigdump/unique_fd.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

namespace sigdump {

namespace {

std::string errno_text(const char* call, int err) {
  return std::string(call) + " failed: " + std::strerror(err);
}

std::uint64_t page_size() noexcept {
  static const std::uint64_t size = [] {
    long v = ::sysconf(_SC_PAGESIZE);
    return v > 0 ? static_cast<std::uint64_t>(v) : std::uint64_t{4096};
  }();
  return size;
}

}  // namespace

result<std::shared_ptr<const mapping>> mapping::open(const std::string& path) {
  // O_NONBLOCK: a FIFO put where a dump was must not block the open; the
  // type is checked on the descriptor below.
  const unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd) return make_error(errc::io, path, no_record, no_offset, errno_text("open", errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return make_error(errc::io, path, no_record, no_offset, errno_text("fstat", errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return make_error(errc::io, path, no_record, no_offset, "not a regular file");
  }
  // The mapping outlives the descriptor, closed on return: fds stay bounded.
  return from_fd(fd.get(), static_cast<std::uint64_t>(st.st_size), path, {st.st_dev, st.st_ino});
}

result<std::shared_ptr<const mapping>> mapping::from_fd(int fd, std::uint64_t size,
                                                        const std::string& path, file_identity id) {
  if (size == 0) {
    return std::shared_ptr<const mapping>(new mapping(nullptr, 0, path, id));
  }
  if (size > static_cast<std::uint64_t>(SIZE_MAX)) {
    return make_error(errc::io, path, no_record, no_offset, "file too large to map");
  }
  void* p = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    return make_error(errc::io, path, no_record, no_offset, errno_text("mmap", errno));
  }
  return std::shared_ptr<const mapping>(
      new mapping(static_cast<const std::byte*>(p), size, path, id));
}

mapping::~mapping() {
  if (data_ != nullptr && size_ > 0) {
    ::munmap(const_cast<std::byte*>(data_), static_cast<std::size_t>(size_));
  }
}

bool mapping::probe(std::uint64_t offset, std::uint64_t len) const noexcept {
  if (len == 0) return offset <= size_;
  if (offset > size_ || len > size_ - offset) return false;
  const std::uint64_t ps = page_size();
  auto base = reinterpret_cast<std::uintptr_t>(data_);
  std::uintptr_t first = (base + offset) & ~static_cast<std::uintptr_t>(ps - 1);
  std::uintptr_t last = base + offset + len;
  std::size_t span_len = last - first;
  for (;;) {
    if (::madvise(reinterpret_cast<void*>(first), span_len, MADV_POPULATE_READ) == 0) return true;
    int err = errno;
    if (err == EINTR || err == EAGAIN) continue;
    // EINVAL: kernel older than 5.14 (no MADV_POPULATE_READ): optimism, the
    // SIGBUS guard remains. EFAULT/ENOMEM: pages beyond the file's end.
    return err == EINVAL;
  }
}

std::uint64_t mapping::offset_of(const void* address) const noexcept {
  auto a = reinterpret_cast<std::uintptr_t>(address);
  auto base = reinterpret_cast<std::uintptr_t>(data_);
  if (data_ == nullptr || a < base || a - base >= size_) return no_offset;
  return static_cast<std::uint64_t>(a - base);
}

namespace {

// One armed guard: where to jump back to and the bytes its call reads.
struct guard_frame {
  sigjmp_buf env;
  guard_range range;
  guard_frame* outer;
};

// The calling thread's innermost guard. Trivially initialised so the
// signal handler can read it without running a TLS constructor.
thread_local guard_frame* tls_guard = nullptr;
// Where the last caught fault happened, and the signal mask there was then,
// read back by guarded_read.
thread_local const void* tls_fault_address = nullptr;
thread_local sigset_t tls_fault_mask;
thread_local bool tls_fault_mask_known = false;

struct sigaction previous_bus_action;

bool holds(std::span<const std::byte> bytes, const void* address) noexcept {
  const auto a = reinterpret_cast<std::uintptr_t>(address);
  const auto b = reinterpret_cast<std::uintptr_t>(bytes.data());
  return bytes.data() != nullptr && a >= b && a - b < bytes.size();
}

// The guard that must catch this SIGBUS, or null. Only a fault the kernel
// raised for a load of a mapped page that has no file behind it any more
// (BUS_ADRERR: past the end of a truncated file; BUS_OBJERR) inside the
// bytes a running guarded call reads is a vanished page. A SIGBUS sent by
// kill(2), tgkill(2) or sigqueue(3) (si_code <= 0), a hardware memory
// error, or a fault on any other address is not, and must not be turned
// into a read error.
guard_frame* catching_guard(const siginfo_t* info) noexcept {
  if (info == nullptr || (info->si_code != BUS_ADRERR && info->si_code != BUS_OBJERR)) {
    return nullptr;
  }
  for (guard_frame* g = tls_guard; g != nullptr; g = g->outer) {
    if (holds(g->range.first, info->si_addr) || holds(g->range.second, info->si_addr)) return g;
  }
  return nullptr;
}

void on_sigbus(int sig, siginfo_t* info, void* uctx) {
  if (guard_frame* g = catching_guard(info)) {
    tls_guard = g->outer;
    tls_fault_address = info->si_addr;
    // The mask before the signal: what the jump must leave (a handler
    // interposed before ours, ThreadSanitizer's, runs with signals blocked).
    tls_fault_mask_known = uctx != nullptr;
    if (uctx != nullptr) tls_fault_mask = static_cast<const ucontext_t*>(uctx)->uc_sigmask;
    siglongjmp(g->env, 1);
  }
  chain_sigbus(previous_bus_action, sig, info, uctx);  // not ours
}

std::atomic<bool> handler_installed{false};

void install_handler_once() noexcept {
  // A guard per parsed header: the installed case is one load.
  if (handler_installed.load(std::memory_order_acquire)) return;
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGBUS, &sa, &previous_bus_action);
    handler_installed.store(true, std::memory_order_release);
  });
}

// Arms `frame` (its env already set by sigsetjmp) as this thread's innermost
// guard for `range`. The signal fences keep the compiler from moving the
// guarded loads across the stores the handler reads.
void arm(guard_frame& frame) noexcept {
  tls_guard = &frame;
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

void disarm(guard_frame& frame) noexcept {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  tls_guard = frame.outer;
}

// After the jump back to `frame`: the signal mask the fault found is set
// again (no mask is saved by sigsetjmp: that is a system call per guard,
// and a parse takes one guard per header), and the fault's address given.
bool caught(guard_frame& frame, const void** fault_address) noexcept {
  tls_guard = frame.outer;
  if (tls_fault_mask_known) ::pthread_sigmask(SIG_SETMASK, &tls_fault_mask, nullptr);
  if (fault_address != nullptr) *fault_address = tls_fault_address;
  return false;
}

}  // namespace

namespace {

// Whether the page at `page` (page-aligned) is mapped in this process now.
bool page_present(const void* page) noexcept {
  // One descriptor for the process: pagemap describes whoever reads it.
  static const int pagemap = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (pagemap < 0) return false;
  std::uint64_t entry = 0;
  const auto index = reinterpret_cast<std::uintptr_t>(page) / page_size();
  if (::pread(pagemap, &entry, sizeof entry, static_cast<off_t>(index * sizeof entry)) !=
      static_cast<ssize_t>(sizeof entry)) {
    return false;
  }
  return (entry >> 63) != 0;  // bit 63: present
}

}  // namespace

std::uint64_t truncation_sentinel::page_after(std::uint64_t end) noexcept {
  const std::uint64_t ps = page_size();
  return end == 0 ? 0 : ((end - 1) / ps + 1) * ps;
}

result<truncation_sentinel> truncation_sentinel::arm(const std::string& path, file_identity id,
                                                     std::uint64_t end, bool last_page) {
  const std::uint64_t ps = page_size();
  std::uint64_t at = page_after(end);
  unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd) return make_error(errc::io, path, no_record, no_offset, errno_text("open", errno));
  struct stat st {};
  const bool ok = ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode) &&
                  file_identity{st.st_dev, st.st_ino} == id;
  const auto size = static_cast<std::uint64_t>(st.st_size);
  bool copy = false;
  if (ok && size <= at && last_page && end > 0 && size >= end) {
    at -= ps;  // the page holding byte end-1
    copy = true;
  }
  if (!ok || size <= at) {
    return make_error(errc::io, path, no_record, at,
                      "cannot guard the bytes before " + std::to_string(end) +
                          ": the file was replaced or does not reach the next page");
  }
  void* p = ::mmap(nullptr, static_cast<std::size_t>(ps), PROT_READ, MAP_SHARED, fd.get(),
                   static_cast<off_t>(at));
  const int mmap_errno = errno;
  fd.reset();
  if (p == MAP_FAILED) {
    return make_error(errc::io, path, no_record, at, errno_text("mmap", mmap_errno));
  }
  truncation_sentinel s(p);
  // Map it now by reading it (the page may vanish meanwhile): its first
  // byte, or the guarded bytes it holds when they are kept.
  s.snapshot_.resize(copy ? static_cast<std::size_t>(end - at) : 1);
  const bool read =
      guarded_copy(static_cast<const std::byte*>(p), s.snapshot_.size(), s.snapshot_.data());
  if (!copy) s.snapshot_.clear();
  if (!read) {
    return make_error(errc::truncated, path, no_record, at, "the file was cut while guarded");
  }
  return s;
}

truncation_sentinel& truncation_sentinel::operator=(truncation_sentinel&& o) noexcept {
  if (this != &o) {
    if (page_ != nullptr) ::munmap(page_, static_cast<std::size_t>(page_size()));
    page_ = o.page_;
    snapshot_ = std::move(o.snapshot_);
    o.page_ = nullptr;
  }
  return *this;
}

truncation_sentinel::~truncation_sentinel() {
  if (page_ != nullptr) ::munmap(page_, static_cast<std::size_t>(page_size()));
}

bool truncation_sentinel::intact() const noexcept {
  if (page_ == nullptr || !page_present(page_)) return false;
  if (snapshot_.empty()) return true;
  // Still mapped, so reading it maps nothing back; a cut since may still
  // fault (SIGBUS) or show other bytes.
  std::vector<std::byte> now(snapshot_.size());
  return guarded_copy(static_cast<const std::byte*>(page_), now.size(), now.data()) &&
         now == snapshot_;
}

bool guarded_copy(const std::byte* from, std::size_t n, void* to,
                  const void** fault_address) noexcept {
  // Nothing to copy (an empty file's mapping has no address at all):
  // memcpy must not see its null pointer.
  if (n == 0) return true;
  // guarded_read's steps without its indirect call: the parse copies a
  // window per header through here.
  install_handler_once();
  guard_frame frame;
  frame.range = {{from, n}};
  frame.outer = tls_guard;
  if (sigsetjmp(frame.env, 0) == 0) {
    arm(frame);
    std::memcpy(to, from, n);
    disarm(frame);
    return true;
  }
  return caught(frame, fault_address);
}

bool copy_mapped(const void* ctx, std::uint64_t offset, std::span<std::byte> to,
                 std::uint64_t* lost) noexcept {
  const auto* map = static_cast<const mapping*>(ctx);
  if (to.empty()) {
    if (offset < map->size()) __builtin_prefetch(map->bytes().data() + offset);
    return true;
  }
  const void* fault = nullptr;
  if (guarded_copy(map->bytes().data() + offset, to.size(), to.data(), &fault)) return true;
  if (const std::uint64_t at = map->offset_of(fault); at != no_offset) *lost = at;
  return false;
}

bool guarded_read(guard_range range, void (*fn)(void*), void* ctx,
                  const void** fault_address) noexcept {
  install_handler_once();
  guard_frame frame;
  frame.range = range;
  frame.outer = tls_guard;
  if (sigsetjmp(frame.env, 0) == 0) {
    arm(frame);
    fn(ctx);
    disarm(frame);
    return true;
  }
  return caught(frame, fault_address);
}

void chain_sigbus(const struct sigaction& previous, int sig, siginfo_t* info, void* uctx) noexcept {
  if (previous.sa_flags & SA_SIGINFO) {
    if (previous.sa_sigaction != nullptr) {
      previous.sa_sigaction(sig, info, uctx);
      return;
    }
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN &&
             previous.sa_handler != nullptr) {
    previous.sa_handler(sig);
    return;
  }
  // SA_NODEFER keeps the signal unblocked here, so the recurring fault (or
  // the raise) ends the process with SIGBUS as if we had never been there.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(SIGBUS, &dfl, nullptr);
  if (info == nullptr || info->si_code <= 0) ::raise(sig);
}

}  // namespace sigdump
