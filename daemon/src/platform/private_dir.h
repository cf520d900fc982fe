// The daemon's own folders (state, archive): created private, and refused
// when another user could have planted files or symlinks in them.
#pragma once

#include <string>

#include "sigdump/error.h"

namespace sigdump::daemon {

/* Makes sure `dir` is the daemon's own: created with mode 0700 (and missing
   parents) when absent; otherwise a directory (reached through a symlink
   only when the link itself is ours) owned by our effective uid and not
   writable by group or others, narrowed to 0700. Anything else is an
   errc::io error naming the folder (called `what`, e.g. "archive folder"),
   what is wrong and what to do: files the daemon creates there as root
   must never land on a path another user chose. */
result<void> ensure_private_dir(const std::string& dir, const std::string& what);

}  // namespace sigdump::daemon
