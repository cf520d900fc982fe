// Monitoring export: sigdumpd's pairs, their current and recent runs and
// the daemon's own health in the Prometheus text exposition format (0.0.4),
// written atomically as a textfile for node_exporter's textfile collector
// (docs/monitoring.md lists every metric). Rendering is a pure function of
// the state; the file is written on a thread of its own so a slow or
// failing disk never stalls the event loop.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "config/daemon_options.h"
#include "platform/event_loop.h"
#include "server/ipc_seam.h"
#include "sigdump/error.h"
#include "state/daemon_event.h"
#include "state/daemon_state.h"

namespace sigdump::daemon {

/* The textfile's name inside metrics.textfile_dir. */
inline constexpr const char* metrics_file_name = "sigdumpd.prom";

/* What render_metrics needs besides the state. */
struct metrics_inputs {
  bool up = true;                    // false in the last write at shutdown
  double now = 0;                    // unix seconds of the rendering
  ipc_health ipc;                    // socket server counters (zero without one)
  std::uint64_t write_failures = 0;  // failed textfile writes so far
  std::uint32_t previous_runs = 3;   // finished runs kept per pair besides the current one
  /* Runs of each pair that ended or were reset since the daemon started,
     plus those read back from the state folder. */
  std::map<std::string, std::uint64_t> runs_finished;
};

/* The whole exposition text: HELP/TYPE lines and samples, families grouped,
   per pair its current run and at most previous_runs earlier ones. */
std::string render_metrics(const daemon_state& state, const metrics_inputs& in);

/* A label value escaped for the text format (\\, \", \n); bytes that are
   not valid UTF-8 become U+FFFD so the scraper never rejects the file. */
std::string escape_label_value(std::string_view value);

/* A sample value: shortest round-trip decimal, or NaN, +Inf, -Inf. */
std::string format_metric_value(double v);

/* Writes text to DIR/NAME with write_file_atomically (mode 0644), so
   readers see the old file or the new one, never a part. The error names
   the path and the failing call. */
result<void> write_textfile(const std::string& dir, const std::string& name, std::string_view text);

/* Runs render + write for the daemon: every interval, soon after each run
   ends, and one last time (sigdump_daemon_up 0) when destroyed. The file
   is left in place at shutdown: a scrape then says the daemon is down
   instead of losing the pair's last results. Loop thread only. */
class metrics_exporter final : public event_sink {
 public:
  /* health: reads the socket server's counters (may be empty). Registers
     itself as a sink on state and starts its timer on loop. */
  metrics_exporter(event_loop& loop, daemon_state& state, metrics_config config,
                   std::function<ipc_health()> health);
  /* Unregisters, writes the final file (up 0) and waits for it (at most a
     few seconds: a hung disk does not hang the shutdown). */
  ~metrics_exporter() override;
  metrics_exporter(const metrics_exporter&) = delete;
  metrics_exporter& operator=(const metrics_exporter&) = delete;

  void publish(const daemon_event& e) override;
  /* Renders now and queues the text for the writer thread (the newest text
     replaces one not yet written). */
  void write_now(bool up = true);
  /* New interval/previous_runs after SIGHUP (same folder). */
  void reconfigure(const metrics_config& config);
  const metrics_config& config() const noexcept { return config_; }

 private:
  struct writer_state;  // shared with the writer thread
  void arm_timer();

  event_loop& loop_;
  daemon_state& state_;
  metrics_config config_;
  std::function<ipc_health()> health_;
  std::map<std::string, std::uint64_t> finished_;    // pair -> runs finished
  std::map<std::string, std::string> last_counted_;  // pair -> run counted last
  timer_id timer_ = 0;
  bool write_posted_ = false;
  std::shared_ptr<writer_state> writer_;
  std::thread thread_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace sigdump::daemon
