// Triggers (docs/configuration.md, "Triggers"): on a pair's run_start, a
// suspect layer, its first bad layer or its run_end, runs the configured
// command without a shell, in its own process group, with the facts in
// SIGDUMP_* environment variables and the event's JSON on stdin. Each
// command is watched by a thread of its own (platform/child_process.h),
// never by the loop; its output goes to the log, bounded; its outcome comes
// back to the loop and into daemon_state::triggers.
#pragma once

#include <cstdint>
#include <list>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "config/trigger_config.h"
#include "platform/child_process.h"
#include "platform/event_loop.h"
#include "sigdump/unique_fd.h"
#include "state/daemon_event.h"
#include "state/daemon_state.h"

namespace sigdump::daemon {

class trigger_runner final : public event_sink {
 public:
  /* Registers itself as a sink of state. Loop thread. */
  trigger_runner(event_loop& loop, daemon_state& state);
  /* Ends the commands still running (SIGTERM to their groups, SIGKILL after
     the grace period) and waits for their threads. */
  ~trigger_runner() override;
  trigger_runner(const trigger_runner&) = delete;
  trigger_runner& operator=(const trigger_runner&) = delete;

  /* The triggers to run from now on (start-up and SIGHUP); commands already
     running go on to their end. */
  void configure(const std::vector<trigger_config>& triggers);
  /* SIGDUMP_SOCKET of the commands. */
  void set_socket(std::string path) { socket_ = std::move(path); }

  void publish(const daemon_event& e) override;

 private:
  struct job {
    std::uint64_t id = 0;
    std::string trigger, run;
    std::thread thread;
  };
  void start(trigger_stats& t, const char* event, const daemon_event& e,
             const first_bad_layer* layer);
  void finish(std::uint64_t id, const child_outcome& outcome);
  std::vector<std::string> environment(const char* event, const daemon_event& e,
                                       const first_bad_layer* layer) const;

  event_loop& loop_;
  daemon_state& state_;
  std::string socket_;
  unique_fd stop_;       // eventfd: readable once the daemon stops
  std::list<job> jobs_;  // running commands
  std::uint64_t next_job_ = 1;
  std::set<std::string> first_bad_seen_;  // live runs whose first bad layer fired
};

}  // namespace sigdump::daemon
