// sigdumpd's settings: command line merged over the JSON configuration file.
// Each option and key is one entry of config/option_table.cpp;
// docs/configuration.md lists the keys.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/trigger_config.h"
#include "sigdump/error.h"
#include "sigdump/metrics.h"

namespace sigdump::daemon {

/* One pair as configured: each side is a file path or a watched path. */
struct pair_config {
  std::string name;       // "NAME:" of --pair, "name" in the config; required
  std::string sample;     // absolute, normalized path
  std::string benchmark;  // absolute, normalized path
  // Configuration file only: this pair's own thresholds and name map, over
  // the daemon's ("cos_min", "rmse_max", "name_map" of a "pairs" entry).
  std::optional<double> cos_min = std::nullopt;
  std::optional<double> rmse_max = std::nullopt;
  std::optional<std::unordered_map<std::string, std::string>> name_map = std::nullopt;
};

struct archive_config {
  std::string dir;                        // empty: archiving off
  std::uint64_t max_bytes = 10ull << 30;  // budget of the archive folder (0: none)
};

/* The monitoring textfile (docs/monitoring.md). */
struct metrics_config {
  std::string textfile_dir;                  // --metrics-dir / "metrics.textfile_dir"; empty: off
  std::chrono::milliseconds interval{5000};  // --metrics-interval-ms / "metrics.interval_ms"
  std::uint32_t previous_runs = 3;           // "metrics.previous_runs": ended runs kept per pair
};

struct daemon_options {
  std::vector<std::string> watch;         // absolute, normalized paths (--watch + "watch")
  std::vector<pair_config> pairs;         // --pair + "pairs"
  std::string config_path;                // file read (empty: none existed at the default place)
  std::string state_dir;                  // --state-dir / "state_dir"
  std::string socket;                     // --socket / "socket"; empty: default_socket_path()
  std::vector<uid_t> allow_uids;          // "allow_uids": peers allowed besides our own uid
  std::string events_log;                 // --events-log / "events_log"; empty: none
  std::chrono::milliseconds quiet{3000};  // "quiet_ms": unchanged this long => run ends (quiet)
  std::chrono::milliseconds poll{200};    // "poll_ms": period of the stat timer over tracked files
  std::uint32_t keep_runs = 200;          // "keep_runs": persisted runs kept
  // "history_max_bytes": bytes of events kept for subscribers that resume
  std::uint64_t history_max_bytes = std::uint64_t{16} << 20;
  unsigned workers = 0;                  // "workers": metric threads (0: min(4, cores))
  struct thresholds thresholds;          // "cos_min", "rmse_max" (as sigdump compare)
  archive_config archive;                // "archive": {"dir","max_bytes"}, --archive-dir
  metrics_config metrics;                // "metrics": textfile export (docs/monitoring.md)
  std::vector<trigger_config> triggers;  // "triggers" + --on-first-bad
  bool foreground = false;               // --foreground (we never fork; kept for unit files)
  bool debug = false;                    // --debug: log level debug
  std::vector<std::string> cli_args;     // argv as given, for SIGHUP reload
};

/* What parse_command_line decided besides options. */
enum class cli_action : std::uint8_t { run, help, version, list_options };

/* Parses argv and then the configuration file (--config, else
   $XDG_CONFIG_HOME/sigdump/sigdumpd.json if it exists). Command-line
   values win over file values; lists (watch, pairs) are concatenated.
   Errors are one line naming the option or the file and field. */
result<cli_action> parse_command_line(int argc, char** argv, daemon_options& out);

/* Reads only the configuration file into out (used on start and SIGHUP).
   Unknown keys, wrong types and bad values are errors naming the file, the
   field (or line:column) and what was expected. */
result<void> load_config_file(const std::string& path, daemon_options& out);

/* The --help text. */
const char* usage_text() noexcept;

/* The --list-options text (not in --help; the bash completion's test reads
   it): one line "SPELLING COMPLETION" per command-line spelling of every
   option --help lists, COMPLETION being file, dir, value or none. */
std::string option_list_text();

/* Absolute, lexically normalized form of path (no filesystem access). */
std::string normalize_path(const std::string& path);

}  // namespace sigdump::daemon
