// The metric chart and the histograms, drawn as plain SVG text. Everything
// a user can put in a dump (names, op types, paths) goes through
// append_escaped, so the output stays well-formed XML whatever the input.
#include "svg_chart.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>
#include <utility>
#include <vector>

#include "sigdump/html_report.h"
#include "sigdump/json_util.h"

namespace sigdump {
namespace detail {

namespace {

constexpr std::string_view replacement = "\xEF\xBF\xBD";

}  // namespace

void append_escaped(std::string& out, std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      i += append_utf8_or_replacement(out, s, i);
      continue;
    }
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case '\t':
      case '\n':
      case '\r': out += static_cast<char>(c); break;
      default:
        // XML 1.0 forbids these even as character references.
        if (c < 0x20 || c == 0x7F) {
          out += replacement;
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
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

namespace {

// Coordinates: one decimal is plenty and keeps big charts small.
std::string px(double v) { return format_number(std::round(v * 10.0) / 10.0, 1, 'f'); }

// A "nice" step (1, 2 or 5 times a power of ten) giving about `count` ticks.
double nice_step(double range, int count) {
  if (!(range > 0)) return 1.0;
  double raw = range / count;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double f = raw / mag;
  double nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return nice * mag;
}

// Smallest of 1, 2, 5, 10, 20, 50, ... layers whose ticks are at least
// `min_px` apart when layers are `step_px` apart.
std::uint64_t layer_tick_step(double step_px, double min_px) {
  std::uint64_t base = 1;
  for (;;) {
    for (std::uint64_t m : {1u, 2u, 5u}) {
      if (static_cast<double>(base * m) * step_px >= min_px) return base * m;
    }
    if (base > (std::uint64_t{1} << 60)) return base;
    base *= 10;
  }
}

const char* color_ok = "#1f77b4";
const char* color_bad = "#d62728";
const char* color_diag = "#ff7f0e";
const char* color_diff = "#9467bd";

struct panel {
  const char* id;
  const char* title;
  double top = 0, height = 0;
  double lo = 0, hi = 1;  // value range (log10 of it for the MSE panel)
  bool log = false;

  double y(double v) const {
    double t = log ? std::log10(v) : v;
    double f = (t - lo) / (hi - lo);
    f = std::clamp(f, 0.0, 1.0);
    return top + height * (1.0 - f);
  }
  bool plottable(double v) const { return std::isfinite(v) && (!log || v > 0); }
};

std::string layer_tooltip(const layer_result& l, const thresholds& t) {
  std::string s = "#" + std::to_string(l.index) + " " + l.name;
  if (!l.op.empty()) s += " (" + l.op + ")";
  if (!l.benchmark_name.empty() && l.benchmark_name != l.name) {
    s += "\nbenchmark: " + l.benchmark_name;
  }
  s += "\nshape " + format_shape(l.shape);
  if (!l.error.empty()) {
    s += "\nnot comparable: " + l.error;
    return s;
  }
  const auto& m = l.metrics;
  s += "\nCOS " + format_number(m.cos, 6, 'f') + (m.cos < t.cos_min ? " < " : " >= ") +
       format_number(t.cos_min, 4, 'g');
  s += "\nRMSE " + format_number(m.rmse, 6, 'f') + (m.rmse > t.rmse_max ? " > " : " <= ") +
       format_number(t.rmse_max, 4, 'g');
  s += "\nMSE " + format_number(m.mse, 6, 'g');
  s += "\nmax_abs " + format_number(m.max_abs, 6, 'g') + ", SQNR " +
       format_number(m.sqnr_db, 2, 'f') + " dB";
  if (l.layout != layout_choice::same) s += "\nlayout " + std::string(layout_name(l.layout));
  if (m.all_zero) s += "\nboth sides all zero";
  if (l.suspect) s += "\nSUSPECT";
  return s;
}

void append_text(std::string& out, double x, double y, std::string_view text,
                 std::string_view attrs = {}) {
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

}  // namespace

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

}  // namespace detail

using detail::append_escaped;
using detail::format_number;
using detail::px;

std::string render_metric_chart_svg(const compare_report& report, const chart_options& options) {
  const auto& layers = report.layers;
  const auto& t = report.thresholds;
  const std::size_t n = layers.size();

  const double left = 76, right = 28, top = 62, gap = 36;
  const double panel_h = std::max(options.panel_height, 60.0);
  const double want = static_cast<double>(n) * std::max(options.px_per_layer, 0.1);
  const double plot_w = std::clamp(want, options.min_plot_width,
                                   std::max(options.min_plot_width, options.max_plot_width));
  const double step = n > 0 ? plot_w / static_cast<double>(n) : plot_w;
  // Names fit under the axis only for short nets; otherwise they live in
  // the tooltips and the table.
  const bool show_names = n > 0 && n <= 120 && step >= 14;
  const double bottom = show_names ? 150 : 48;
  const double width = left + plot_w + right;
  const double height = top + 3 * panel_h + 2 * gap + bottom;
  auto x_of = [&](std::size_t i) { return left + step * (static_cast<double>(i) + 0.5); };

  std::size_t suspects = 0, errors = 0;
  double cos_lo = t.cos_min, cos_hi = 1.0, rmse_hi = t.rmse_max * 1.5;
  double mse_min = 0, mse_max = 0;
  bool have_mse = false;
  for (const auto& l : layers) {
    if (!l.error.empty()) {
      ++errors;
      continue;
    }
    if (l.suspect) ++suspects;
    const auto& m = l.metrics;
    if (std::isfinite(m.cos)) {
      cos_lo = std::min(cos_lo, m.cos);
      cos_hi = std::max(cos_hi, m.cos);
    }
    if (std::isfinite(m.rmse)) rmse_hi = std::max(rmse_hi, m.rmse);
    if (std::isfinite(m.mse) && m.mse > 0) {
      mse_min = have_mse ? std::min(mse_min, m.mse) : m.mse;
      mse_max = have_mse ? std::max(mse_max, m.mse) : m.mse;
      have_mse = true;
    }
  }
  if (!(rmse_hi > 0)) rmse_hi = 1.0;

  detail::panel panels[3];
  panels[0] = {"cos-panel", "COS (cosine similarity, higher is better)", top, panel_h, 0, 1, false};
  {
    double range = std::max(cos_hi - cos_lo, 1e-4);
    panels[0].lo = cos_lo - 0.08 * range;
    panels[0].hi = cos_hi + 0.04 * range;
  }
  panels[1] = {"rmse-panel",
               "RMSE (vendor: sum|a-b| / sum|b|, lower is better)",
               top + panel_h + gap,
               panel_h,
               0,
               rmse_hi * 1.05,
               false};
  {
    double lo = have_mse ? std::floor(std::log10(mse_min)) : -6;
    double hi = have_mse ? std::ceil(std::log10(mse_max)) : 0;
    if (hi <= lo) hi = lo + 1;
    panels[2] = {
        "mse-panel", "MSE (log scale, lower is better)", top + 2 * (panel_h + gap), panel_h, lo, hi,
        true};
  }
  const double plots_top = top, plots_bottom = top + 3 * panel_h + 2 * gap;

  std::string out;
  out.reserve(4096 + n * 700);
  if (options.standalone) out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"metric-chart\" width=\"" + px(width) +
         "\" height=\"" + px(height) + "\" viewBox=\"0 0 " + px(width) + " " + px(height) +
         "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  out +=
      "<style>.hit{fill:#000;fill-opacity:0}.hit:hover{fill-opacity:.09}"
      ".grid{stroke:#e4e4e4}.series{fill:none;stroke-width:1.2}"
      ".thr{stroke-dasharray:6 4;stroke-width:1.2}</style>\n";
  out += "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n";
  {
    std::string title = "Per-layer metrics: " + std::to_string(n) + " layers, " +
                        std::to_string(suspects) + " suspect, " + std::to_string(errors) +
                        " not comparable (thresholds: COS < " + format_number(t.cos_min, 4, 'g') +
                        " or RMSE > " + format_number(t.rmse_max, 4, 'g') + ")";
    detail::append_text(out, left, 18, title, "font-size=\"13\" font-weight=\"bold\"");
  }

  // X ticks in layers; labels at least 48 px apart so they never overlap.
  const std::uint64_t tick = detail::layer_tick_step(step, 48);

  for (const auto& p : panels) {
    out += "<g id=\"";
    out += p.id;
    out += "\" class=\"panel\">\n";
    detail::append_text(out, left, p.top - 6, p.title, "font-weight=\"bold\"");
    out += "<rect x=\"" + px(left) + "\" y=\"" + px(p.top) + "\" width=\"" + px(plot_w) +
           "\" height=\"" + px(p.height) + "\" fill=\"#fcfcfc\" stroke=\"#999\"/>\n";
    // Y grid and labels; on wide charts the labels repeat inside the plot
    // so a scrolled view still has a scale.
    std::vector<std::pair<double, std::string>> yticks;
    if (p.log) {
      int decades = static_cast<int>(p.hi - p.lo);
      int every = std::max(1, (decades + 5) / 6);
      for (int d = static_cast<int>(p.lo); d <= static_cast<int>(p.hi); d += every) {
        yticks.emplace_back(p.y(std::pow(10.0, d)), "1e" + std::to_string(d));
      }
    } else {
      double ys = detail::nice_step(p.hi - p.lo, 5);
      int digits = std::clamp(-static_cast<int>(std::floor(std::log10(ys))), 0, 12);
      double first = std::ceil(p.lo / ys);
      for (int k = 0; k < 20; ++k) {
        double v = (first + k) * ys;
        if (v > p.hi + ys * 1e-9) break;
        yticks.emplace_back(p.y(v), format_number(v, digits, 'f'));
      }
    }
    for (double x = left + 1000; x + 60 < left + plot_w; x += 1000) {
      detail::append_text(out, x + 3, p.top - 6, p.title, "fill=\"#999\"");
    }
    for (const auto& [y, label] : yticks) {
      detail::append_line(out, left, y, left + plot_w, y, "class=\"grid\"");
      detail::append_text(out, left - 6, y + 4, label, "text-anchor=\"end\" class=\"ytick\"");
      for (double x = left + 1000; x + 60 < left + plot_w; x += 1000) {
        detail::append_text(out, x + 3, y - 2, label, "fill=\"#999\" font-size=\"9\"");
      }
    }
    // Vertical grid at the x ticks.
    for (std::uint64_t i = 0; i < n; i += tick) {
      double x = x_of(i);
      detail::append_line(out, x, p.top, x, p.top + p.height, "class=\"grid\"");
    }
    // The series: one path, broken where a layer has no plottable value.
    auto value_of = [&](const layer_result& l) -> std::optional<double> {
      if (!l.error.empty()) return std::nullopt;
      double v = p.id[0] == 'c' ? l.metrics.cos : p.id[0] == 'r' ? l.metrics.rmse : l.metrics.mse;
      if (p.log && v == 0 && std::isfinite(v)) return p.y(std::pow(10.0, p.lo));  // MSE 0: floor
      if (!p.plottable(v)) return std::nullopt;
      return p.y(v);
    };
    std::string path;
    bool pen = false;
    for (std::size_t i = 0; i < n; ++i) {
      auto y = value_of(layers[i]);
      if (!y) {
        pen = false;
        continue;
      }
      path += pen ? 'L' : 'M';
      path += px(x_of(i)) + ' ' + px(*y);
      pen = true;
    }
    if (!path.empty()) {
      out += "<path class=\"series\" stroke=\"" + std::string(detail::color_ok) + "\" d=\"" + path +
             "\"/>\n";
    }
    // Points: every layer on short nets, only suspect ones on long nets;
    // layers with no value get a mark on the panel's floor.
    for (std::size_t i = 0; i < n; ++i) {
      const auto& l = layers[i];
      auto y = value_of(l);
      if (!y) {
        double x = x_of(i), yb = p.top + p.height - 4;
        out += "<path class=\"err-mark\" stroke=\"" + std::string(detail::color_bad) +
               "\" stroke-width=\"1.5\" d=\"M" + px(x - 3) + ' ' + px(yb - 3) + 'L' + px(x + 3) +
               ' ' + px(yb + 3) + 'M' + px(x - 3) + ' ' + px(yb + 3) + 'L' + px(x + 3) + ' ' +
               px(yb - 3) + "\"/>\n";
        continue;
      }
      if (n > 300 && !l.suspect) continue;
      out += "<circle cx=\"" + px(x_of(i)) + "\" cy=\"" + px(*y) + "\" r=\"" +
             (l.suspect ? "2.8" : "2") + "\" fill=\"" +
             (l.suspect ? detail::color_bad : detail::color_ok) + "\"" +
             (l.suspect ? " class=\"pt suspect\"" : " class=\"pt\"") + "/>\n";
    }
    // Threshold lines.
    if (p.id[0] == 'c' || p.id[0] == 'r') {
      bool is_cos = p.id[0] == 'c';
      double v = is_cos ? t.cos_min : t.rmse_max;
      double y = p.y(v);
      out += "<g id=\"";
      out += is_cos ? "cos-threshold" : "rmse-threshold";
      out += "\" class=\"threshold\">";
      detail::append_line(out, left, y, left + plot_w, y,
                          "class=\"thr\" stroke=\"" + std::string(detail::color_bad) + "\"");
      detail::append_text(out, left + 4, y - 4,
                          std::string(is_cos ? "cos_min " : "rmse_max ") + format_number(v, 4, 'g'),
                          "fill=\"" + std::string(detail::color_bad) + "\"");
      out += "</g>\n";
    }
    out += "</g>\n";
  }

  // X axis labels under the last panel.
  {
    double y0 = plots_bottom;
    out += "<g id=\"x-axis\">\n";
    if (show_names) {
      for (std::size_t i = 0; i < n; ++i) {
        double x = x_of(i);
        detail::append_line(out, x, y0, x, y0 + 4, "stroke=\"#333\"");
        std::string label = std::to_string(i) + " " + detail::shorten(layers[i].name, 22);
        out += "<text class=\"xtick xname\" transform=\"translate(" + px(x + 3) + ' ' +
               px(y0 + 10) + ") rotate(-55)\" text-anchor=\"end\">";
        append_escaped(out, label);
        out += "</text>\n";
      }
    } else {
      for (std::uint64_t i = 0; i < n; i += tick) {
        double x = x_of(i);
        detail::append_line(out, x, y0, x, y0 + 4, "stroke=\"#333\"");
        detail::append_text(out, x, y0 + 16, std::to_string(i),
                            "class=\"xtick\" text-anchor=\"middle\"");
      }
    }
    detail::append_text(out, left, height - 8, "layer index (execution order)", "fill=\"#444\"");
    out += "</g>\n";
  }

  if (n == 0) {
    detail::append_text(out, left + plot_w / 2, top + panel_h / 2, "no layers were compared",
                        "text-anchor=\"middle\" font-size=\"14\" fill=\"#666\"");
  }

  // Markers: first bad layer and the diagnosis, across all panels.
  auto marker = [&](const char* id, std::size_t at, const char* color, double label_y,
                    const std::string& label) {
    double x = x_of(at);
    out += "<g id=\"";
    out += id;
    out += "\" class=\"marker\">";
    detail::append_line(
        out, x, label_y + 3, x, plots_bottom,
        "stroke=\"" + std::string(color) + "\" stroke-width=\"1.5\"" + " stroke-dasharray=\"3 3\"");
    bool right_side = x > left + plot_w * 0.6 && x - left > 300;
    detail::append_text(out, right_side ? x - 4 : x + 4, label_y, label,
                        "fill=\"" + std::string(color) + "\" font-weight=\"bold\"" +
                            (right_side ? " text-anchor=\"end\"" : ""));
    out += "</g>\n";
  };
  if (report.first_bad && report.first_bad->index < n) {
    const auto& fb = *report.first_bad;
    marker("first-bad-marker", fb.index, detail::color_bad, 34,
           "first bad #" + std::to_string(fb.index) + " " + detail::shorten(fb.name, 40) + ": " +
               fb.reason);
  }
  const auto& d = report.diagnosis;
  if (d.what != diagnosis::kind::none && d.at >= 0 && static_cast<std::uint64_t>(d.at) < n) {
    marker("diagnosis-marker", static_cast<std::size_t>(d.at), detail::color_diag, 48,
           std::string(diagnosis_kind_name(d.what)) + " at #" + std::to_string(d.at));
  }

  // Hover areas last so they sit on top: one column per layer over all
  // panels, with the layer's numbers as its native tooltip.
  out += "<g id=\"hover\">\n";
  for (std::size_t i = 0; i < n; ++i) {
    const auto& l = layers[i];
    if (options.link_rows) out += "<a href=\"#layer-" + std::to_string(l.index) + "\">";
    out += "<rect class=\"hit\" fill=\"#000\" fill-opacity=\"0\" data-layer=\"" +
           std::to_string(l.index) + "\" x=\"" + px(left + step * static_cast<double>(i)) +
           "\" y=\"" + px(plots_top) + "\" width=\"" + px(step) + "\" height=\"" +
           px(plots_bottom - plots_top) + "\"><title>";
    append_escaped(out, detail::layer_tooltip(l, t));
    out += "</title></rect>";
    if (options.link_rows) out += "</a>";
    out += '\n';
  }
  out += "</g>\n</svg>\n";
  return out;
}

}  // namespace sigdump
