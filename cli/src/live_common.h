// Shared pieces of the live commands (status, runs, query, subscribe, top):
// option parsing, finding and connecting to the daemon, calling a method,
// and reading the JSON replies.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sigdump/ipc/client.h"

namespace sigdump::cli::live {

/* One option a command accepts: "--name" alone (flag) or "--name VALUE". */
struct option_spec {
  std::string name;  // without the dashes
  bool takes_value = false;
};

struct parsed_args {
  std::map<std::string, std::string> values;  // options with values (last one wins)
  std::vector<std::string> flags;             // flags present
  std::vector<std::string> positional;

  bool has(std::string_view name) const;
  std::optional<std::string> get(std::string_view name) const;
};

/* Parses "--name VALUE", "--name=VALUE", flags and positional arguments
   ("--" ends the options). Every command also accepts --socket PATH. On a
   bad argument prints the usage error and returns nullopt. */
std::optional<parsed_args> parse_args(std::string_view command,
                                      const std::vector<std::string>& args,
                                      std::vector<option_spec> spec,
                                      std::size_t max_positional = 0);

/* --socket PATH, else $SIGDUMP_SOCKET, else the default (same rule as the
   daemon). With a remote host (--host, $SIGDUMP_HOST: remote.h) the
   endpoint is its ssh:// URL instead, holding --socket (the socket on that
   machine) as its path; it also keys the saved subscribe clock. */
std::string socket_path_of(const parsed_args& args);

/* Whether an endpoint from socket_path_of is a remote daemon's. */
bool is_remote(const std::string& endpoint);

/* The connection to an endpoint of socket_path_of: the local socket (with
   the client's trust checks, waiting at most `timeout`), or ssh running
   `sigdump dial-stdio` on the remote host (remote.h). */
result<ipc::client> dial(const std::string& endpoint,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5));

/* dial(), or prints the reason (for no daemon: how to start one). */
std::optional<ipc::client> connect(const std::string& socket_path);

/* Calls `method` and returns the reply's result JSON; prints the error reply
   or transport error and returns nullopt. */
std::optional<std::string> call(ipc::client& c, std::string_view method,
                                std::string_view params_json,
                                std::chrono::milliseconds timeout = std::chrono::seconds(30));

/* connect() then call(): one request on a connection of its own; nullopt
   once the reason is printed. */
std::optional<std::string> ask(const std::string& socket_path, std::string_view method,
                               std::string_view params_json);

/* Why a request got no result: the connection failed (`transport`: the
   daemon may come back, a retry may succeed) or the daemon replied with an
   error ("sigdumpd: CODE: MESSAGE", final). */
struct request_failure {
  std::string message;
  bool transport = false;
};

/* Sends `subscribe` with params_json (docs/protocol.md): the id its events
   carry and the reply's result, or why not. */
struct subscribed {
  std::string id;
  std::string result;
};
std::expected<subscribed, request_failure> try_subscribe(ipc::client& c,
                                                         std::string_view params_json);
/* try_subscribe(), or prints the failure and returns nullopt. */
std::optional<subscribed> subscribe(ipc::client& c, std::string_view params_json);

/* Parses a positive integer option value; prints a usage error on failure. */
std::optional<std::uint64_t> parse_count(std::string_view command, std::string_view option,
                                         std::string_view text);

/* True when stdout is a terminal and NO_COLOR is unset. */
bool color_wanted();

// ---- reading JSON values with defaults (missing or null keys give them)
std::string str(simdjson::dom::element e, std::string_view key, std::string_view fallback = "");
std::optional<double> num(simdjson::dom::element e, std::string_view key);
std::optional<std::int64_t> integer(simdjson::dom::element e, std::string_view key);
std::optional<bool> boolean(simdjson::dom::element e, std::string_view key);
/* The member, or nullopt when absent or null. */
std::optional<simdjson::dom::element> member(simdjson::dom::element e, std::string_view key);

/* "0.000849" style for metrics (the vendor prints %f); "nan"/"-" kept short. */
std::string fixed6(std::optional<double> v);
/* "%g", or "-" when absent. */
std::string general(std::optional<double> v);
/* "1h02m", "5m10s", "12s" */
std::string duration(std::int64_t seconds);

/* Where subscribe remembers its last clock: $XDG_STATE_HOME/sigdump/subscribe.clock
   (default ~/.local/state/...), one "SOCKET<TAB>CLOCK" line per socket path. */
std::string clock_file_path();
/* The clock saved for socket_path, or nullopt. */
std::optional<std::string> load_clock(const std::string& socket_path);
/* Saves the clock for socket_path (temp file + rename); returns false on failure. */
bool save_clock(const std::string& socket_path, const std::string& clock);

}  // namespace sigdump::cli::live
