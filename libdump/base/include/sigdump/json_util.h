// A small streaming JSON writer shared by every module that emits JSON
// (CLI --json output, protocol messages, state files). Output is always
// valid JSON: strings are escaped, non-finite numbers become null.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sigdump {

/* Length of the valid UTF-8 sequence starting at s[i] (2 to 4 for a
   multi-byte character), or 0 when the bytes there are not valid UTF-8
   (overlong forms, surrogates and code points past U+10FFFF included).
   s[i] must be >= 0x80. Shared by every escaper so they agree. */
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept;

/* Appends the character starting at s[i] (s[i] >= 0x80) to out when it is
   valid UTF-8, else U+FFFD for that one byte; returns the bytes consumed. */
std::size_t append_utf8_or_replacement(std::string& out, std::string_view s, std::size_t i);

/* Appends s to out for a markup language: valid UTF-8 sequences as they
   are (invalid bytes as U+FFFD), each ASCII byte through ascii(out, byte),
   which writes it or its escape. JSON strings and SVG text share this walk. */
template <class Ascii>
void append_utf8_escaped(std::string& out, std::string_view s, Ascii ascii) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      i += append_utf8_or_replacement(out, s, i);
    } else {
      ascii(out, c);
      ++i;
    }
  }
}

/* Appends s to out as a quoted JSON string (control characters, quotes,
   backslashes escaped; bytes >= 0x80 passed through, invalid UTF-8 replaced
   by U+FFFD so the result always parses). */
void json_append_string(std::string& out, std::string_view s);
/* Appends a number: integers exactly, doubles with %.17g-style round trip
   precision, NaN/Inf as null. */
void json_append_number(std::string& out, double v);
void json_append_number(std::string& out, std::int64_t v);
void json_append_number(std::string& out, std::uint64_t v);

/* Builds one JSON value. Commas are inserted automatically:
     json_writer w; w.begin_object(); w.key("a"); w.value(1); w.end_object();
   Keys and values must alternate inside objects (not checked at run time). */
class json_writer {
 public:
  json_writer& begin_object();
  json_writer& end_object();
  json_writer& begin_array();
  json_writer& end_array();
  json_writer& key(std::string_view k);
  json_writer& value(std::string_view s);
  json_writer& value(const char* s) { return value(std::string_view(s)); }
  json_writer& value(const std::string& s) { return value(std::string_view(s)); }
  json_writer& value(double v);
  json_writer& value(float v) { return value(static_cast<double>(v)); }
  json_writer& value(std::int64_t v);
  json_writer& value(std::uint64_t v);
  json_writer& value(int v) { return value(static_cast<std::int64_t>(v)); }
  json_writer& value(unsigned v) { return value(static_cast<std::uint64_t>(v)); }
  json_writer& value(long long v) { return value(static_cast<std::int64_t>(v)); }
  json_writer& value(unsigned long long v) { return value(static_cast<std::uint64_t>(v)); }
  json_writer& value(bool v);
  json_writer& null();
  /* Inserts already-serialized JSON as one value. */
  json_writer& raw(std::string_view json);
  /* A key and its value in one call. */
  template <class T>
  json_writer& field(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }
  json_writer& field_null(std::string_view k) {
    key(k);
    return null();
  }

  const std::string& str() const noexcept { return out_; }
  std::string take() noexcept { return std::move(out_); }

 private:
  void before_value();
  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

}  // namespace sigdump
