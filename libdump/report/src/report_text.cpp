// A compare_report as text for a terminal: the vendor guide's
// "0) name MSE: .. COS: .. RMSE: .." lines, then a summary.
#include "sigdump/report/report_text.h"

#include <cstdio>
#include <string>
#include <vector>

#include "report_counts.h"

namespace sigdump {

namespace {

constexpr const char* red = "\x1b[31m";
constexpr const char* yellow = "\x1b[33m";
constexpr const char* bold = "\x1b[1m";
constexpr const char* reset = "\x1b[0m";

// Long lists in the text summary stop here; JSON and CSV always hold all.
constexpr std::size_t text_list_limit = 20;

std::string fmt_g(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string join_limited(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < text_list_limit; ++i) {
    if (i) out += ", ";
    out += items[i];
  }
  if (items.size() > text_list_limit) {
    out += ", ... and " + std::to_string(items.size() - text_list_limit) + " more";
  }
  return out;
}

std::string fixed6(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%f", v);
  return buf;
}

}  // namespace

std::string channel_text(const channel_evidence& ev, const std::vector<std::int64_t>& shape,
                         std::string_view indent) {
  constexpr std::size_t shown_channels = 3, shown_elements = 3;
  std::string out(indent);
  out += "C=" + std::to_string(ev.channels);
  if (ev.axis >= 0) {
    out += " (axis " + std::to_string(ev.axis) + " of " + format_shape(shape) + ")";
  } else {
    out += " (the whole tensor)";
  }
  if (ev.worst.empty()) {
    out += "; too many channels for per-channel metrics";
  } else {
    out += "; worst";
    for (std::size_t i = 0; i < ev.worst.size() && i < shown_channels; ++i) {
      const channel_stat& c = ev.worst[i];
      out += (i ? ", c" : " c") + std::to_string(c.channel) + " COS " + fixed6(c.cos) + " RMSE " +
             fixed6(c.rmse) + " max|a-b| " + fmt_g(c.max_abs);
    }
    if (ev.worst.size() > shown_channels) {
      const channel_stat& next = ev.worst[shown_channels];
      const std::uint64_t others = ev.channels - shown_channels;
      out += "; the other " + std::to_string(others) +
             (next.all_zero ? std::string(": zero on both sides") : ": COS >= " + fixed6(next.cos));
    }
  }
  if (!ev.outliers.empty()) {
    out += "; outlier channels (peak > " + fmt_g(outlier_ratio) + "x the median channel's):";
    for (std::size_t i = 0; i < ev.outliers.size() && i < text_list_limit; ++i) {
      const channel_stat& c = ev.per_channel[ev.outliers[i]];
      out += (i ? ", c" : " c") + std::to_string(c.channel) + " peak " + fmt_g(c.peak);
    }
    if (ev.outliers.size() > text_list_limit) out += ", ...";
  }
  out += '\n';
  if (!ev.top.empty()) {
    out += std::string(indent) + "largest |a-b| at " + ev.order + ":";
    for (std::size_t i = 0; i < ev.top.size() && i < shown_elements; ++i) {
      const element_diff& e = ev.top[i];
      out += (i ? ", " : " ") + format_coordinates(e.at) + ' ' + fmt_g(e.abs_diff) + " (" +
             fmt_g(e.sample) + " vs " + fmt_g(e.benchmark) + ")";
    }
    out += '\n';
  }
  return out;
}

std::string report_text(const compare_report& r, bool color) {
  std::string out;
  char buf[512];
  auto paint = [&](const char* c) { return color ? c : ""; };
  for (const auto& l : r.layers) {
    const char* on = !l.error.empty() ? paint(yellow) : l.suspect ? paint(red) : "";
    out += on;
    if (l.error.empty()) {
      std::snprintf(buf, sizeof buf, "%u) ", l.index);
      out += buf;
      out += l.name;
      std::snprintf(buf, sizeof buf, " MSE: %f COS: %f RMSE: %f", l.metrics.mse, l.metrics.cos,
                    l.metrics.rmse);
      out += buf;
    } else {
      out += std::to_string(l.index) + ") " + l.name + " ERROR: " + l.error;
    }
    if (*on) out += paint(reset);
    out += '\n';
  }

  const std::size_t suspect = detail::count_suspect(r), errors = detail::count_errors(r);
  out += '\n';
  out += paint(bold);
  out += "summary:";
  out += paint(reset);
  out += ' ' + std::to_string(r.layers.size() - errors) + " layer(s) compared";
  if (errors) out += ", " + std::to_string(errors) + " not comparable";
  out += "; suspect when COS < " + fmt_g(r.thresholds.cos_min) + " or RMSE > " +
         fmt_g(r.thresholds.rmse_max) + '\n';
  out += std::string(paint(bold)) + "coverage:" + paint(reset) + ' ' + coverage_text(r.coverage) +
         '\n';
  out += "unmatched: " + std::to_string(r.unmatched_sample.size()) + " in sample only, " +
         std::to_string(r.unmatched_benchmark.size()) + " in benchmark only\n";
  if (!r.unmatched_sample.empty()) {
    out += "  sample only: " + join_limited(r.unmatched_sample) + '\n';
  }
  if (!r.unmatched_benchmark.empty()) {
    out += "  benchmark only: " + join_limited(r.unmatched_benchmark) + '\n';
  }
  std::vector<std::string> nchw, nhwc, suspects;
  for (const auto& l : r.layers) {
    if (l.layout == layout_choice::benchmark_nchw_to_nhwc) nchw.push_back(std::to_string(l.index));
    if (l.layout == layout_choice::benchmark_nhwc_to_nchw) nhwc.push_back(std::to_string(l.index));
    if (l.suspect) suspects.push_back(std::to_string(l.index) + ") " + l.name);
  }
  if (!nchw.empty()) {
    out += "layout: benchmark read NCHW -> NHWC for layer(s) " + join_limited(nchw) + '\n';
  }
  if (!nhwc.empty()) {
    out += "layout: benchmark read NHWC -> NCHW for layer(s) " + join_limited(nhwc) + '\n';
  }
  out += "suspect: " + std::to_string(suspect) + " layer(s)";
  if (!suspects.empty()) out += ": " + join_limited(suspects);
  out += '\n';
  if (r.first_bad) {
    out += std::string(paint(bold)) + "first bad layer:" + paint(reset) + ' ' +
           std::to_string(r.first_bad->index) + ") " + r.first_bad->name + ": " +
           r.first_bad->reason + '\n';
  }
  std::size_t with_channels = 0;
  for (const auto& l : r.layers) {
    if (!l.channels) continue;
    if (with_channels++ == 0) {
      out += std::string(paint(bold)) + "channels:" + paint(reset) +
             " per-channel evidence (sample vs benchmark values)\n";
    }
    if (with_channels > text_list_limit) continue;
    out += "  " + std::to_string(l.index) + ") " + l.name + ": ";
    std::string lines = channel_text(*l.channels, l.shape, "    ");
    out += lines.substr(4);
  }
  if (with_channels > text_list_limit) {
    out += "  ... and " + std::to_string(with_channels - text_list_limit) +
           " more layer(s); --json holds all\n";
  }
  // The verdict before the diagnosis and advice: the [CONV_CONFIG] block
  // stays the last thing printed (docs/compare.md's sed recipe).
  const verdict v = r.verdict();
  out += std::string(paint(bold)) + "verdict:" + paint(reset) + ' ' +
         paint(v == verdict::pass ? "" : red) + verdict_name(v) +
         paint(v == verdict::pass ? "" : reset) + ": " +
         verdict_reason(v, r.coverage, r.suspect_count()) + '\n';
  out += std::string(paint(bold)) + "diagnosis:" + paint(reset) + ' ' +
         diagnosis_kind_name(r.diagnosis.what) + ": " + r.diagnosis.text + '\n';
  if (!r.advice.text.empty()) {
    out += std::string(paint(bold)) + "advice:" + paint(reset) + ' ' + r.advice.text;
    if (out.back() != '\n') out += '\n';
  }
  return out;
}

}  // namespace sigdump
