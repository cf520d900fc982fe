#include "sigdump/trim.h"

namespace sigdump {

std::string trim(std::string_view s) {
  constexpr std::string_view space = " \t\n\v\f\r";
  const auto b = s.find_first_not_of(space);
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(space);
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace sigdump
