// The runs in the daemon's log, for people (journalctl --user -u sigdumpd):
// one line when a run starts, one when it ends or its results are revised,
// with the coverage, the verdict, the first bad layer and the diagnosis.
#pragma once

#include <string>

#include "state/daemon_event.h"
#include "state/daemon_state.h"

namespace sigdump::daemon {

/* The log line of a run event; empty for the other kinds. */
std::string run_log_line(const daemon_event& e, const daemon_state& state);

class run_journal final : public event_sink {
 public:
  explicit run_journal(const daemon_state& state) : state_(state) {}
  /* Logs run_log_line(e) at info level, when there is one. */
  void publish(const daemon_event& e) override;

 private:
  const daemon_state& state_;
};

}  // namespace sigdump::daemon
