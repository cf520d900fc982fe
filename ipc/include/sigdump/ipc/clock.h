// Event clocks "c:START:PID:TICK": which daemon instance published an event
// and where it stands in that instance's global sequence of events.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sigdump::ipc {

struct event_clock {
  std::int64_t start = 0;  // daemon start time, Unix seconds
  std::int64_t pid = 0;    // daemon pid
  std::uint64_t tick = 0;  // +1 per published event; 0 means "before any event"

  /* True when both clocks come from the same daemon instance. */
  bool same_instance(const event_clock& o) const noexcept {
    return start == o.start && pid == o.pid;
  }
  friend bool operator==(const event_clock&, const event_clock&) = default;
};

/* "c:1764183000:4242:118" */
std::string format_clock(const event_clock& c);

/* Parses format_clock's output; nullopt for anything else (missing parts,
   signs, non-digits, overflow, trailing bytes). */
std::optional<event_clock> parse_clock(std::string_view s) noexcept;

}  // namespace sigdump::ipc
