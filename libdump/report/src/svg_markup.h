// Private: the text pieces every SVG and HTML rendering here is made of:
// escaping, locale-independent numbers, coordinates, <text> and <line>
// elements, and the palette.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sigdump::detail {

/* Appends s escaped for HTML text, attributes and XML alike (& < > " '),
   invalid UTF-8 and XML-forbidden control bytes replaced by U+FFFD. */
void append_escaped(std::string& out, std::string_view s);
std::string escaped(std::string_view s);

/* Locale-independent number text: fixed with `digits` decimals ('f'),
   general with `digits` significant digits ('g'); "nan"/"inf" spelled out. */
std::string format_number(double v, int digits, char style);

/* A coordinate: one decimal is plenty and keeps big charts small. */
std::string px(double v);

/* A <text> element at (x, y) holding `text` escaped, with extra attributes. */
void append_text(std::string& out, double x, double y, std::string_view text,
                 std::string_view attrs = {});

/* A <line> element from (x1, y1) to (x2, y2) with these attributes. */
void append_line(std::string& out, double x1, double y1, double x2, double y2,
                 std::string_view attrs);

/* s cut to at most max_bytes, never inside a UTF-8 sequence, and an
   ellipsis added when it was cut. */
std::string shorten(const std::string& s, std::size_t max_bytes);

/* The palette: a layer within the thresholds, a suspect one, the
   diagnosis, a difference. */
inline constexpr const char* color_ok = "#1f77b4";
inline constexpr const char* color_bad = "#d62728";
inline constexpr const char* color_diag = "#ff7f0e";
inline constexpr const char* color_diff = "#9467bd";

}  // namespace sigdump::detail
