// sigdumpd's life cycle: lock, load state, loop, watch, serve, stop.
#pragma once

#include "config/daemon_options.h"

namespace sigdump::daemon {

/* Runs the daemon until SIGTERM/SIGINT. Returns the process exit status:
   0 after a clean stop, 2 when it cannot start (lock held, bad state
   folder, cannot bind), 1 if the event loop fails. */
int run_daemon(daemon_options& options);

}  // namespace sigdump::daemon
