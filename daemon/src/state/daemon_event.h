// Structured events the daemon core publishes (docs/protocol.md, "Events"),
// and the sink interface through which the IPC server, the --events-log file
// and tests receive them. The core assigns the clock; sinks only deliver.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sigdump/compare.h"
#include "sigdump/json_util.h"

namespace sigdump::daemon {

struct run_info;  // daemon_state.h

enum class event_kind : std::uint8_t { run_start, layer, run_end, run_reset, resync, run_revised };

/* "run_start", "layer", "run_end", "run_reset", "resync", "run_revised" */
const char* event_kind_name(event_kind k) noexcept;

/* One published event. Only the members listed for its kind are set. */
struct daemon_event {
  event_kind kind = event_kind::resync;
  std::uint64_t tick = 0;  // TICK of the clock: +1 per published event, from 1
  std::string clock;       // "c:START:PID:TICK" (docs/protocol.md, "Clocks")
  std::string run;         // run_start/layer/run_end: the run; run_reset: the new run
  std::string previous;    // run_reset: the run that ended
  std::string path;        // all but resync: the dump file
  std::string pair;        // pair name; empty = none (rendered as null)
  std::string reason;      // run_start/run_reset: created|replaced|truncated|rewritten|started
                           // run_end: closed|quiet|deleted; resync: inotify_overflow|reload
  std::optional<layer_result> layer;          // layer: the compared layer
  std::optional<first_bad_layer> first_bad;   // layer/run_end: of the run so far
  std::optional<struct diagnosis> diagnosis;  // layer/run_end: of the run so far
  std::uint64_t layers = 0;                   // run_end/run_revised: layers compared
  std::uint64_t suspect = 0;                  // run_end/run_revised: suspect or failed layers
  std::optional<struct coverage> coverage;    // run_end/run_revised: with a pair
  std::optional<struct advice> advice;        // run_end/run_revised: of the run
  std::vector<input_warning> warnings;        // run_end/run_revised: with a pair
  std::string previous_verdict;               // run_revised: the verdict it replaces
  std::string benchmark_run;  // run_start/run_end/run_revised: the benchmark run the sample run
                              // is compared with ("r4"); empty: none (rendered as null)
  bool suspect_layer() const noexcept { return layer && (layer->suspect || !layer->error.empty()); }
};

/* Writes the event's keys after "clock" (run, path, pair, ...), as the
   protocol lists them for its kind, into an open JSON object. The caller
   writes "id", "event" and "clock" itself (event_kind_name, e.clock). */
void write_event_fields(json_writer& w, const daemon_event& e);

/* The whole event as one JSON object without "id":
   {"event":..,"clock":..,<write_event_fields>}. Used by --events-log. */
std::string event_json(const daemon_event& e);

/* JSON of a first_bad (or null), of a diagnosis and of an advice, as events
   carry them: {"index":..,"name":..,"reason":..}, and the diagnosis and
   advice objects of `sigdump compare --json` (diagnosis_json, advice_json). */
void write_first_bad(json_writer& w, const std::optional<first_bad_layer>& fb);
void write_diagnosis(json_writer& w, const struct diagnosis& d);
void write_advice(json_writer& w, const struct advice& a);

/* "key": "value", or null when value is empty (a run's pair, its benchmark
   run). */
void write_string_or_null(json_writer& w, const char* key, const std::string& value);

/* "coverage": {...} and "verdict": "..." (judge(c, suspect)), or both null
   without a coverage (a run with no pair). */
void write_outcome(json_writer& w, const std::optional<struct coverage>& c, std::uint64_t suspect);

/* Receives every published event on the loop thread, in tick order. Must
   not block; must not publish from inside publish(). */
class event_sink {
 public:
  virtual ~event_sink() = default;
  virtual void publish(const daemon_event& e) = 0;
  /* A run's state changed without an event saying so yet (it ended while
     layers are still due before its run_end, or an ended one goes on or
     was reset). */
  virtual void run_changed(const run_info& /*r*/) {}
};

}  // namespace sigdump::daemon
