#include "state/daemon_event.h"

#include "sigdump/report/report_json.h"

namespace sigdump::daemon {

const char* event_kind_name(event_kind k) noexcept {
  switch (k) {
    case event_kind::run_start: return "run_start";
    case event_kind::layer: return "layer";
    case event_kind::run_end: return "run_end";
    case event_kind::run_reset: return "run_reset";
    case event_kind::resync: return "resync";
    case event_kind::run_revised: return "run_revised";
  }
  return "resync";
}

void write_first_bad(json_writer& w, const std::optional<first_bad_layer>& fb) {
  if (!fb) {
    w.null();
    return;
  }
  w.begin_object();
  w.field("index", fb->index);
  w.field("name", fb->name);
  w.field("reason", fb->reason);
  w.end_object();
}

void write_diagnosis(json_writer& w, const struct diagnosis& d) { w.raw(diagnosis_json(d)); }

void write_advice(json_writer& w, const struct advice& a) { w.raw(advice_json(a)); }

void write_outcome(json_writer& w, const std::optional<struct coverage>& c, std::uint64_t suspect) {
  if (!c) {
    w.field_null("coverage");
    w.field_null("verdict");
    return;
  }
  w.key("coverage").raw(coverage_json(*c));
  w.field("verdict", verdict_name(judge(*c, suspect)));
}

void write_string_or_null(json_writer& w, const char* key, const std::string& value) {
  w.key(key);
  if (value.empty()) {
    w.null();
  } else {
    w.value(value);
  }
}

namespace {
void write_pair(json_writer& w, const std::string& pair) { write_string_or_null(w, "pair", pair); }
}  // namespace

void write_event_fields(json_writer& w, const daemon_event& e) {
  switch (e.kind) {
    case event_kind::run_start:
      w.field("run", e.run);
      w.field("path", e.path);
      write_pair(w, e.pair);
      w.field("reason", e.reason);
      write_string_or_null(w, "benchmark_run", e.benchmark_run);
      break;
    case event_kind::layer:
      w.field("run", e.run);
      w.field("path", e.path);
      write_pair(w, e.pair);
      w.key("layer");
      if (e.layer) {
        w.raw(layer_json(*e.layer));
      } else {
        w.null();
      }
      w.key("first_bad");
      write_first_bad(w, e.first_bad);
      w.key("diagnosis");
      write_diagnosis(w, e.diagnosis.value_or(diagnosis{}));
      break;
    case event_kind::run_end:
    case event_kind::run_revised:
      w.field("run", e.run);
      w.field("path", e.path);
      write_pair(w, e.pair);
      w.field("reason", e.reason);
      write_string_or_null(w, "benchmark_run", e.benchmark_run);
      w.field("layers", e.layers);
      w.field("suspect", e.suspect);
      w.key("first_bad");
      write_first_bad(w, e.first_bad);
      w.key("diagnosis");
      write_diagnosis(w, e.diagnosis.value_or(diagnosis{}));
      w.key("advice");
      write_advice(w, e.advice.value_or(advice{}));
      write_outcome(w, e.coverage, e.suspect);
      w.key("warnings").raw(warnings_json(e.warnings));
      if (e.kind == event_kind::run_revised) w.field("previous_verdict", e.previous_verdict);
      break;
    case event_kind::run_reset:
      w.field("run", e.run);
      w.field("previous", e.previous);
      w.field("path", e.path);
      write_pair(w, e.pair);
      w.field("reason", e.reason);
      break;
    case event_kind::resync: w.field("reason", e.reason); break;
  }
}

std::string event_json(const daemon_event& e) {
  json_writer w;
  w.begin_object();
  w.field("event", event_kind_name(e.kind));
  w.field("clock", e.clock);
  write_event_fields(w, e);
  w.end_object();
  return w.take();
}

}  // namespace sigdump::daemon
