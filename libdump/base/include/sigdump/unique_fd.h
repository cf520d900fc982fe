// A move-only owner of one file descriptor: closed when the owner goes,
// so no path out of a function leaks it.
#pragma once

#include <unistd.h>

#include <utility>

namespace sigdump {

class unique_fd {
 public:
  unique_fd() noexcept = default;
  /* Takes ownership of fd (-1 for none). */
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  /* Closes; a close error is not reported and never retried (EINTR included). */
  ~unique_fd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  /* Gives up ownership without closing. */
  int release() noexcept { return std::exchange(fd_, -1); }
  /* Closes the current descriptor and owns fd instead. */
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace sigdump
