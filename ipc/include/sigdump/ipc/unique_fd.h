// ipc's name for the base library's descriptor owner (sigdump/unique_fd.h):
// the sockets, listeners and connections here hold ipc::unique_fd.
#pragma once

#include "sigdump/unique_fd.h"

namespace sigdump::ipc {

using sigdump::unique_fd;

}  // namespace sigdump::ipc
