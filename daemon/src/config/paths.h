// How sigdumpd's options turn a path as written into an absolute one.
#pragma once

#include <string>

namespace sigdump::daemon {

/* The current folder ("/" when it cannot be read). */
std::string current_dir();

/* p made absolute and lexically normalized: "~/..." from $HOME, a relative
   path against base_dir. An empty p stays empty. */
std::string resolve_against(const std::string& base_dir, const std::string& p);

}  // namespace sigdump::daemon
