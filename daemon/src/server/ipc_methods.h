// The protocol's method registry: each method lives in its own
// methods/method_<name>.cpp, and ipc_methods.cpp lists them all by name.
// Handlers run on the loop thread and read the daemon's model directly.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sigdump/ipc/listener.h"
#include "sigdump/ipc/protocol.h"
#include "state/daemon_state.h"

namespace sigdump::daemon {

class ipc_server;

/* What a handler gets for one request. */
struct method_context {
  ipc_server& server;
  daemon_state& state;
  std::uint64_t client;  // the connection, for deferred replies
  // Who asked (SO_PEERCRED). Peers of another uid (allow_uids) get only
  // what they could read themselves: see owner_peer().
  ipc::peer_credentials peer;
  const ipc::request& request;
  const ipc::params_reader& params;
};

/* A result (JSON text), an error, or nullopt: the handler answers later with
   ipc_server::complete() (work moved off the loop thread). */
using method_result = std::expected<std::optional<std::string>, ipc::protocol_error>;
using method_handler = std::function<method_result(method_context&)>;

/* Whether the peer runs as the daemon's own uid: only it may name any file,
   and only it sees error texts that quote a file's bytes. */
bool owner_peer(const method_context& ctx) noexcept;

/* Whether the peer could open `path` for reading itself (mode bits; a
   peer's supplementary groups are not known, so group read counts only for
   its primary group). What a peer of another uid may be shown of a file. */
bool peer_could_read(const std::string& path, const ipc::peer_credentials& peer);

/* The result of a request answered later. */
inline method_result deferred_reply() { return std::optional<std::string>(); }

/* The handler registered under name, or nullptr. */
const method_handler* find_method(std::string_view name);

/* Method names in alphabetical order (for hello's diagnostics and tests). */
std::vector<std::string> method_names();

}  // namespace sigdump::daemon
