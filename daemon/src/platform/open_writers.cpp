#include "platform/open_writers.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <csignal>

#include "sigdump/ipc/unique_fd.h"

namespace sigdump::daemon {

open_writers writers_of(const std::string& path, dev_t dev, ino_t ino, struct stat* held) {
  // O_NONBLOCK: a write lease someone holds fails the open at once instead
  // of making the loop wait for its break.
  const ipc::unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd) return open_writers::unknown;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_dev != dev || st.st_ino != ino) {
    return open_writers::unknown;
  }
  // The signal a lease break sends its holder: one whose default is to be
  // ignored (set before the lease exists, so no break can send SIGIO).
  if (::fcntl(fd.get(), F_SETSIG, SIGURG) != 0) return open_writers::unknown;
  if (::fcntl(fd.get(), F_SETLEASE, F_RDLCK) == 0) {
    // No writer can open the file while the lease is held: what fstat says
    // now is what every writer left.
    const bool seen = held == nullptr || ::fstat(fd.get(), held) == 0;
    ::fcntl(fd.get(), F_SETLEASE, F_UNLCK);  // closing the descriptor would too
    return seen ? open_writers::none : open_writers::unknown;
  }
  // EAGAIN: the file is open for writing (or a lease on it is being broken).
  return errno == EAGAIN ? open_writers::some : open_writers::unknown;
}

}  // namespace sigdump::daemon
