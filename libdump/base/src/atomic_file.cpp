#include "sigdump/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sigdump/path_util.h"
#include "sigdump/unique_fd.h"

namespace sigdump {

bool write_all(int fd, std::string_view data) noexcept {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

result<void> write_file_atomically(const std::string& path, std::string_view bytes,
                                   std::optional<mode_t> mode) {
  if (path.empty()) return make_error(errc::usage, path, no_record, no_offset, "empty output path");
  std::string temp = path + ".tmp-XXXXXX";
  unique_fd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd) {
    const int e = errno;
    return make_error(errc::io, path, no_record, no_offset,
                      std::string("cannot create a temporary file beside it: ") + std::strerror(e));
  }
  auto fail = [&](const char* what, int e) -> result<void> {
    fd.reset();
    ::unlink(temp.c_str());
    return make_error(errc::io, path, no_record, no_offset, std::string(what) + std::strerror(e));
  };
  // mkostemp creates 0600; a file being replaced keeps the mode it had
  // unless the caller needs a fixed one (another user reads it).
  mode_t m = 0644;
  if (mode) {
    m = *mode;
  } else if (struct stat st{}; ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    m = st.st_mode & 07777;
  }
  if (::fchmod(fd.get(), m) != 0) return fail("cannot set permissions: ", errno);
  if (!write_all(fd.get(), bytes)) return fail("cannot write: ", errno);
  if (::fsync(fd.get()) != 0) return fail("cannot sync: ", errno);
  // Closed here rather than by the owner: a failed close is reported.
  if (::close(fd.release()) != 0) return fail("cannot close: ", errno);
  if (::rename(temp.c_str(), path.c_str()) != 0) return fail("cannot rename into place: ", errno);
  // Make the rename itself durable; failing here loses nothing visible.
  const std::string dir = parent_of(path);
  if (const unique_fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)); dfd) {
    (void)::fsync(dfd.get());
  }
  return {};
}

}  // namespace sigdump
