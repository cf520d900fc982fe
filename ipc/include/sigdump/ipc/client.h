// The client side of the sigdumpd protocol (docs/protocol.md): connect to
// the daemon's Unix socket, send requests with automatic ids, wait for the
// matching reply while buffering events, read events with a timeout. Every
// wait is bounded by a timeout (a negative timeout waits without bound and
// must be asked for); EINTR ends a wait early so callers can check signals.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sigdump/error.h"
#include "sigdump/ipc/protocol.h"  // max_line_bytes

namespace sigdump::ipc {

/* One line received from the daemon, with the fields every caller needs
   already picked out; parse `line` (or `result`) again for the rest. */
struct message {
  std::string line;           // the JSON object as received, without '\n'
  std::string id;             // the "id" as JSON text: "7", "\"abc\"", "null"; empty if absent
  std::string event;          // events: "layer", "run_start", ...; empty for replies
  std::string clock;          // events: their "clock"; empty otherwise
  std::string result;         // replies: "result" as minified JSON; empty otherwise
  bool is_error = false;      // replies: carries "error"
  std::string error_code;     // "not_found", "invalid_params", ...
  std::string error_message;  // for humans

  bool is_event() const noexcept { return !event.empty(); }
};

/* Parses one protocol line into a message; errc::protocol when it is not a
   JSON object. */
result<message> parse_message(std::string_view line);

/* The message "no sigdumpd listening on PATH; start it with ..." used when
   connecting finds nobody. */
std::string no_daemon_message(const std::string& socket_path);

/* Whether a connected daemon socket can be trusted: the process serving it
   (SO_PEERCRED) runs as our effective uid or root, and the folder holding
   the socket is owned by one of those and not writable by group or others,
   so nobody else could have put the socket there. Uids listed in
   $SIGDUMP_TRUST_UIDS (comma-separated; for a daemon of another user whose
   allow_uids lets us in) count as ours. Empty when trusted, else why not. */
std::string trusted_peer_error(int fd, const std::string& socket_path);

class client {
 public:
  /* Connects to the daemon at socket_path, waiting at most `timeout` for a
     full backlog to drain. No daemon (ENOENT, ECONNREFUSED): errc::io with
     no_daemon_message(socket_path). Trusts only what the user's own daemon
     could have made (trusted_peer_error): anything else is errc::io naming
     the socket and the uid found, and nothing is sent to it. */
  static result<client> connect(const std::string& socket_path,
                                std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /* Takes ownership of an already connected stream socket (tests use a
     socketpair). The descriptor is made non-blocking and close-on-exec. */
  static client adopt(int fd, std::string peer_name = "socket");
  /* Runs argv (argv[0] looked up in PATH) with one end of a socket pair as
     its stdin and stdout and talks through the other end: a transport such
     as `ssh HOST sigdump dial-stdio`. The child's stderr is ours; it ignores
     SIGINT and SIGQUIT, so Ctrl-C reaches us and we end the connection. When
     the child closes the connection, the error names how it exited. The
     client closes its end on destruction, then ends (SIGTERM) and reaps the
     child. errc::io when it cannot be started. */
  static result<client> spawn(const std::vector<std::string>& argv, std::string peer_name);

  client(client&& other) noexcept;
  client& operator=(client&& other) noexcept;
  client(const client&) = delete;
  client& operator=(const client&) = delete;
  ~client();

  /* Sends {"id":N,"method":METHOD[,"params":PARAMS]} and returns N (ids count
     up from 1). params_json must be a JSON object or empty. Errors: a line
     over max_line_bytes (errc::usage), a peer gone or a send blocked past
     `timeout` (errc::io). */
  result<std::uint64_t> send(std::string_view method, std::string_view params_json = {},
                             std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /* Waits for the reply carrying `id`, buffering events and other replies
     that arrive first. An error reply is a message with is_error set; a
     transport error line without an id ("id":null) is returned as the
     reply too. errc::io on timeout, EOF or a broken line. */
  result<message> wait_reply(std::uint64_t id, std::chrono::milliseconds timeout);
  /* send + wait_reply. */
  result<message> call(std::string_view method, std::string_view params_json = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /* The next event (buffered first, then read). std::nullopt when `timeout`
     passed or a signal interrupted the wait; errc::io when the daemon closed
     the connection or sent a line over the limit; errc::protocol for a
     transport error line (its code in the message). Replies that arrive are
     buffered for wait_reply. */
  result<std::optional<message>> next_event(std::chrono::milliseconds timeout);

  /* The socket, for callers that poll it together with other descriptors. */
  int fd() const noexcept;
  /* Whether a complete event is buffered (poll would not show it). */
  bool has_buffered_event() const noexcept;

 private:
  struct impl;
  explicit client(std::unique_ptr<impl> p) noexcept;
  std::unique_ptr<impl> impl_;
};

}  // namespace sigdump::ipc
