#include "state/run_journal.h"

#include "platform/log.h"
#include "sigdump/coverage.h"

namespace sigdump::daemon {

std::string run_log_line(const daemon_event& e, const daemon_state& state) {
  const std::string who =
      e.run + (e.pair.empty() ? "" : " of pair " + e.pair) + " (" + e.path + ")";
  if (e.kind == event_kind::run_start) return who + " started: " + e.reason;
  if (e.kind != event_kind::run_end && e.kind != event_kind::run_revised) return {};
  std::string line = who + (e.kind == event_kind::run_end ? " ended: " + e.reason : " revised");
  if (!e.coverage) {
    const auto r = state.find_run(e.run);
    return line + ", " + std::to_string(r ? r->records : 0) + " records, no pair";
  }
  const verdict v = judge(*e.coverage, e.suspect);
  line += "; " + coverage_text(*e.coverage) + "; " + std::to_string(e.suspect) + " suspect; " +
          verdict_name(v) + " (" + verdict_reason(v, *e.coverage, e.suspect) + ")";
  if (e.first_bad) {
    line += "; first bad layer " + std::to_string(e.first_bad->index) + " " + e.first_bad->name;
    if (!e.first_bad->reason.empty()) line += " (" + e.first_bad->reason + ")";
  }
  if (e.diagnosis && !e.diagnosis->text.empty()) line += "; diagnosis: " + e.diagnosis->text;
  return line;
}

void run_journal::publish(const daemon_event& e) {
  const std::string line = run_log_line(e, state_);
  if (!line.empty()) log(log_level::info, line);
}

}  // namespace sigdump::daemon
