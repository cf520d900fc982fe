#include "sigdump/ipc/clock.h"

#include <charconv>

namespace sigdump::ipc {

std::string format_clock(const event_clock& c) {
  std::string out = "c:";
  out += std::to_string(c.start);
  out += ':';
  out += std::to_string(c.pid);
  out += ':';
  out += std::to_string(c.tick);
  return out;
}

namespace {

// Digits only (from_chars would accept a leading '-' for signed types).
template <class T>
bool parse_part(std::string_view& s, T& out, bool last) noexcept {
  std::size_t n = 0;
  while (n < s.size() && s[n] >= '0' && s[n] <= '9') ++n;
  if (n == 0) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + n, out);
  if (ec != std::errc{} || ptr != s.data() + n) return false;
  s.remove_prefix(n);
  if (last) return s.empty();
  if (s.empty() || s.front() != ':') return false;
  s.remove_prefix(1);
  return true;
}

}  // namespace

std::optional<event_clock> parse_clock(std::string_view s) noexcept {
  if (!s.starts_with("c:")) return std::nullopt;
  s.remove_prefix(2);
  event_clock c;
  if (!parse_part(s, c.start, false) || !parse_part(s, c.pid, false) ||
      !parse_part(s, c.tick, true)) {
    return std::nullopt;
  }
  return c;
}

}  // namespace sigdump::ipc
