// Renderings of a compare_report: the guide's text lines plus a summary,
// JSON (docs/compare.md) and CSV (RFC 4180 quoting).
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>

#include "sigdump/compare.h"
#include "sigdump/json_util.h"

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

void layer_fields(json_writer& w, const layer_result& l) {
  const bool ok = l.error.empty();
  const layer_metrics& m = l.metrics;
  w.field("index", static_cast<std::uint64_t>(l.index));
  w.field("name", l.name);
  w.field("benchmark_name", l.benchmark_name);
  w.field("op", l.op);
  w.key("shape").begin_array();
  for (auto d : l.shape) w.value(static_cast<std::int64_t>(d));
  w.end_array();
  w.field("match", match_rule_name(l.rule));
  w.field("sample_record", static_cast<std::uint64_t>(l.sample_record));
  w.field("benchmark_record", static_cast<std::int64_t>(l.bench_record));
  auto num = [&](const char* k, double v) {
    if (ok) {
      w.field(k, v);  // non-finite values are written as null
    } else {
      w.field_null(k);
    }
  };
  auto count = [&](const char* k, std::uint64_t v) {
    if (ok) {
      w.field(k, v);
    } else {
      w.field_null(k);
    }
  };
  count("n", m.n);
  num("mse", m.mse);
  num("cos", m.cos);
  num("rmse", m.rmse);
  num("max_abs", m.max_abs);
  num("sqnr_db", m.sqnr_db);
  num("rel_l2", m.rel_l2);
  count("sample_nan", m.sample_nan);
  count("sample_inf", m.sample_inf);
  count("benchmark_nan", m.bench_nan);
  count("benchmark_inf", m.bench_inf);
  w.field("all_zero", ok && m.all_zero);
  w.field("layout", layout_name(l.layout));
  w.field("suspect", l.suspect);
  if (ok) {
    w.field_null("error");
  } else {
    w.field("error", l.error);
  }
}

void string_array(json_writer& w, const char* k, const std::vector<std::string>& v) {
  w.key(k).begin_array();
  for (const auto& s : v) w.value(s);
  w.end_array();
}

// CSV numbers: shortest round-trip text; non-finite as nan / inf / -inf.
std::string csv_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc{} ? std::string(buf, end) : std::string("nan");
}

std::string csv_field(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::size_t count_suspect(const compare_report& r) {
  std::size_t n = 0;
  for (const auto& l : r.layers) n += l.suspect ? 1 : 0;
  return n;
}

std::size_t count_errors(const compare_report& r) {
  std::size_t n = 0;
  for (const auto& l : r.layers) n += l.error.empty() ? 0 : 1;
  return n;
}

}  // namespace

std::string layer_json(const layer_result& layer) {
  json_writer w;
  w.begin_object();
  layer_fields(w, layer);
  w.end_object();
  return w.take();
}

std::string report_json(const compare_report& r) {
  json_writer w;
  w.begin_object();
  w.field("sample", r.sample_path);
  w.field("benchmark", r.benchmark_path);
  w.key("thresholds").begin_object();
  w.field("cos_min", r.thresholds.cos_min);
  w.field("rmse_max", r.thresholds.rmse_max);
  w.end_object();
  w.key("layers").begin_array();
  for (const auto& l : r.layers) {
    w.begin_object();
    layer_fields(w, l);
    w.end_object();
  }
  w.end_array();
  if (r.first_bad) {
    w.key("first_bad").begin_object();
    w.field("index", static_cast<std::uint64_t>(r.first_bad->index));
    w.field("name", r.first_bad->name);
    w.field("reason", r.first_bad->reason);
    w.end_object();
  } else {
    w.field_null("first_bad");
  }
  w.key("diagnosis").begin_object();
  w.field("kind", diagnosis_kind_name(r.diagnosis.what));
  w.field("text", r.diagnosis.text);
  if (r.diagnosis.at >= 0) {
    w.field("at", static_cast<std::int64_t>(r.diagnosis.at));
  } else {
    w.field_null("at");
  }
  w.end_object();
  w.key("unmatched").begin_object();
  string_array(w, "sample", r.unmatched_sample);
  string_array(w, "benchmark", r.unmatched_benchmark);
  w.end_object();
  w.key("advice").begin_object();
  string_array(w, "tensor_arrays", r.advice.tensor_arrays);
  w.field("input_config", r.advice.input_config);
  w.field("text", r.advice.text);
  string_array(w, "wide_range_8bit", r.advice.wide_range_8bit);
  w.end_object();
  w.key("summary").begin_object();
  w.field("layers", static_cast<std::uint64_t>(r.layers.size()));
  w.field("suspect", static_cast<std::uint64_t>(count_suspect(r)));
  w.field("not_comparable", static_cast<std::uint64_t>(count_errors(r)));
  w.field("bytes_compared", r.bytes_compared);
  w.end_object();
  w.end_object();
  std::string out = w.take();
  out += '\n';
  return out;
}

std::string report_csv(const compare_report& r) {
  std::string out =
      "index,name,benchmark_name,op,shape,n,match,mse,cos,rmse,max_abs,sqnr_db,rel_l2,"
      "sample_nan,sample_inf,benchmark_nan,benchmark_inf,layout,suspect,error\n";
  for (const auto& l : r.layers) {
    const bool ok = l.error.empty();
    const layer_metrics& m = l.metrics;
    auto num = [&](double v) { return ok ? csv_number(v) : std::string(); };
    auto cnt = [&](std::uint64_t v) { return ok ? std::to_string(v) : std::string(); };
    out += std::to_string(l.index) + ',' + csv_field(l.name) + ',' + csv_field(l.benchmark_name) +
           ',' + csv_field(l.op) + ',' + csv_field(format_shape(l.shape)) + ',' + cnt(m.n) + ',' +
           match_rule_name(l.rule) + ',' + num(m.mse) + ',' + num(m.cos) + ',' + num(m.rmse) + ',' +
           num(m.max_abs) + ',' + num(m.sqnr_db) + ',' + num(m.rel_l2) + ',' + cnt(m.sample_nan) +
           ',' + cnt(m.sample_inf) + ',' + cnt(m.bench_nan) + ',' + cnt(m.bench_inf) + ',' +
           layout_name(l.layout) + ',' + (l.suspect ? "true" : "false") + ',' + csv_field(l.error) +
           '\n';
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

  const std::size_t suspect = count_suspect(r), errors = count_errors(r);
  out += '\n';
  out += paint(bold);
  out += "summary:";
  out += paint(reset);
  out += ' ' + std::to_string(r.layers.size() - errors) + " layer(s) compared";
  if (errors) out += ", " + std::to_string(errors) + " not comparable";
  out += "; suspect when COS < " + fmt_g(r.thresholds.cos_min) + " or RMSE > " +
         fmt_g(r.thresholds.rmse_max) + '\n';
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
  out += std::string(paint(bold)) + "diagnosis:" + paint(reset) + ' ' +
         diagnosis_kind_name(r.diagnosis.what) + ": " + r.diagnosis.text + '\n';
  if (!r.advice.text.empty()) {
    out += std::string(paint(bold)) + "advice:" + paint(reset) + ' ' + r.advice.text;
    if (out.back() != '\n') out += '\n';
  }
  return out;
}

}  // namespace sigdump
