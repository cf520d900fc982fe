// What a run ended with beyond its layers: the coverage (so its verdict),
// the full diagnosis and the ranked advice, as the run log's end line keeps
// them, so `runs` and `status` say the same after a restart.
#pragma once

#include <simdjson.h>

#include "sigdump/json_util.h"
#include "state/daemon_state.h"

namespace sigdump::daemon {

/* Writes "coverage" (with the sample-only layers), "advice" and
   "benchmark_run" into an open JSON object: the end line of a run log. */
void write_run_outcome(json_writer& w, const run_info& r);

/* Reads what write_run_outcome wrote back into r.report (coverage, then
   recounted from the layers; advice) and r.benchmark_run; a line without them (a log written
   before they were kept) leaves r as it is. */
void read_run_outcome(simdjson::dom::object o, run_info& r);

/* A run continued after a restart counts its records from `first_record`
   on again: drops from its read-back coverage what that count redoes (the
   sample-only layers from there), so nothing is counted twice. */
void recount_coverage_from(run_info& r, std::uint32_t first_record);

/* Reads a diagnosis object (diagnosis_json) into d. */
void read_diagnosis(simdjson::dom::object o, diagnosis& d);

}  // namespace sigdump::daemon
