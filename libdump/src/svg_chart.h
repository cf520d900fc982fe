// Private helpers shared by svg_chart.cpp and html_report.cpp: escaping,
// locale-independent number formatting, and the SVG pieces of the report.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sigdump::detail {

/* Appends s escaped for HTML text, attributes and XML alike (& < > " '),
   invalid UTF-8 and XML-forbidden control bytes replaced by U+FFFD. */
void append_escaped(std::string& out, std::string_view s);
std::string escaped(std::string_view s);

/* Locale-independent number text: fixed with `digits` decimals ('f'),
   general with `digits` significant digits ('g'); "nan"/"inf" spelled out. */
std::string format_number(double v, int digits, char style);

/* A histogram over [lo, hi) with bins.size() equal bins (the last one
   closed); values outside are not counted. */
struct histogram {
  double lo = 0, hi = 1;
  std::vector<std::uint64_t> bins;
};

/* Two histograms drawn over the same bins (sample and benchmark values),
   or one when `second` is null. `id` names the <svg> element; `caption`
   is shown above the bars. Bar heights are log-scaled counts. */
std::string render_histogram_svg(std::string_view id, std::string_view caption,
                                 const histogram& first, std::string_view first_label,
                                 const histogram* second, std::string_view second_label);

}  // namespace sigdump::detail
