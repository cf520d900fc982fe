#include "platform/private_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace sigdump::daemon {

namespace {

std::string octal(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

}  // namespace

result<void> ensure_private_dir(const std::string& dir, const std::string& what) {
  const auto fail = [&](const std::string& why) {
    return make_error(errc::io, dir, no_record, no_offset, what + " " + why);
  };
  if (dir.empty()) return fail("is empty");
  std::error_code ec;
  // Parents the daemon creates are 0700 like the folder itself; existing
  // ones are left as they are.
  if (!std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return fail("cannot be created: " + ec.message());
    ::chmod(dir.c_str(), 0700);
  }
  const uid_t me = ::geteuid();
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0)
    return fail(std::string("cannot be read: ") + std::strerror(errno));
  if (S_ISLNK(st.st_mode)) {
    if (st.st_uid != me) {
      return fail("is a symlink owned by uid " + std::to_string(st.st_uid) + ", not by uid " +
                  std::to_string(me) + "; refusing to use it");
    }
    if (::stat(dir.c_str(), &st) != 0) {
      return fail(std::string("cannot be read: ") + std::strerror(errno));
    }
  }
  if (!S_ISDIR(st.st_mode)) return fail("exists but is not a folder");
  if (st.st_uid != me) {
    return fail("is owned by uid " + std::to_string(st.st_uid) + ", not by uid " +
                std::to_string(me) +
                " that sigdumpd runs as; refusing to use it (choose a folder of your own)");
  }
  if ((st.st_mode & 022) != 0) {
    return fail("has mode " + octal(st.st_mode) +
                ", writable by group or others, so others could plant files in it; refusing to "
                "use it (run: chmod 700 '" +
                dir + "')");
  }
  if ((st.st_mode & 077) != 0) ::chmod(dir.c_str(), 0700);
  return {};
}

}  // namespace sigdump::daemon
