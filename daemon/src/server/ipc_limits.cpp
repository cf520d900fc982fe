// The socket server's limits (ipc_limits): the defaults of docs/protocol.md,
// and $SIGDUMP_IPC_TEST_LIMITS, which tests use to reach them quickly,
// parsed and checked.
#include <charconv>
#include <cstdlib>
#include <limits>
#include <string_view>

#include "platform/log.h"
#include "server/ipc_server.h"

namespace sigdump::daemon {

result<ipc_limits> ipc_limits::parse(std::string_view text) {
  static constexpr const char* names[8] = {"soft_msgs", "soft_bytes", "hard_msgs", "hard_bytes",
                                           "idle_ms",   "stall_ms",   "sndbuf",    "history"};
  const auto bad = [&](const std::string& why) {
    return make_error(errc::usage, {}, no_record, no_offset,
                      "SIGDUMP_IPC_TEST_LIMITS='" + std::string(text) + "': " + why);
  };
  ipc_limits l;
  std::uint64_t fields[8] = {};
  bool set[8] = {};
  std::string_view s = text;
  for (int i = 0;; ++i) {
    if (i == 8) return bad("more than 8 fields");
    const auto colon = s.find(':');
    const std::string_view part = s.substr(0, colon);
    if (!part.empty()) {
      std::uint64_t v = 0;
      auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
      if (ec != std::errc{} || end != part.data() + part.size()) {
        return bad(std::string(names[i]) + " is not a whole number");
      }
      fields[i] = v;
      set[i] = true;
    }
    if (colon == std::string_view::npos) break;
    s.remove_prefix(colon + 1);
  }
  for (int i : {0, 1, 2, 3, 7}) {
    if (set[i] && fields[i] == 0) return bad(std::string(names[i]) + " must be at least 1");
  }
  if (set[0]) l.queue.soft_messages = fields[0];
  if (set[1]) l.queue.soft_bytes = fields[1];
  if (set[2]) l.queue.hard_messages = fields[2];
  if (set[3]) l.queue.hard_bytes = fields[3];
  if (set[4]) l.idle = std::chrono::milliseconds(std::min<std::uint64_t>(fields[4], 1ull << 40));
  if (set[5]) l.stall = std::chrono::milliseconds(std::min<std::uint64_t>(fields[5], 1ull << 40));
  if (set[6]) {
    if (fields[6] > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
      return bad("sndbuf is larger than a socket buffer can be");
    }
    l.sndbuf = static_cast<int>(fields[6]);
  }
  if (set[7]) l.history = fields[7];
  if (l.queue.soft_messages > l.queue.hard_messages) return bad("soft_msgs is above hard_msgs");
  if (l.queue.soft_bytes > l.queue.hard_bytes) return bad("soft_bytes is above hard_bytes");
  return l;
}

ipc_limits ipc_limits::from_environment() {
  const char* env = std::getenv("SIGDUMP_IPC_TEST_LIMITS");
  if (env == nullptr || *env == '\0') return ipc_limits{};
  auto parsed = parse(env);
  if (!parsed) {
    log(log_level::err, parsed.error().describe() + "; using the default limits");
    return ipc_limits{};
  }
  // A test hook: say so, so a stray variable in a service's environment
  // shows in its log.
  log(log_level::notice, std::string("SIGDUMP_IPC_TEST_LIMITS in effect: ") + env);
  return *parsed;
}

}  // namespace sigdump::daemon
