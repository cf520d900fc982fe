#include "sigdump/ipc/listener.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

namespace sigdump::ipc {

namespace {

std::unexpected<error> sys_error(const std::string& path, const char* what) {
  return make_error(errc::io, path, no_record, no_offset,
                    std::string(what) + ": " + std::strerror(errno));
}

bool make_address(const std::string& path, sockaddr_un& addr) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return true;
}

}  // namespace

result<peer_credentials> peer_of(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return sys_error("", "getsockopt(SO_PEERCRED)");
  }
  return peer_credentials{cred.pid, cred.uid, cred.gid};
}

bool socket_is_live(const std::string& path) {
  sockaddr_un addr;
  if (!make_address(path, addr)) return false;
  unique_fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe) return false;
  int rc;
  do {
    rc = ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR);
  // EAGAIN: a live listener whose backlog is full.
  if (rc != 0) return errno == EAGAIN;
  // A connection can still be accepted into the backlog of a listener whose
  // process is gone: a killed daemon's io_uring keeps its files open until
  // the ring is torn down, shortly after the process died. The listener's
  // credentials name the process that called listen(); if it is dead (or a
  // zombie), nobody will ever answer.
  auto peer = peer_of(probe.get());
  if (!peer || peer->pid <= 0) return true;
  if (::kill(peer->pid, 0) != 0 && errno == ESRCH) return false;
  std::string stat_path = "/proc/" + std::to_string(peer->pid) + "/stat";
  unique_fd stat_fd(::open(stat_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (stat_fd) {
    char buf[512];
    auto n = ::read(stat_fd.get(), buf, sizeof buf - 1);
    if (n > 0) {
      std::string_view text(buf, static_cast<std::size_t>(n));
      auto close_paren = text.rfind(')');
      if (close_paren != std::string_view::npos && close_paren + 2 < text.size() &&
          (text[close_paren + 2] == 'Z' || text[close_paren + 2] == 'X')) {
        return false;
      }
    }
  }
  return true;
}

result<unix_listener> unix_listener::bind(const std::string& path, int backlog) {
  sockaddr_un addr;
  if (!make_address(path, addr)) {
    return make_error(errc::usage, path, no_record, no_offset,
                      "socket path is empty or longer than " +
                          std::to_string(sizeof addr.sun_path - 1) + " bytes");
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return make_error(errc::io, path, no_record, no_offset,
                        "exists and is not a socket; not removing it");
    }
    if (socket_is_live(path)) {
      return make_error(errc::io, path, no_record, no_offset,
                        "another daemon is serving this socket; stop it first or use --socket");
    }
    // Refused: nobody listens, the file is left over from a daemon that died.
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return sys_error(path, "cannot remove stale socket");
    }
  } else if (errno != ENOENT) {
    return sys_error(path, "cannot stat socket");
  }

  unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return sys_error(path, "socket");
  // The socket file is created with the socket inode's mode less the umask:
  // made 0600 before bind(), it is never reachable by others, not even
  // between bind() and chmod(), and the process-wide umask (other threads
  // create files meanwhile) is left alone.
  if (::fchmod(fd.get(), 0600) != 0) return sys_error(path, "fchmod 0600");
  const int rc = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int bind_errno = errno;
  if (rc != 0) {
    errno = bind_errno;
    return sys_error(path, "bind");
  }
  if (::chmod(path.c_str(), 0600) != 0) {
    auto e = sys_error(path, "chmod 0600");
    ::unlink(path.c_str());
    return e;
  }
  if (::listen(fd.get(), backlog) != 0) {
    auto e = sys_error(path, "listen");
    ::unlink(path.c_str());
    return e;
  }
  if (::lstat(path.c_str(), &st) != 0) return sys_error(path, "stat after bind");
  return unix_listener(std::move(fd), path, true, st.st_dev, st.st_ino);
}

result<unix_listener> unix_listener::adopt(int fd, std::string path) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return sys_error(path, "fcntl(O_NONBLOCK) on the activated socket");
  }
  const int fdflags = ::fcntl(fd, F_GETFD);
  if (fdflags < 0 || ::fcntl(fd, F_SETFD, fdflags | FD_CLOEXEC) != 0) {
    return sys_error(path, "fcntl(FD_CLOEXEC) on the activated socket");
  }
  return unix_listener(unique_fd(fd), std::move(path), false, 0, 0);
}

unix_listener::unix_listener(unix_listener&& o) noexcept
    : fd_(std::move(o.fd_)),
      path_(std::move(o.path_)),
      owns_path_(std::exchange(o.owns_path_, false)),
      dev_(o.dev_),
      ino_(o.ino_) {}

unix_listener& unix_listener::operator=(unix_listener&& o) noexcept {
  if (this != &o) {
    unlink_if_ours();
    fd_ = std::move(o.fd_);
    path_ = std::move(o.path_);
    owns_path_ = std::exchange(o.owns_path_, false);
    dev_ = o.dev_;
    ino_ = o.ino_;
  }
  return *this;
}

unix_listener::~unix_listener() { unlink_if_ours(); }

void unix_listener::unlink_if_ours() noexcept {
  if (!owns_path_ || !fd_) return;
  // Another daemon may have replaced the file after we lost it: only remove
  // the inode we bound.
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) {
    ::unlink(path_.c_str());
  }
  owns_path_ = false;
}

result<std::optional<unix_listener::accepted>> unix_listener::accept() {
  for (;;) {
    const int c = ::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c >= 0) {
      unique_fd cfd(c);
      auto peer = peer_of(cfd.get());
      if (!peer) continue;  // the peer is already gone
      return std::optional<accepted>(accepted{std::move(cfd), *peer});
    }
    switch (errno) {
      case EINTR:
      case ECONNABORTED:
      case EPROTO: continue;
      case EAGAIN: return std::optional<accepted>();
      default: return sys_error(path_, "accept");
    }
  }
}

}  // namespace sigdump::ipc
