#include "config/option_table.h"

#include <algorithm>
#include <chrono>

#include "sigdump/compare_options.h"

namespace sigdump::daemon {

namespace {

std::chrono::milliseconds ms(const option_value& v) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(v.count));
}

constexpr std::uint64_t one_day_ms = 86'400'000;

// Members left out take their defaults (option_table.h); GCC 12 warns
// about every designated initializer that leaves one out.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

// Order: --help's. Keys that only the file has sit where the file's
// "unknown key" message lists them.
constexpr option_spec options[] = {
    {.name = "--watch",
     .key = "watch",
     .kind = arg_kind::path,
     .metavar = "PATH",
     .help = "watch a folder (every dump inside) or one dump file;\n"
             "repeatable; a folder that does not exist yet is\n"
             "picked up when it appears",
     .repeatable = true,
     .items = "paths",
     .empty = empty_path::rejected_on_command_line,
     .apply = [](daemon_options& o, const option_value& v) { o.watch.push_back(v.path); }},
    {.name = "--pair",
     .key = "pairs",
     .kind = arg_kind::pair,
     .metavar = "NAME:SAMPLE=BENCHMARK",
     .help = "compare SAMPLE against BENCHMARK as layers arrive,\n"
             "as the pair NAME (required: clients select by it);\n"
             "each side is a dump file or a folder holding one\n"
             "(watched automatically); a file may be the sample\n"
             "of several pairs",
     .repeatable = true,
     .items = "pair objects",
     .apply = [](daemon_options& o, const option_value& v) { o.pairs.push_back(v.pair); }},
    {.name = "--config",
     .kind = arg_kind::path,
     .metavar = "FILE",
     .help = "JSON configuration (default\n"
             "$XDG_CONFIG_HOME/sigdump/sigdumpd.json if it exists);\n"
             "see docs/configuration.md",
     .apply = [](daemon_options& o, const option_value& v) { o.config_path = v.path; }},
    {.name = "--state-dir",
     .key = "state_dir",
     .kind = arg_kind::path,
     .metavar = "DIR",
     .help = "where runs are persisted and the lock lives (default\n"
             "$XDG_STATE_HOME/sigdump, else ~/.local/state/sigdump)",
     .apply = [](daemon_options& o, const option_value& v) { o.state_dir = v.path; }},
    {.name = "--socket",
     .key = "socket",
     .kind = arg_kind::path,
     .metavar = "PATH",
     .help = "Unix socket to listen on (default: $SIGDUMP_SOCKET,\n"
             "the socket-activation socket, $XDG_RUNTIME_DIR/sigdump/sock)",
     .empty = empty_path::ignored_on_command_line,
     .apply = [](daemon_options& o, const option_value& v) { o.socket = v.path; }},
    {.name = "--events-log",
     .key = "events_log",
     .kind = arg_kind::path,
     .metavar = "FILE",
     .help = "append every published event to FILE, one JSON\n"
             "object per line (same objects as on the socket,\n"
             "without \"id\")",
     .empty = empty_path::ignored_on_command_line,
     .apply = [](daemon_options& o, const option_value& v) { o.events_log = v.path; }},
    {.name = "--quiet-ms",
     .key = "quiet_ms",
     .kind = arg_kind::count,
     .metavar = "N",
     .help = "a run ends when its file is unchanged this long\n"
             "(default 3000)",
     .min = 10,
     .max = one_day_ms,
     .cli_above_max = above_max::accepted,
     .apply = [](daemon_options& o, const option_value& v) { o.quiet = ms(v); }},
    {.name = "--poll-ms",
     .key = "poll_ms",
     .kind = arg_kind::count,
     .metavar = "N",
     .help = "period of the stat timer over tracked files (default 200)",
     .min = 10,
     .max = one_day_ms,
     .cli_above_max = above_max::accepted,
     .apply = [](daemon_options& o, const option_value& v) { o.poll = ms(v); }},
    {.name = "--keep-runs",
     .key = "keep_runs",
     .kind = arg_kind::count,
     .metavar = "N",
     .help = "persisted runs kept (default 200)",
     .min = 1,
     .max = 1'000'000,
     .apply = [](daemon_options& o,
                 const option_value& v) { o.keep_runs = static_cast<std::uint32_t>(v.count); }},
    {.name = "--history-max-bytes",
     .key = "history_max_bytes",
     .kind = arg_kind::count,
     .metavar = "N",
     .help = "bytes of recent events kept for subscribers that\n"
             "resume with a clock (default 16 MiB); older ones are\n"
             "dropped (a resuming subscriber gets a gap)",
     .min = 65536,
     .max = std::uint64_t{1} << 40,
     .apply = [](daemon_options& o, const option_value& v) { o.history_max_bytes = v.count; }},
    {.name = "--workers",
     .key = "workers",
     .kind = arg_kind::count,
     .metavar = "N",
     .help = "threads computing metrics (default min(4, cores))",
     .max = 256,
     .apply = [](daemon_options& o,
                 const option_value& v) { o.workers = static_cast<unsigned>(v.count); }},
    {.name = "--cos-min",
     .key = "cos_min",
     .kind = arg_kind::number,
     .metavar = "X",
     .help = "COS below X is suspect (default 0.99)",
     .number_problem = cos_min_problem,
     .apply = [](daemon_options& o, const option_value& v) { o.thresholds.cos_min = v.number; }},
    {.name = "--rmse-max",
     .key = "rmse_max",
     .kind = arg_kind::number,
     .metavar = "X",
     .help = "RMSE above X is suspect (default 0.1)",
     .number_problem = rmse_max_problem,
     .apply = [](daemon_options& o, const option_value& v) { o.thresholds.rmse_max = v.number; }},
    {.key = "allow_uids",
     .kind = arg_kind::count,
     .repeatable = true,
     .items = "uids",
     .max = 0xFFFFFFFEu,
     .apply = [](daemon_options& o,
                 const option_value& v) { o.allow_uids.push_back(static_cast<uid_t>(v.count)); }},
    {.name = "--metrics-dir",
     .key = "metrics.textfile_dir",
     .kind = arg_kind::path,
     .metavar = "DIR",
     .help = "write DIR/sigdumpd.prom (Prometheus text format) for\n"
             "node_exporter's textfile collector; see docs/monitoring.md",
     .empty = empty_path::rejected,
     .apply = [](daemon_options& o, const option_value& v) { o.metrics.textfile_dir = v.path; }},
    {.name = "--metrics-interval-ms",
     .key = "metrics.interval_ms",
     .kind = arg_kind::count,
     .metavar = "N",
     .help = "rewrite that file every N ms (default 5000; also\n"
             "after each run ends and once more at shutdown)",
     .min = 10,
     .max = one_day_ms,
     .apply = [](daemon_options& o, const option_value& v) { o.metrics.interval = ms(v); }},
    {.key = "metrics.previous_runs",
     .kind = arg_kind::count,
     .max = 100,
     .apply =
         [](daemon_options& o, const option_value& v) {
           o.metrics.previous_runs = static_cast<std::uint32_t>(v.count);
         }},
    {.name = "--archive-dir",
     .key = "archive.dir",
     .kind = arg_kind::path,
     .metavar = "DIR",
     .help = "copy every run's dump into DIR as it grows, so a run\n"
             "the simulator overwrites can still be queried (see\n"
             "docs/configuration.md, \"Archive\")",
     .empty = empty_path::rejected,
     .apply = [](daemon_options& o, const option_value& v) { o.archive.dir = v.path; }},
    {.name = "--archive-max-bytes",
     .key = "archive.max_bytes",
     .kind = arg_kind::count,
     .metavar = "N",
     .help = "byte budget of the archive folder: the oldest\n"
             "archived runs are deleted past it (default 10 GiB;\n"
             "0: no budget)",
     .apply = [](daemon_options& o, const option_value& v) { o.archive.max_bytes = v.count; }},
    {.name = "--on-first-bad",
     .kind = arg_kind::trigger,
     .metavar = "CMD",
     .help = "run CMD when a pair's run meets its first bad layer:\n"
             "a JSON array '[\"prog\",\"arg\",...]' or one program;\n"
             "no shell; repeatable (see docs/configuration.md,\n"
             "\"Triggers\")",
     .repeatable = true,
     .apply = [](daemon_options& o, const option_value& v) { o.triggers.push_back(v.trigger); }},
    {.key = "triggers",
     .kind = arg_kind::trigger,
     .repeatable = true,
     .items = "trigger objects",
     .apply = [](daemon_options& o, const option_value& v) { o.triggers.push_back(v.trigger); }},
    {.name = "--foreground",
     .alias = "-f",
     .help = "stay in the foreground (sigdumpd never forks; kept\n"
             "for unit files and scripts)",
     .apply = [](daemon_options& o, const option_value&) { o.foreground = true; }},
    {.name = "--debug",
     .help = "verbose logging",
     .apply = [](daemon_options& o, const option_value&) { o.debug = true; }},
    {.name = "--help", .alias = "-h", .help = "this text", .action = cli_action::help},
    {.name = "--version",
     .help = "print the version and the protocol version",
     .action = cli_action::version},
    // For the bash completion's test: not in --help.
    {.name = "--list-options", .action = cli_action::list_options},
};

// An "archive" object replaces the whole archive setting: a "max_bytes" not
// given is the default again. A "metrics" object changes what it names.
constexpr file_section sections[] = {
    {.name = "metrics", .required = {}, .reset = nullptr},
    {.name = "archive",
     .required = "dir",
     .reset = [](daemon_options& o) { o.archive = archive_config{}; }},
};

#pragma GCC diagnostic pop

}  // namespace

std::span<const option_spec> option_table() noexcept { return options; }

std::span<const file_section> file_sections() noexcept { return sections; }

const option_spec* find_option(std::string_view arg) noexcept {
  if (arg.empty()) return nullptr;
  auto it = std::ranges::find_if(options, [&](const option_spec& o) {
    return (!o.name.empty() && o.name == arg) || (!o.alias.empty() && o.alias == arg);
  });
  return it == std::end(options) ? nullptr : &*it;
}

const option_spec* find_key(std::string_view key) noexcept {
  if (key.empty()) return nullptr;
  auto it = std::ranges::find_if(options, [&](const option_spec& o) { return o.key == key; });
  return it == std::end(options) ? nullptr : &*it;
}

std::string_view completion_kind(const option_spec& o) noexcept {
  switch (o.kind) {
    case arg_kind::flag: return "none";
    case arg_kind::path: return o.metavar == "DIR" ? "dir" : "file";
    case arg_kind::pair: return "pair";  // NAME:SAMPLE=BENCHMARK: files after the name
    case arg_kind::trigger: return "file";
    case arg_kind::count:
    case arg_kind::number: return "value";
  }
  return "value";
}

}  // namespace sigdump::daemon
