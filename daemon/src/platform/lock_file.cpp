#include "platform/lock_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sigdump::daemon {

result<lock_file> lock_file::acquire(const std::string& dir) {
  std::string path = dir + "/sigdumpd.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return make_error(errc::io, path, no_record, no_offset,
                      std::string("cannot open the lock file: ") + std::strerror(errno));
  }
  ipc::unique_fd owner(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err != EWOULDBLOCK) {
      return make_error(errc::io, path, no_record, no_offset,
                        std::string("cannot lock: ") + std::strerror(err));
    }
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return make_error(errc::usage, path, no_record, no_offset,
                      "another sigdumpd" + (pid.empty() ? std::string() : " (pid " + pid + ")") +
                          " holds this lock on the state folder; stop it or use another "
                          "--state-dir");
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    return make_error(errc::io, path, no_record, no_offset,
                      std::string("cannot write the lock file: ") + std::strerror(errno));
  }
  return lock_file(std::move(path), std::move(owner));
}

lock_file::~lock_file() {
  // Unlink while still holding the lock, so a starting daemon either sees
  // our lock or a fresh file.
  if (fd_) ::unlink(path_.c_str());
}

}  // namespace sigdump::daemon
