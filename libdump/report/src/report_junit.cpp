// A compare_report as JUnit XML (docs/compare.md, "JUnit XML").
#include "sigdump/report/report_junit.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "sigdump/atomic_file.h"
#include "svg_markup.h"

namespace sigdump {

using detail::append_escaped;
using detail::escaped;

namespace {

std::string fixed6(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%f", v);
  return buf;
}

std::string fmt_g(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// Which thresholds a suspect layer breaks ("COS 0.912000 < 0.99").
std::string broken(const layer_result& l, const thresholds& t) {
  std::string out;
  if (!(l.metrics.cos >= t.cos_min)) {
    out = "COS " + fixed6(l.metrics.cos) + " < " + fmt_g(t.cos_min);
  }
  if (!(l.metrics.rmse <= t.rmse_max)) {
    if (!out.empty()) out += ", ";
    out += "RMSE " + fixed6(l.metrics.rmse) + " > " + fmt_g(t.rmse_max);
  }
  return out.empty() ? "suspect" : out;
}

struct testcase {
  std::uint32_t record = 0;
  const layer_result* layer = nullptr;  // null: sample-only
  const std::string* name = nullptr;
};

}  // namespace

std::string report_junit(const compare_report& r, bool allow_partial) {
  const coverage& c = r.coverage;
  std::vector<testcase> cases;
  cases.reserve(r.layers.size() + c.sample_only_layers.size());
  for (const auto& l : r.layers) cases.push_back({l.sample_record, &l, &l.name});
  for (const auto& s : c.sample_only_layers) cases.push_back({s.record, nullptr, &s.name});
  std::stable_sort(cases.begin(), cases.end(),
                   [](const testcase& a, const testcase& b) { return a.record < b.record; });

  const verdict v = r.verdict();
  const bool coverage_ok = c.compared > 0 && (c.compared == c.sample_layers || allow_partial);
  std::uint64_t failures = coverage_ok ? 0 : 1;
  for (const auto& l : r.layers) failures += (l.suspect || !l.error.empty()) ? 1 : 0;
  const std::uint64_t skipped = c.sample_only;
  const std::uint64_t tests = cases.size() + 1;
  const std::string suite = "sigdump." + std::filesystem::path(r.sample_path).filename().string();

  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<testsuites name=\"sigdump compare\" tests=\"" + std::to_string(tests) +
         "\" failures=\"" + std::to_string(failures) + "\" errors=\"0\" skipped=\"" +
         std::to_string(skipped) + "\">\n";
  out += "  <testsuite name=\"" + escaped(suite) + "\" tests=\"" + std::to_string(tests) +
         "\" failures=\"" + std::to_string(failures) + "\" errors=\"0\" skipped=\"" +
         std::to_string(skipped) + "\" time=\"0\">\n";
  out += "    <properties>\n";
  auto property = [&](const char* name, const std::string& value) {
    out += "      <property name=\"";
    out += name;
    out += "\" value=\"" + escaped(value) + "\"/>\n";
  };
  property("sample", r.sample_path);
  property("benchmark", r.benchmark_path);
  property("cos_min", fmt_g(r.thresholds.cos_min));
  property("rmse_max", fmt_g(r.thresholds.rmse_max));
  property("coverage", coverage_text(c));
  property("verdict", verdict_name(v));
  out += "    </properties>\n";
  const std::string classname = escaped(suite);
  for (const testcase& t : cases) {
    out += "    <testcase classname=\"" + classname + "\" name=\"";
    if (t.layer != nullptr) out += std::to_string(t.layer->index) + ") ";
    append_escaped(out, *t.name);
    out += "\" time=\"0\"";
    const layer_result* l = t.layer;
    if (l == nullptr) {
      out += ">\n      <skipped message=\"no benchmark layer matched this sample layer (record " +
             std::to_string(t.record) + ")\"/>\n    </testcase>\n";
    } else if (!l->error.empty()) {
      out += ">\n      <failure type=\"not_comparable\" message=\"";
      append_escaped(out, l->error);
      out += "\">not comparable: ";
      append_escaped(out, l->error);
      out += "</failure>\n    </testcase>\n";
    } else if (l->suspect) {
      out += ">\n      <failure type=\"suspect\" message=\"";
      append_escaped(out, broken(*l, r.thresholds));
      out += "\">MSE: " + fixed6(l->metrics.mse) + " COS: " + fixed6(l->metrics.cos) +
             " RMSE: " + fixed6(l->metrics.rmse) + "\nsuspect when COS &lt; " +
             fmt_g(r.thresholds.cos_min) + " or RMSE &gt; " + fmt_g(r.thresholds.rmse_max) +
             "</failure>\n    </testcase>\n";
    } else {
      out += "/>\n";
    }
  }
  out += "    <testcase classname=\"" + classname + "\" name=\"coverage\" time=\"0\"";
  if (coverage_ok) {
    out += "/>\n";
  } else {
    out += ">\n      <failure type=\"";
    out += c.compared == 0 ? "nothing_compared" : "incomplete";
    out += "\" message=\"";
    append_escaped(out, coverage_text(c));
    out += "\">";
    append_escaped(out, coverage_text(c));
    out += "</failure>\n    </testcase>\n";
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

result<void> write_junit(const std::string& path, const compare_report& report,
                         bool allow_partial) {
  return write_file_atomically(path, report_junit(report, allow_partial));
}

}  // namespace sigdump
