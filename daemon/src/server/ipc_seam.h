// The seam between the daemon core (daemon_main.cpp) and the socket server
// (server/ipc_server.cpp defines start_ipc).
//
// Order at start-up, all on the loop thread: lock taken, persisted runs
// loaded into state, event loop created, signals on signalfd, first scan of
// the watched paths done; then start_ipc(); then sd_notify READY=1; then
// loop.run(). At shutdown (SIGTERM/SIGINT) the returned service is destroyed
// on the loop thread before the loop and the state: its destructor closes
// clients and removes the socket file it created.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "config/daemon_options.h"
#include "platform/event_loop.h"
#include "sigdump/error.h"
#include "state/daemon_state.h"

namespace sigdump::daemon {

/* The socket server's counters, for the monitoring export. */
struct ipc_health {
  std::uint64_t clients = 0;         // connected clients
  std::uint64_t subscriptions = 0;   // open subscriptions
  std::uint64_t dropped_events = 0;  // events subscribers were told they missed (gap), since start
  std::uint64_t overloaded = 0;      // clients disconnected for not reading, since start
};

/* The running socket server; destroying it stops serving and unlinks the
   socket it bound (not a socket passed by systemd). */
class ipc_service {
 public:
  virtual ~ipc_service() = default;
  /* Called on the loop thread after SIGHUP re-read the configuration (the
     state was updated and a resync event published). */
  virtual void reloaded(const daemon_options& /*options*/) {}
  /* Current counters; loop thread only. */
  virtual ipc_health health() const { return {}; }
  /* The socket's path (SIGDUMP_SOCKET of trigger commands). */
  virtual std::string socket_name() const { return {}; }
};

/* Starts serving the protocol on `loop`. `activated_fd` is a listening
   socket from systemd socket activation (sd_listen_fds), or -1: then bind
   the path from options.socket / $SIGDUMP_SOCKET / the default. The server
   registers itself as an event_sink on state to stream events. An error
   (cannot bind) makes the daemon exit 2 with it. */
result<std::unique_ptr<ipc_service>> start_ipc(event_loop& loop, daemon_state& state,
                                               const daemon_options& options, int activated_fd);

}  // namespace sigdump::daemon
