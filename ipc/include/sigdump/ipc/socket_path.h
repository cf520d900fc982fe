// Where the daemon listens and the clients connect, and the safety checks on
// the folder holding the socket. The daemon and every client use the same
// rule, so a plain `sigdump status` finds a plain `sigdumpd`.
#pragma once

#include <string>

#include "sigdump/error.h"

namespace sigdump::ipc {

/* Returns the first of: $SIGDUMP_SOCKET, $XDG_RUNTIME_DIR/sigdump/sock,
   /tmp/sigdump-<uid>/sock. Empty environment variables count as unset. A
   --socket option, when given, wins over all of these (the caller's job). */
std::string default_socket_path();

/* Makes sure the folder holding socket_path exists and is private: creates it
   (and missing parents) with mode 0700; if it exists it must be a directory
   (a symlink is followed only when the link itself is ours) owned by the
   current uid and not writable by group or others, else an errc::io error
   naming the folder and what is wrong. Never changes an existing folder. */
result<void> ensure_socket_dir(const std::string& socket_path);

}  // namespace sigdump::ipc
