// The listening Unix stream socket of the daemon: safe takeover of a stale
// socket file, never of a live one; peer credentials on accept.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "sigdump/error.h"
#include "sigdump/ipc/unique_fd.h"

namespace sigdump::ipc {

struct peer_credentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

/* SO_PEERCRED of a connected Unix socket. */
result<peer_credentials> peer_of(int fd);

/* Whether something accepts connections on the socket at path right now. */
bool socket_is_live(const std::string& path);

class unix_listener {
 public:
  /* Binds a new socket at path (non-blocking, close-on-exec), mode 0600, and
     listens. An existing socket file is probed with connect(): refused means
     stale and it is unlinked; a live one is an error ("another daemon is
     serving PATH"); a file that is not a socket is an error and is left
     alone. The caller holds the daemon lock and has made the folder. */
  static result<unix_listener> bind(const std::string& path, int backlog = 512);

  /* Adopts a socket that is already listening (systemd socket activation):
     makes it non-blocking and close-on-exec. It is never unlinked. */
  static result<unix_listener> adopt(int fd, std::string path);

  unix_listener(unix_listener&&) noexcept;
  unix_listener& operator=(unix_listener&&) noexcept;
  unix_listener(const unix_listener&) = delete;
  unix_listener& operator=(const unix_listener&) = delete;
  /* Closes; unlinks the socket file if this listener created it and the file
     there is still the one it bound. */
  ~unix_listener();

  struct accepted {
    unique_fd fd;  // non-blocking, close-on-exec
    peer_credentials peer;
  };
  /* Accepts one pending connection; nullopt when none is pending. Errors
     only for failures of the listener itself (not ECONNABORTED and kin). */
  result<std::optional<accepted>> accept();

  int fd() const noexcept { return fd_.get(); }
  const std::string& path() const noexcept { return path_; }
  bool activated() const noexcept { return !owns_path_; }

 private:
  unix_listener(unique_fd fd, std::string path, bool owns_path, dev_t dev, ino_t ino)
      : fd_(std::move(fd)), path_(std::move(path)), owns_path_(owns_path), dev_(dev), ino_(ino) {}
  void unlink_if_ours() noexcept;

  unique_fd fd_;
  std::string path_;
  bool owns_path_ = false;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

}  // namespace sigdump::ipc
