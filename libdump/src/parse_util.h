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

/* Parses one text token that is a whole int32 ("-3", "+16777217"); false
   for anything else ("1.5", "nan", out of range). */
bool parse_int_token(std::string_view token, std::int32_t& out) noexcept;

/* Printable rendering of up to `limit` bytes for error messages. */
std::string quote_bytes(std::string_view bytes, std::size_t limit = 24);

/* The message of errc::truncated when mapped bytes vanished as we read. */
inline constexpr const char* shrank_message = "file shrank while being read";

inline constexpr std::string_view out_prefix = "//out ";
inline constexpr std::string_view in_prefix = "//in ";
inline constexpr std::string_view size_prefix = "//buffer data size:";
// A declared size above this cannot be real and would overflow offsets.
inline constexpr std::uint64_t max_declared = std::uint64_t{1} << 60;

/* File bytes [base, base + size) held in memory and indexed by file
   offset: the parser reads a copy of part of a file as it would the whole
   file. Offsets below base are not held (the parser only reads forward from
   where it resumes, which is where a copy starts). */
class window_text {
 public:
  window_text(std::string_view bytes, std::size_t base) noexcept : bytes_(bytes), base_(base) {}
  /* One past the last offset held. */
  std::size_t size() const noexcept { return base_ + bytes_.size(); }
  char operator[](std::size_t offset) const noexcept { return bytes_[offset - base_]; }
  const char* at(std::size_t offset) const noexcept { return bytes_.data() + (offset - base_); }
  std::string_view substr(std::size_t offset, std::size_t n = std::string_view::npos) const {
    return bytes_.substr(offset - base_, n);
  }

 private:
  std::string_view bytes_;
  std::size_t base_;
};

inline std::string_view rstrip(std::string_view s) noexcept {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

inline std::string_view lstrip(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

}  // namespace sigdump::detail
