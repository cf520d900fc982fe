// A compare_report as JSON (the contract in docs/compare.md), and one
// layer alone as the daemon streams it.
#include "sigdump/report/report_json.h"

#include <string>

#include "report_counts.h"
#include "sigdump/json_util.h"

namespace sigdump {

namespace {

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
  if (l.channels) w.key("channels").raw(channels_json(*l.channels));
}

void channel_fields(json_writer& w, const channel_stat& c) {
  w.begin_object();
  w.field("c", static_cast<std::uint64_t>(c.channel));
  w.field("n", c.n);
  w.field("mse", c.mse);
  w.field("cos", c.cos);
  w.field("rmse", c.rmse);
  w.field("max_abs", c.max_abs);
  w.field("peak", c.peak);
  w.field("all_zero", c.all_zero);
  w.end_object();
}

void string_array(json_writer& w, const char* k, const std::vector<std::string>& v) {
  w.key(k).begin_array();
  for (const auto& s : v) w.value(s);
  w.end_array();
}

}  // namespace

std::string channels_json(const channel_evidence& ev) {
  json_writer w;
  w.begin_object();
  w.field("axis", static_cast<std::int64_t>(ev.axis));
  w.field("count", ev.channels);
  w.field("order", ev.order);
  w.key("worst").begin_array();
  for (const auto& c : ev.worst) channel_fields(w, c);
  w.end_array();
  w.key("outliers").begin_array();
  for (auto c : ev.outliers) w.value(static_cast<std::uint64_t>(c));
  w.end_array();
  w.key("top").begin_array();
  for (const auto& e : ev.top) {
    w.begin_object();
    w.field("index", e.index);
    w.key("at").begin_array();
    for (auto x : e.at) w.value(static_cast<std::int64_t>(x));
    w.end_array();
    w.field("c", static_cast<std::uint64_t>(e.channel));
    w.field("sample", e.sample);
    w.field("benchmark", e.benchmark);
    w.field("abs_diff", e.abs_diff);
    w.end_object();
  }
  w.end_array();
  w.key("per_channel").begin_array();
  for (const auto& c : ev.per_channel) channel_fields(w, c);
  w.end_array();
  w.end_object();
  return w.take();
}

std::string layer_json(const layer_result& layer) {
  json_writer w;
  w.begin_object();
  layer_fields(w, layer);
  w.end_object();
  return w.take();
}

std::string coverage_json(const coverage& c) {
  json_writer w;
  w.begin_object();
  w.field("sample_layers", c.sample_layers);
  w.field("compared", c.compared);
  w.field("not_comparable", c.not_comparable);
  w.field("sample_only", c.sample_only);
  w.field("benchmark_only", c.benchmark_only);
  w.field("pending", c.pending);
  w.field("lost", c.lost);
  if (c.benchmark_ends_at >= 0) {
    w.key("benchmark_ends_at").begin_object();
    w.field("index", c.benchmark_ends_at);
    w.field("name", c.benchmark_ends_name);
    w.end_object();
  } else {
    w.field_null("benchmark_ends_at");
  }
  w.field("text", coverage_text(c));
  w.end_object();
  return w.take();
}

std::string warnings_json(const std::vector<input_warning>& warnings) {
  json_writer w;
  w.begin_array();
  for (const input_warning& x : warnings) {
    w.begin_object();
    w.field("code", x.code);
    w.field("text", x.text());
    w.field("file", x.where.file);
    if (x.where.record != no_record) {
      w.field("record", x.where.record);
      w.field("name", x.where.record_name);
    } else {
      w.field_null("record");
      w.field_null("name");
    }
    if (x.where.offset != no_offset) {
      w.field("offset", x.where.offset);
    } else {
      w.field_null("offset");
    }
    w.end_object();
  }
  w.end_array();
  return w.take();
}

std::string diagnosis_json(const diagnosis& d) {
  json_writer w;
  w.begin_object();
  w.field("kind", diagnosis_kind_name(d.what));
  w.field("text", d.text);
  if (d.at >= 0) {
    w.field("at", static_cast<std::int64_t>(d.at));
  } else {
    w.field_null("at");
  }
  if (d.following >= 0) {
    w.field("following", static_cast<std::int64_t>(d.following));
  } else {
    w.field_null("following");
  }
  w.field("preprocessing", d.preprocessing);
  w.end_object();
  return w.take();
}

std::string advice_json(const advice& a) {
  json_writer w;
  w.begin_object();
  string_array(w, "tensor_arrays", a.tensor_arrays);
  w.field("input_config", a.input_config);
  w.field("text", a.text);
  string_array(w, "wide_range_8bit", a.wide_range_8bit);
  w.field("kind", advice_kind_name(a.what));
  if (a.root_layer >= 0) {
    w.key("root").begin_object();
    w.field("layer", static_cast<std::int64_t>(a.root_layer));
    w.field("text", a.root);
    w.end_object();
  } else {
    w.field_null("root");
  }
  w.key("ranked").begin_array();
  for (const advice_entry& e : a.ranked) {
    w.begin_object();
    w.field("tensor", e.tensor);
    if (e.layer >= 0) {
      w.field("layer", static_cast<std::int64_t>(e.layer));
    } else {
      w.field_null("layer");
    }
    w.field("conv", e.conv);
    w.field("why", e.why);
    w.field("root", e.root);
    w.field("guess", e.guess);
    w.end_object();
  }
  w.end_array();
  w.field("shown", static_cast<std::uint64_t>(a.shown));
  w.field("more", static_cast<std::uint64_t>(a.more()));
  w.field("convolutions", static_cast<std::uint64_t>(a.convolutions));
  w.field("all_int16", a.all_int16);
  string_array(w, "notes", a.notes);
  w.end_object();
  return w.take();
}

std::string report_json(const compare_report& r) {
  json_writer w;
  w.begin_object();
  w.field("sample", r.sample_path);
  w.field("benchmark", r.benchmark_path);
  w.key("warnings").raw(warnings_json(r.warnings));
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
  w.key("diagnosis").raw(diagnosis_json(r.diagnosis));
  w.key("unmatched").begin_object();
  string_array(w, "sample", r.unmatched_sample);
  string_array(w, "benchmark", r.unmatched_benchmark);
  w.end_object();
  w.key("advice").raw(advice_json(r.advice));
  const coverage& c = r.coverage;
  w.key("coverage").raw(coverage_json(c));
  w.field("verdict", verdict_name(r.verdict()));
  w.field("verdict_reason", verdict_reason(r.verdict(), c, r.suspect_count()));
  w.key("summary").begin_object();
  w.field("layers", static_cast<std::uint64_t>(r.layers.size()));
  w.field("suspect", static_cast<std::uint64_t>(detail::count_suspect(r)));
  w.field("not_comparable", static_cast<std::uint64_t>(detail::count_errors(r)));
  w.field("bytes_compared", r.bytes_compared);
  w.end_object();
  w.end_object();
  std::string out = w.take();
  out += '\n';
  return out;
}

}  // namespace sigdump
