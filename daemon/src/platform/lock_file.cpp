#include "platform/lock_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sigdump::daemon {

namespace {

// Whether the descriptor is still the file at `path` (not unlinked or
// replaced since it was opened).
bool still_at_path(int fd, const std::string& path) {
  struct stat by_fd {
  }, by_path{};
  if (::fstat(fd, &by_fd) != 0 || ::stat(path.c_str(), &by_path) != 0) return false;
  return by_fd.st_dev == by_path.st_dev && by_fd.st_ino == by_path.st_ino;
}

}  // namespace

result<lock_file> lock_file::acquire(const std::string& dir) {
  std::string path = dir + "/sigdumpd.lock";
  // The lock file is never unlinked by a daemon, so the file at the path is
  // the one every daemon locks. Should something else remove or replace it
  // between our open() and flock(), the lock we got is on an orphan that a
  // later daemon would not see: open again.
  for (int attempt = 0;; ++attempt) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
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
    if (!still_at_path(fd, path)) {
      if (attempt < 8) continue;
      return make_error(errc::io, path, no_record, no_offset,
                        "the lock file keeps being replaced while it is locked");
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
      return make_error(errc::io, path, no_record, no_offset,
                        std::string("cannot write the lock file: ") + std::strerror(errno));
    }
    return lock_file(std::move(path), std::move(owner));
  }
}

lock_file::~lock_file() {
  // Not unlinked: a daemon that opened the file just before an unlink could
  // lock the orphaned inode while a third one creates and locks a new file,
  // and two daemons would share one state folder. The pid inside is only
  // read while the lock is held.
}

}  // namespace sigdump::daemon
