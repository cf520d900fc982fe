// The per-channel bar chart: where in a layer's channels its error sits.
#include "channel_chart.h"

#include <algorithm>
#include <cmath>

#include "svg_markup.h"

namespace sigdump::detail {

std::string render_channel_chart_svg(std::string_view id, const channel_evidence& ev) {
  const std::size_t n = ev.per_channel.size();
  const double left = 46, right = 12, top = 34, bottom = 30, plot_h = 150;
  const double plot_w = std::clamp(6.0 * static_cast<double>(n), 400.0, 4000.0);
  const double w = left + plot_w + right, h = top + plot_h + bottom;

  std::string out;
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"channel-chart\" id=\"";
  append_escaped(out, id);
  out += "\" width=\"" + px(w) + "\" height=\"" + px(h) + "\" viewBox=\"0 0 " + px(w) + " " +
         px(h) + "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  append_text(out, left, 14, "per channel: 1 - COS (C = " + std::to_string(ev.channels) + ")",
              "font-weight=\"bold\"");
  out += "<rect x=\"" + px(left) + "\" y=\"20\" width=\"10\" height=\"8\" fill=\"" +
         std::string(color_bad) + "\"/>\n";
  append_text(out, left + 14, 28, "worst");
  out += "<rect x=\"" + px(left + 60) + "\" y=\"20\" width=\"10\" height=\"8\" fill=\"" +
         std::string(color_diag) + "\"/>\n";
  append_text(out, left + 74, 28,
              "outlier (peak > " + format_number(outlier_ratio, 0, 'f') + "x median)");
  out += "<rect x=\"" + px(left) + "\" y=\"" + px(top) + "\" width=\"" + px(plot_w) +
         "\" height=\"" + px(plot_h) + "\" fill=\"#fafafa\" stroke=\"#ccc\"/>\n";
  if (n == 0) {
    append_text(out, left + 8, top + 20,
                std::to_string(ev.channels) + " channels: too many for per-channel metrics");
    out += "</svg>\n";
    return out;
  }
  // The scale: the largest 1 - COS, at least 0.01 so a clean layer stays flat.
  double top_value = 0.01;
  auto badness = [](const channel_stat& c) {
    if (c.all_zero) return 0.0;
    if (std::isnan(c.cos)) return 2.0;
    return std::clamp(1.0 - c.cos, 0.0, 2.0);
  };
  for (const auto& c : ev.per_channel) top_value = std::max(top_value, badness(c));
  append_text(out, left - 4, top + 4, format_number(top_value, 3, 'g'), "text-anchor=\"end\"");
  append_text(out, left - 4, top + plot_h, "0", "text-anchor=\"end\"");
  const double bw = plot_w / static_cast<double>(n);
  for (const auto& c : ev.per_channel) {
    // One of the worst channels, and clearly off: at least a tenth of the tallest bar.
    const bool worst = badness(c) >= 0.1 * top_value &&
                       std::any_of(ev.worst.begin(), ev.worst.end(),
                                   [&](const channel_stat& x) { return x.channel == c.channel; });
    const bool outlier =
        std::find(ev.outliers.begin(), ev.outliers.end(), c.channel) != ev.outliers.end();
    const double bh = plot_h * badness(c) / top_value;
    const double x = left + bw * static_cast<double>(c.channel);
    out += "<g class=\"channel";
    if (worst) out += " worst";
    if (outlier) out += " outlier";
    out += "\"><title>";
    append_escaped(out, "c" + std::to_string(c.channel) + ": COS " + format_number(c.cos, 6, 'f') +
                            ", RMSE " + format_number(c.rmse, 6, 'f') + ", max |a-b| " +
                            format_number(c.max_abs, 6, 'g') + ", peak " +
                            format_number(c.peak, 6, 'g') +
                            (c.all_zero ? " (zero on both sides)" : "") +
                            (outlier ? " (outlier channel)" : ""));
    out += "</title><rect x=\"" + px(x) + "\" y=\"" + px(top + plot_h - bh) + "\" width=\"" +
           px(std::max(bw - 1.0, 0.5)) + "\" height=\"" + px(std::max(bh, 0.5)) + "\" fill=\"" +
           (worst ? color_bad : color_ok) + "\"";
    if (outlier) out += " stroke=\"" + std::string(color_diag) + "\" stroke-width=\"2\"";
    out += "/></g>\n";
    if (outlier) {
      append_text(out, x + bw / 2, top + plot_h + 12, "c" + std::to_string(c.channel),
                  "text-anchor=\"middle\" fill=\"" + std::string(color_diag) + "\"");
    }
  }
  append_text(out, left + plot_w / 2, h - 4, "channel 0.." + std::to_string(n - 1),
              "text-anchor=\"middle\" fill=\"#666\"");
  out += "</svg>\n";
  return out;
}

}  // namespace sigdump::detail
