// The helpers parse_util.h declares: value tokens and quoted bytes.
#include "parse_util.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>

namespace sigdump {

namespace detail {

float parse_value_token(std::string_view token) noexcept {
  if (!token.empty() && token.front() == '+') token.remove_prefix(1);
  float v = 0;
  auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
  if (ptr != token.data() + token.size() && ec == std::errc{}) {
    return std::numeric_limits<float>::quiet_NaN();
  }
  if (ec == std::errc::result_out_of_range) {
    // from_chars leaves v untouched on overflow/underflow; strtof saturates.
    std::string tmp(token);
    return std::strtof(tmp.c_str(), nullptr);
  }
  if (ec != std::errc{}) return std::numeric_limits<float>::quiet_NaN();
  return v;
}

bool parse_int_token(std::string_view token, std::int32_t& out) noexcept {
  if (!token.empty() && token.front() == '+') token.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), out);
  return ec == std::errc{} && ptr == token.data() + token.size() && !token.empty();
}

std::string quote_bytes(std::string_view bytes, std::size_t limit) {
  // At most sizeof copy bytes are quoted.
  char copy[64];
  std::size_t n = std::min({bytes.size(), limit, sizeof copy});
  std::memcpy(copy, bytes.data(), n);
  std::string out = "'";
  static const char hex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(copy[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (bytes.size() > n) out += "...";
  out += '\'';
  return out;
}

}  // namespace detail

}  // namespace sigdump
