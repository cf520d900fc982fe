#include "sigdump/ipc/socket_path.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "sigdump/path_util.h"

namespace sigdump::ipc {

namespace {

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

std::string octal_mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// mkdir -p with mode 0700 for every folder it creates; existing folders are
// left alone (their checks happen on the last one only).
result<void> make_dirs(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) return {};
  if (errno != ENOENT) {
    return make_error(errc::io, dir, no_record, no_offset,
                      std::string("cannot stat socket folder: ") + std::strerror(errno));
  }
  std::string parent = parent_of(dir);
  if (parent != dir) {
    if (auto r = make_dirs(parent); !r) return r;
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return make_error(errc::io, dir, no_record, no_offset,
                      std::string("cannot create socket folder: ") + std::strerror(errno));
  }
  return {};
}

}  // namespace

std::string default_socket_path() {
  if (auto s = env_or_empty("SIGDUMP_SOCKET"); !s.empty()) return s;
  if (auto x = env_or_empty("XDG_RUNTIME_DIR"); !x.empty()) {
    while (x.size() > 1 && x.back() == '/') x.pop_back();
    return x + "/sigdump/sock";
  }
  return "/tmp/sigdump-" + std::to_string(::getuid()) + "/sock";
}

result<void> ensure_socket_dir(const std::string& socket_path) {
  if (socket_path.empty()) {
    return make_error(errc::usage, socket_path, no_record, no_offset, "empty socket path");
  }
  const std::string dir = parent_of(socket_path);
  if (auto r = make_dirs(dir); !r) return r;

  const uid_t me = ::geteuid();
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    return make_error(errc::io, dir, no_record, no_offset,
                      std::string("cannot stat socket folder: ") + std::strerror(errno));
  }
  if (S_ISLNK(st.st_mode)) {
    // Someone else's symlink in /tmp could redirect our socket into a folder
    // they control; our own link is the user's choice.
    if (st.st_uid != me) {
      return make_error(errc::io, dir, no_record, no_offset,
                        "socket folder is a symlink owned by uid " + std::to_string(st.st_uid) +
                            ", not by us (uid " + std::to_string(me) + "); refusing to use it");
    }
    if (::stat(dir.c_str(), &st) != 0) {
      return make_error(errc::io, dir, no_record, no_offset,
                        std::string("cannot stat socket folder: ") + std::strerror(errno));
    }
  }
  if (!S_ISDIR(st.st_mode)) {
    return make_error(errc::io, dir, no_record, no_offset,
                      "socket folder exists but is not a directory");
  }
  if (st.st_uid != me) {
    return make_error(errc::io, dir, no_record, no_offset,
                      "socket folder is owned by uid " + std::to_string(st.st_uid) +
                          ", not by us (uid " + std::to_string(me) +
                          "); refusing to use it (set SIGDUMP_SOCKET or --socket elsewhere)");
  }
  if ((st.st_mode & 022) != 0) {
    // Writable by others means they could replace our socket with theirs.
    return make_error(errc::io, dir, no_record, no_offset,
                      "socket folder has mode " + octal_mode(st.st_mode) +
                          ", writable by group or others; expected 0700 (run: chmod 700 '" + dir +
                          "')");
  }
  return {};
}

}  // namespace sigdump::ipc
