// A value histogram drawn as SVG: bars of log-scaled counts, one tooltip
// per bin.
#include "histogram_svg.h"

#include <algorithm>
#include <cmath>

#include "svg_markup.h"

namespace sigdump::detail {

std::string render_histogram_svg(std::string_view id, std::string_view caption,
                                 const histogram& first, std::string_view first_label,
                                 const histogram* second, std::string_view second_label) {
  const double w = 460, h = 210, left = 46, right = 12, top = 34, bottom = 36;
  const double plot_w = w - left - right, plot_h = h - top - bottom;
  const std::size_t bins = first.bins.size();
  std::uint64_t max_count = 0;
  for (auto c : first.bins) max_count = std::max(max_count, c);
  if (second) {
    for (auto c : second->bins) max_count = std::max(max_count, c);
  }
  const double log_max = std::log10(1.0 + static_cast<double>(max_count));
  auto bar_h = [&](std::uint64_t c) {
    return log_max > 0 ? plot_h * std::log10(1.0 + static_cast<double>(c)) / log_max : 0.0;
  };

  std::string out;
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"histogram\" id=\"";
  append_escaped(out, id);
  out += "\" width=\"" + px(w) + "\" height=\"" + px(h) + "\" viewBox=\"0 0 " + px(w) + " " +
         px(h) + "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  append_text(out, left, 14, caption, "font-weight=\"bold\"");
  // Legend.
  // One series alone is a difference: its own colour.
  const char* first_color = second ? color_diag : color_diff;
  double lx = left;
  out += "<rect x=\"" + px(lx) + "\" y=\"20\" width=\"10\" height=\"8\" fill=\"" + first_color +
         "\"/>\n";
  append_text(out, lx + 14, 28, first_label);
  if (second) {
    lx += 20 + 7.0 * static_cast<double>(first_label.size());
    out += "<rect x=\"" + px(lx) + "\" y=\"20\" width=\"10\" height=\"8\" fill=\"" + color_ok +
           "\"/>\n";
    append_text(out, lx + 14, 28, second_label);
  }
  append_text(out, w - right, 28, "log count, max " + std::to_string(max_count),
              "text-anchor=\"end\" fill=\"#666\"");
  out += "<rect x=\"" + px(left) + "\" y=\"" + px(top) + "\" width=\"" + px(plot_w) +
         "\" height=\"" + px(plot_h) + "\" fill=\"#fafafa\" stroke=\"#ccc\"/>\n";
  if (bins > 0) {
    const double bw = plot_w / static_cast<double>(bins);
    const double width = first.hi - first.lo;
    for (std::size_t i = 0; i < bins; ++i) {
      double x = left + bw * static_cast<double>(i);
      double b_lo = first.lo + width * static_cast<double>(i) / static_cast<double>(bins);
      double b_hi = first.lo + width * static_cast<double>(i + 1) / static_cast<double>(bins);
      out += "<g class=\"bin\"><title>";
      append_escaped(out, "[" + format_number(b_lo, 6, 'g') + ", " + format_number(b_hi, 6, 'g') +
                              (i + 1 == bins ? "]" : ")") + "\n" + std::string(first_label) + ": " +
                              std::to_string(first.bins[i]));
      if (second) {
        append_escaped(out,
                       "\n" + std::string(second_label) + ": " + std::to_string(second->bins[i]));
      }
      out += "</title>";
      // Hover area over the whole bin, then the bars.
      out += "<rect x=\"" + px(x) + "\" y=\"" + px(top) + "\" width=\"" + px(bw) + "\" height=\"" +
             px(plot_h) + "\" class=\"hit\" fill=\"#000\" fill-opacity=\"0\"/>";
      double bar_w = second ? bw / 2 : bw;
      double h1 = bar_h(first.bins[i]);
      if (h1 > 0) {
        out += "<rect x=\"" + px(x) + "\" y=\"" + px(top + plot_h - h1) + "\" width=\"" +
               px(std::max(bar_w - 0.3, 0.5)) + "\" height=\"" + px(h1) + "\" fill=\"" +
               first_color + "\" pointer-events=\"none\"/>";
      }
      if (second) {
        double h2 = bar_h(second->bins[i]);
        if (h2 > 0) {
          out += "<rect x=\"" + px(x + bar_w) + "\" y=\"" + px(top + plot_h - h2) + "\" width=\"" +
                 px(std::max(bar_w - 0.3, 0.5)) + "\" height=\"" + px(h2) + "\" fill=\"" +
                 color_ok + "\" pointer-events=\"none\"/>";
        }
      }
      out += "</g>\n";
    }
  }
  // Zero, when inside the range, is where a difference should pile up.
  if (first.lo < 0 && first.hi > 0) {
    double x0 = left + plot_w * (-first.lo) / (first.hi - first.lo);
    append_line(out, x0, top, x0, top + plot_h + 4,
                "stroke=\"#444\" stroke-dasharray=\"2 2\" pointer-events=\"none\"");
  }
  // X axis: both ends and the middle of the range.
  for (int k = 0; k <= 2; ++k) {
    double f = k / 2.0;
    double v = first.lo + (first.hi - first.lo) * f;
    const char* anchor = k == 0 ? "start" : k == 1 ? "middle" : "end";
    append_line(out, left + plot_w * f, top + plot_h, left + plot_w * f, top + plot_h + 4,
                "stroke=\"#333\"");
    append_text(out, left + plot_w * f, top + plot_h + 16, format_number(v, 4, 'g'),
                std::string("text-anchor=\"") + anchor + "\"");
  }
  append_text(out, 4, top + 10, std::to_string(max_count), "fill=\"#666\"");
  append_text(out, 4, top + plot_h, "0", "fill=\"#666\"");
  out += "</svg>\n";
  return out;
}

}  // namespace sigdump::detail
