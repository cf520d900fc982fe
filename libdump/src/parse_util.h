// Private helpers shared by the parser, the writer and the text-value reader.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sigdump::detail {

/* Longest header/gap line accepted; past it a line is an error, not a scan. */
inline constexpr std::size_t max_line_bytes = 64 * 1024;

/* Whether c can appear in the value text of a text record. */
inline bool is_value_char(char c) noexcept {
  switch (c) {
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
    case '+':
    case '-':
    case '.':
    case 'e':
    case 'E':
    case ',':
    case ' ':
    case '\t':
    case '\r':
    case 'n':
    case 'N':
    case 'a':
    case 'A':
    case 'i':
    case 'I':
    case 'f':
    case 'F':
    case 't':
    case 'T':
    case 'y':
    case 'Y': return true;
    default: return false;
  }
}

inline bool is_value_separator(char c) noexcept {
  return c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Parses one text value token ("0.500000", "-3", "nan", "+1e5"); NaN on garbage. */
float parse_value_token(std::string_view token) noexcept;

/* Printable rendering of up to `limit` bytes for error messages. */
std::string quote_bytes(std::string_view bytes, std::size_t limit = 24);

}  // namespace sigdump::detail
