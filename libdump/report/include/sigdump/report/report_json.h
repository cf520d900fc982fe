// A compare_report as JSON: the contract in docs/compare.md, answered by
// `sigdump compare --json` and the daemon's compare method; one layer of it
// is what the daemon streams to subscribers.
#pragma once

#include <string>

#include "sigdump/compare.h"

namespace sigdump {

/* The whole report, one JSON object and a newline. */
std::string report_json(const compare_report& report);

/* Per-channel evidence as a JSON object (the "channels" object of a layer,
   docs/compare.md): axis, count, order, worst, top, per_channel. */
std::string channels_json(const channel_evidence& channels);

/* One layer as a JSON object (same keys as in report_json's "layers"). */
std::string layer_json(const layer_result& layer);

/* The report's "diagnosis" and "advice" objects (the daemon's run_end,
   run_revised, status and runs carry the same, from the same summarize()). */
std::string diagnosis_json(const diagnosis& d);
std::string advice_json(const advice& a);

/* The report's "warnings" array: [{"code":..,"text":..,"file":..,"record":..|null,
   "name":..|null,"offset":..|null}] (the daemon's run_end and runs carry the same). */
std::string warnings_json(const std::vector<input_warning>& warnings);

/* A coverage as the JSON object the report's "coverage" holds (the daemon's
   run_end, run_revised, status and runs carry the same). */
std::string coverage_json(const coverage& c);

}  // namespace sigdump
