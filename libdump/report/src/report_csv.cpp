// A compare_report as CSV: one row per layer, the JSON layer keys as
// columns, RFC 4180 quoting.
#include "sigdump/report/report_csv.h"

#include <charconv>
#include <cmath>
#include <string>

namespace sigdump {

namespace {

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

}  // namespace

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

}  // namespace sigdump
