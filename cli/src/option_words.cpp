#include "option_words.h"

#include <charconv>
#include <cmath>

namespace sigdump::cli {

option_word split_option(std::string_view word) {
  option_word w;
  const auto eq = word.find('=');
  if (word.starts_with("--") && eq != std::string_view::npos) {
    w.name = word.substr(0, eq);
    w.inline_value = std::string(word.substr(eq + 1));
  } else {
    w.name = word;
  }
  return w;
}

std::optional<std::string> option_value(const option_word& w, const std::vector<std::string>& args,
                                        std::size_t& i) {
  if (w.inline_value) return w.inline_value;
  if (i + 1 < args.size()) return args[++i];
  return std::nullopt;
}

std::optional<double> parse_double(std::string_view s) {
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<unsigned> parse_count(std::string_view s, unsigned max) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

}  // namespace sigdump::cli
