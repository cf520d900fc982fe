#include "state/events_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "platform/log.h"

namespace sigdump::daemon {

result<events_log> events_log::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    return make_error(errc::io, path, no_record, no_offset,
                      std::string("cannot open the events log: ") + std::strerror(errno));
  }
  ipc::unique_fd owner(fd);
  // Tensor names and paths are the user's business: an existing log that
  // others could read is narrowed to 0600 like every file the daemon writes.
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0 &&
      st.st_uid == ::geteuid()) {
    ::fchmod(fd, st.st_mode & 0600);
  }
  return events_log(path, std::move(owner));
}

void events_log::publish(const daemon_event& e) {
  std::string line = event_json(e);
  line += '\n';
  ssize_t n = ::write(fd_.get(), line.data(), line.size());
  if (n != static_cast<ssize_t>(line.size()) && !failed_) {
    failed_ = true;
    log(log_level::err, path_ + ": cannot append to the events log: " +
                            (n < 0 ? std::string(std::strerror(errno)) : "short write"));
  }
}

}  // namespace sigdump::daemon
