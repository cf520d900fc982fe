// The state folder's lock: one sigdumpd per state folder.
#pragma once

#include <string>

#include "sigdump/error.h"
#include "sigdump/ipc/unique_fd.h"

namespace sigdump::daemon {

class lock_file {
 public:
  /* Creates and flock()s DIR/sigdumpd.lock (O_CLOEXEC), writing our pid in
     it. Held by another process: an error naming the lock and its pid. The
     file is never unlinked, and a lock won on a file no longer at the path
     is given up and taken again. */
  static result<lock_file> acquire(const std::string& dir);

  lock_file(lock_file&&) noexcept = default;
  lock_file& operator=(lock_file&&) noexcept = default;
  /* Releases the lock; the file stays (see lock_file.cpp). */
  ~lock_file();

  const std::string& path() const noexcept { return path_; }

 private:
  lock_file(std::string path, ipc::unique_fd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  std::string path_;
  ipc::unique_fd fd_;
};

}  // namespace sigdump::daemon
