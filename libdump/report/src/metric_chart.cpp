// The metric chart: three panels (COS, RMSE, MSE) over the layers in
// execution order, drawn as plain SVG text.
#include "sigdump/report/metric_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <utility>
#include <vector>

#include "sigdump/atomic_file.h"
#include "svg_markup.h"

namespace sigdump {

namespace {

using detail::append_escaped;
using detail::format_number;
using detail::px;

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

}  // namespace

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

  panel panels[3];
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
  const std::uint64_t tick = layer_tick_step(step, 48);

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
      double ys = nice_step(p.hi - p.lo, 5);
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
    append_escaped(out, layer_tooltip(l, t));
    out += "</title></rect>";
    if (options.link_rows) out += "</a>";
    out += '\n';
  }
  out += "</g>\n</svg>\n";
  return out;
}

result<void> write_plot_svg(const std::string& path, const compare_report& report,
                            const chart_options& options) {
  chart_options o = options;
  o.standalone = true;
  o.link_rows = false;
  return write_file_atomically(path, render_metric_chart_svg(report, o));
}

}  // namespace sigdump
