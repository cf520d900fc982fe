// Where each value of a JSON configuration file lies (line:column), and the
// first syntax error with its position, so that configuration errors can
// point into the file. Only a scanner: simdjson still reads the values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sigdump::daemon {

/* 1-based line and byte column; line 0 means unknown. */
struct text_position {
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  bool known() const noexcept { return line != 0; }
};

struct json_syntax_error {
  text_position at;
  std::string message;  // "trailing comma before ']'"
};

class config_locations {
 public:
  /* Scans a whole JSON document; never fails (see syntax_error()). */
  static config_locations scan(std::string_view text);

  /* The first syntax error and where it is, if the text is not valid JSON. */
  const std::optional<json_syntax_error>& syntax_error() const noexcept { return error_; }

  /* Position of the value at `path` as config errors name it ("pairs[1].sample",
     "metrics.interval_ms", "" for the top level), or of its key when `key` is
     true. An unknown path falls back to its nearest enclosing value. */
  text_position find(std::string_view path, bool key = false) const;

  /* The first number too large for a double (simdjson refuses it without
     saying where), if any. */
  text_position first_huge_number() const noexcept { return huge_number_; }

 private:
  friend class json_scanner;
  struct entry {
    text_position key, value;
  };
  std::unordered_map<std::string, entry> paths_;
  std::optional<json_syntax_error> error_;
  text_position huge_number_;
};

/* "FILE:LINE:COLUMN", or FILE alone when the position is unknown. */
std::string with_position(const std::string& file, text_position at);

}  // namespace sigdump::daemon
