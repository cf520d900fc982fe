#include "state/run_outcome.h"

#include <string>
#include <string_view>
#include <vector>

#include "sigdump/report/report_json.h"

namespace sigdump::daemon {

namespace {

std::string str(simdjson::dom::object o, std::string_view k) {
  std::string_view v;
  if (o[k].get_string().get(v)) return {};
  return std::string(v);
}

std::int64_t num(simdjson::dom::object o, std::string_view k, std::int64_t def) {
  std::int64_t v = def;
  if (o[k].get_int64().get(v)) return def;
  return v;
}

bool flag(simdjson::dom::object o, std::string_view k) {
  bool v = false;
  if (o[k].get_bool().get(v)) return false;
  return v;
}

std::vector<std::string> strings(simdjson::dom::object o, std::string_view k) {
  std::vector<std::string> out;
  simdjson::dom::array a;
  if (o[k].get_array().get(a)) return out;
  for (auto e : a) {
    std::string_view v;
    if (!e.get_string().get(v)) out.emplace_back(v);
  }
  return out;
}

advice::kind advice_kind(std::string_view s) {
  for (auto k : {advice::kind::none, advice::kind::int16, advice::kind::preprocessing}) {
    if (s == advice_kind_name(k)) return k;
  }
  return advice::kind::none;
}

void read_advice(simdjson::dom::object o, advice& a) {
  a = advice{};
  a.what = advice_kind(str(o, "kind"));
  a.tensor_arrays = strings(o, "tensor_arrays");
  a.input_config = str(o, "input_config");
  a.text = str(o, "text");
  a.wide_range_8bit = strings(o, "wide_range_8bit");
  simdjson::dom::object root;
  if (!o["root"].get_object().get(root)) {
    a.root_layer = num(root, "layer", -1);
    a.root = str(root, "text");
  }
  simdjson::dom::array ranked;
  if (!o["ranked"].get_array().get(ranked)) {
    for (auto e : ranked) {
      simdjson::dom::object eo;
      if (e.get_object().get(eo)) continue;
      advice_entry x;
      x.tensor = str(eo, "tensor");
      x.layer = num(eo, "layer", -1);
      x.conv = str(eo, "conv");
      x.why = str(eo, "why");
      x.root = flag(eo, "root");
      x.guess = flag(eo, "guess");
      a.ranked.push_back(std::move(x));
    }
  }
  a.shown = static_cast<std::size_t>(num(o, "shown", 0));
  if (a.shown > a.ranked.size()) a.shown = a.ranked.size();
  a.convolutions = static_cast<std::size_t>(num(o, "convolutions", 0));
  a.all_int16 = flag(o, "all_int16");
  a.notes = strings(o, "notes");
}

// The input warnings (input_checks.h) with what rebuilds them exactly: the
// message apart from the file, record and offset its text is made of.
void write_warnings(json_writer& w, const std::vector<input_warning>& warnings) {
  w.key("warnings").begin_array();
  for (const input_warning& x : warnings) {
    w.begin_object();
    w.field("code", x.code);
    w.field("file", x.where.file);
    w.field("record", x.where.record);
    w.field("name", x.where.record_name);
    if (x.where.offset != no_offset) w.field("offset", x.where.offset);
    w.field("message", x.where.message);
    w.end_object();
  }
  w.end_array();
}

void read_warnings(simdjson::dom::array a, std::vector<input_warning>& out) {
  out.clear();
  for (auto e : a) {
    simdjson::dom::object o;
    if (e.get_object().get(o)) continue;
    input_warning x;
    x.code = str(o, "code");
    x.where.code = errc::mismatch;
    x.where.file = str(o, "file");
    x.where.record = num(o, "record", no_record);
    x.where.record_name = str(o, "name");
    std::uint64_t offset = no_offset;
    x.where.offset = o["offset"].get_uint64().get(offset) ? no_offset : offset;
    x.where.message = str(o, "message");
    out.push_back(std::move(x));
  }
}

}  // namespace

void read_diagnosis(simdjson::dom::object o, diagnosis& d) {
  for (auto k : {diagnosis::kind::none, diagnosis::kind::jump, diagnosis::kind::drift,
                 diagnosis::kind::oscillation}) {
    if (str(o, "kind") == diagnosis_kind_name(k)) d.what = k;
  }
  d.at = num(o, "at", -1);
  d.text = str(o, "text");
  d.following = static_cast<std::int32_t>(num(o, "following", -1));
  d.preprocessing = flag(o, "preprocessing");
}

void write_run_outcome(json_writer& w, const run_info& r) {
  const coverage& c = r.report.coverage;
  w.key("coverage").raw(coverage_json(c));
  w.key("sample_only_layers").begin_array();
  for (const sample_only_layer& s : c.sample_only_layers) {
    w.begin_object();
    w.field("record", s.record);
    w.field("name", s.name);
    w.end_object();
  }
  w.end_array();
  w.key("advice").raw(advice_json(r.report.advice));
  w.field("benchmark_run", r.benchmark_run);
  write_warnings(w, r.report.warnings);
}

void recount_coverage_from(run_info& r, std::uint32_t first_record) {
  coverage& c = r.report.coverage;
  std::erase_if(c.sample_only_layers,
                [&](const sample_only_layer& s) { return s.record >= first_record; });
  c.sample_layers = r.report.layers.size() + c.sample_only_layers.size();
  c.lost = 0;  // the records after first_record are compared again
  count_coverage(r.report);
}

void read_run_outcome(simdjson::dom::object o, run_info& r) {
  simdjson::dom::object c;
  if (!o["coverage"].get_object().get(c)) {
    coverage& cov = r.report.coverage;
    cov = coverage{};
    cov.sample_layers = static_cast<std::uint64_t>(num(c, "sample_layers", 0));
    cov.benchmark_only = static_cast<std::uint64_t>(num(c, "benchmark_only", 0));
    cov.lost = static_cast<std::uint64_t>(num(c, "lost", 0));
    simdjson::dom::array only;
    if (!o["sample_only_layers"].get_array().get(only)) {
      for (auto e : only) {
        simdjson::dom::object eo;
        if (e.get_object().get(eo)) continue;
        cov.sample_only_layers.push_back(
            {static_cast<std::uint32_t>(num(eo, "record", 0)), str(eo, "name")});
      }
    }
  }
  simdjson::dom::object a;
  if (!o["advice"].get_object().get(a)) read_advice(a, r.report.advice);
  if (const std::string b = str(o, "benchmark_run"); !b.empty()) r.benchmark_run = b;
  simdjson::dom::array warnings;
  if (!o["warnings"].get_array().get(warnings)) read_warnings(warnings, r.report.warnings);
}

}  // namespace sigdump::daemon
