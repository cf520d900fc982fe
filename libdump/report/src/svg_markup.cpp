// The text pieces of every SVG and HTML rendering. Everything a user can
// put in a dump (names, op types, paths) goes through append_escaped, so
// the output stays well-formed XML whatever the input.
#include "svg_markup.h"

#include <charconv>
#include <cmath>

#include "sigdump/json_util.h"

namespace sigdump::detail {

namespace {

constexpr std::string_view replacement = "\xEF\xBF\xBD";

}  // namespace

void append_escaped(std::string& out, std::string_view s) {
  append_utf8_escaped(out, s, [](std::string& o, unsigned char c) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      case '\t':
      case '\n':
      case '\r': o += static_cast<char>(c); break;
      default:
        // XML 1.0 forbids these even as character references.
        if (c < 0x20 || c == 0x7F) {
          o += replacement;
        } else {
          o += static_cast<char>(c);
        }
    }
  });
}

std::string escaped(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  append_escaped(out, s);
  return out;
}

std::string format_number(double v, int digits, char style) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto fmt = style == 'f' ? std::chars_format::fixed : std::chars_format::general;
  auto r = std::to_chars(buf, buf + sizeof buf, v, fmt, digits);
  if (r.ec != std::errc{}) {
    // Only a huge fixed-format value can overflow the buffer.
    r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, digits);
    if (r.ec != std::errc{}) return "?";
  }
  std::string s(buf, r.ptr);
  // No "-0.000": a value that rounds to zero prints unsigned.
  if (s.front() == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

// Coordinates: one decimal is plenty and keeps big charts small.
std::string px(double v) { return format_number(std::round(v * 10.0) / 10.0, 1, 'f'); }

void append_text(std::string& out, double x, double y, std::string_view text,
                 std::string_view attrs) {
  out += "<text x=\"" + px(x) + "\" y=\"" + px(y) + "\"";
  if (!attrs.empty()) {
    out += ' ';
    out += attrs;
  }
  out += '>';
  append_escaped(out, text);
  out += "</text>\n";
}

void append_line(std::string& out, double x1, double y1, double x2, double y2,
                 std::string_view attrs) {
  out += "<line x1=\"" + px(x1) + "\" y1=\"" + px(y1) + "\" x2=\"" + px(x2) + "\" y2=\"" + px(y2) +
         "\" ";
  out += attrs;
  out += "/>\n";
}

std::string shorten(const std::string& s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  std::size_t cut = max_bytes;
  // Never cut inside a UTF-8 sequence.
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "\xE2\x80\xA6";
}

}  // namespace sigdump::detail
