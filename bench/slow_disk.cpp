// A slow disk under some folders, for a real process (LD_PRELOAD): every
// open, write, fsync, fdatasync, rename and unlink of a path under
// SIGDUMP_SLOW_DISK_DIR (folders separated by ':'; or of a descriptor
// opened there) takes SIGDUMP_SLOW_DISK_MS milliseconds more, on whatever
// thread calls it. With SIGDUMP_SLOW_DISK_HOLD, such a call also waits for
// as long as the file it names exists (a disk that stopped answering). With
// SIGDUMP_SLOW_DISK_LOG, each such call appends a line there before it
// waits: "main|other OP PATH" (OP: open, or read for an open that neither
// creates nor writes; write, fsync, fdatasync, rename, unlink), main when
// the calling thread is the process's first one (sigdumpd's event loop). Used by
// loop_stall_bench (run starts and their layers on a slow state disk) and
// by tests/daemon/state_full_test.cpp (which thread writes the state and
// archive folders; the loop answering while the disk holds a write). Built
// without sanitizers: it calls through to whatever comes next (libc, or a
// sanitizer's interceptor).
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace {

constexpr int max_fds = 4096;
constexpr std::size_t max_path = 240;

struct tracked_fd {
  std::atomic<bool> on_slow_disk{false};
  char path[max_path] = {};
};
tracked_fd fds[max_fds];
// Guards fds[].path: a descriptor's number is reused by another thread once
// it is closed, an order only the kernel sees (a sanitizer would not).
std::mutex paths_mutex;

template <class Fn>
Fn next(const char* name) {
  return reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
}

using open_fn = int (*)(const char*, int, ...);
using openat_fn = int (*)(int, const char*, int, ...);
using write_fn = ssize_t (*)(int, const void*, size_t);
using sync_fn = int (*)(int);
using rename_fn = int (*)(const char*, const char*);
using renameat_fn = int (*)(int, const char*, int, const char*);
using close_fn = int (*)(int);

bool under_slow_dir(const char* path) {
  static const char* dirs = std::getenv("SIGDUMP_SLOW_DISK_DIR");
  if (dirs == nullptr || path == nullptr) return false;
  for (const char* dir = dirs; *dir != '\0';) {
    const char* colon = std::strchr(dir, ':');
    const std::size_t n =
        colon != nullptr ? static_cast<std::size_t>(colon - dir) : std::strlen(dir);
    if (n > 0 && std::strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0')) {
      return true;
    }
    if (colon == nullptr) break;
    dir = colon + 1;
  }
  return false;
}

bool tracked(int fd) {
  return fd >= 0 && fd < max_fds && fds[fd].on_slow_disk.load(std::memory_order_acquire);
}

void track(int fd, const char* path) {
  if (fd < 0 || fd >= max_fds) return;
  const std::lock_guard lock(paths_mutex);
  std::snprintf(fds[fd].path, max_path, "%s", path);
  fds[fd].on_slow_disk.store(true, std::memory_order_release);
}

// The path fd was opened by, into `out` (max_path bytes).
const char* path_of(int fd, char* out) {
  const std::lock_guard lock(paths_mutex);
  std::memcpy(out, fds[fd].path, max_path);
  return out;
}

void untrack(int fd) {
  if (fd >= 0 && fd < max_fds) fds[fd].on_slow_disk.store(false, std::memory_order_release);
}

void delay() {
  static const long ms = [] {
    const char* v = std::getenv("SIGDUMP_SLOW_DISK_MS");
    return v != nullptr ? std::strtol(v, nullptr, 10) : 0L;
  }();
  static const char* hold = std::getenv("SIGDUMP_SLOW_DISK_HOLD");
  if (hold != nullptr && *hold != '\0') {
    struct stat st {};
    while (::stat(hold, &st) == 0) {
      timespec tick{0, 1000000};
      ::nanosleep(&tick, nullptr);
    }
  }
  if (ms <= 0) return;
  timespec ts{ms / 1000, (ms % 1000) * 1000000};
  while (::nanosleep(&ts, &ts) != 0) {
  }
}

// One line per call that writes, appended with a single write(2).
void note(const char* op, const char* path) {
  static const char* log_path = std::getenv("SIGDUMP_SLOW_DISK_LOG");
  if (log_path == nullptr || *log_path == '\0') return;
  static const int log_fd =
      next<open_fn>("open")(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) return;
  const bool main = ::syscall(SYS_gettid) == ::getpid();
  char line[max_path + 64];
  const int n = std::snprintf(line, sizeof line, "%s %s %s\n", main ? "main" : "other", op, path);
  if (n > 0) {
    [[maybe_unused]] ssize_t w = next<write_fn>("write")(
        log_fd, line,
        static_cast<std::size_t>(n) < sizeof line ? static_cast<std::size_t>(n) : sizeof line - 1);
  }
}

bool writes(int flags) { return (flags & (O_CREAT | O_WRONLY | O_RDWR | O_TRUNC)) != 0; }

int opened(int fd, const char* path, int flags) {
  if (fd >= 0) track(fd, path);
  note(writes(flags) ? "open" : "read", path);
  delay();
  return fd;
}

int open_by(open_fn real, const char* path, int flags, mode_t mode) {
  const int fd = real(path, flags, mode);
  return under_slow_dir(path) ? opened(fd, path, flags) : fd;
}

}  // namespace

// The mode argument open(2) takes with O_CREAT or O_TMPFILE, into `mode`
// (0 without them: the argument is not there to read).
#define SLOW_DISK_MODE_ARG(flags, mode)          \
  mode_t mode = 0;                               \
  if (((flags) & (O_CREAT | O_TMPFILE)) != 0) {  \
    va_list ap;                                  \
    va_start(ap, flags);                         \
    mode = static_cast<mode_t>(va_arg(ap, int)); \
    va_end(ap);                                  \
  }

extern "C" {

int open(const char* path, int flags, ...) {
  SLOW_DISK_MODE_ARG(flags, mode);
  static const auto real = next<open_fn>("open");
  return open_by(real, path, flags, mode);
}

int open64(const char* path, int flags, ...) {
  SLOW_DISK_MODE_ARG(flags, mode);
  static const auto real = next<open_fn>("open64");
  return open_by(real, path, flags, mode);
}

int openat(int dirfd, const char* path, int flags, ...) {
  SLOW_DISK_MODE_ARG(flags, mode);
  static const auto real = next<openat_fn>("openat");
  const int fd = real(dirfd, path, flags, mode);
  if (under_slow_dir(path)) return opened(fd, path, flags);
  if (path[0] != '/' && tracked(dirfd)) {
    char full[max_path];
    char dir[max_path];
    std::snprintf(full, sizeof full, "%s/%s", path_of(dirfd, dir), path);
    return opened(fd, full, flags);
  }
  return fd;
}

int mkostemp(char* tmpl, int flags) {
  using mkostemp_fn = int (*)(char*, int);
  static const auto real = next<mkostemp_fn>("mkostemp");
  const int fd = real(tmpl, flags);
  return under_slow_dir(tmpl) ? opened(fd, tmpl, O_CREAT) : fd;
}

ssize_t write(int fd, const void* buf, size_t n) {
  static const auto real = next<write_fn>("write");
  if (tracked(fd)) {
    char path[max_path];
    note("write", path_of(fd, path));
    delay();
  }
  return real(fd, buf, n);
}

int fsync(int fd) {
  static const auto real = next<sync_fn>("fsync");
  if (tracked(fd)) {
    char path[max_path];
    note("fsync", path_of(fd, path));
    delay();
  }
  return real(fd);
}

int fdatasync(int fd) {
  static const auto real = next<sync_fn>("fdatasync");
  if (tracked(fd)) {
    char path[max_path];
    note("fdatasync", path_of(fd, path));
    delay();
  }
  return real(fd);
}

int rename(const char* from, const char* to) {
  static const auto real = next<rename_fn>("rename");
  if (under_slow_dir(to)) {
    note("rename", to);
    delay();
  }
  return real(from, to);
}

int renameat(int from_dir, const char* from, int to_dir, const char* to) {
  static const auto real = next<renameat_fn>("renameat");
  if (under_slow_dir(to) || (to[0] != '/' && tracked(to_dir))) {
    note("rename", to);
    delay();
  }
  return real(from_dir, from, to_dir, to);
}

int unlink(const char* path) {
  using unlink_fn = int (*)(const char*);
  static const auto real = next<unlink_fn>("unlink");
  if (under_slow_dir(path)) {
    note("unlink", path);
    delay();
  }
  return real(path);
}

int unlinkat(int dir, const char* path, int flags) {
  using unlinkat_fn = int (*)(int, const char*, int);
  static const auto real = next<unlinkat_fn>("unlinkat");
  if (under_slow_dir(path) || (path[0] != '/' && tracked(dir))) {
    note("unlink", path);
    delay();
  }
  return real(dir, path, flags);
}

int close(int fd) {
  static const auto real = next<close_fn>("close");
  untrack(fd);
  return real(fd);
}

}  // extern "C"
