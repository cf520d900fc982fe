#include "config/daemon_options.h"

#include <simdjson.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "config/config_locations.h"

namespace sigdump::daemon {

namespace {

namespace fs = std::filesystem;

std::unexpected<error> usage_error(std::string message) {
  return make_error(errc::usage, {}, no_record, no_offset, std::move(message));
}

// The configuration file being read and where its values are, so that every
// config_error points at FILE:LINE:COLUMN without its callers passing it.
struct located_config {
  const std::string* file;
  const config_locations* where;
};
thread_local const located_config* current_config = nullptr;

std::unexpected<error> config_error(const std::string& file, const std::string& field,
                                    const std::string& message) {
  std::string at = file;
  if (current_config != nullptr && *current_config->file == file) {
    // An unknown key is pointed at by its name, anything else by its value.
    const bool key = message.starts_with("unknown key");
    at = with_position(file, current_config->where->find(field == "(top level)" ? "" : field, key));
  }
  return make_error(errc::usage, at, no_record, no_offset,
                    field.empty() ? message : field + ": " + message);
}

std::string resolve_against(const std::string& base_dir, const std::string& p) {
  if (p.empty()) return p;
  if (p[0] == '/') return normalize_path(p);
  if (p.size() >= 2 && p[0] == '~' && p[1] == '/') {
    const char* home = std::getenv("HOME");
    if (home != nullptr) return normalize_path(std::string(home) + p.substr(1));
  }
  return normalize_path((fs::path(base_dir) / p).string());
}

template <class T>
bool parse_uint(std::string_view s, T& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool parse_double(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

// "NAME:SAMPLE=BENCHMARK" or "SAMPLE=BENCHMARK". A ':' after the '=' or
// inside a path before the '=' that contains '/' is a path, not a name.
result<pair_config> parse_pair_arg(const std::string& arg, const std::string& base) {
  auto eq = arg.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size()) {
    return usage_error("--pair: expected SAMPLE=BENCHMARK or NAME:SAMPLE=BENCHMARK, got '" + arg +
                       "'");
  }
  std::string left = arg.substr(0, eq);
  pair_config p;
  auto colon = left.find(':');
  if (colon != std::string::npos && left.substr(0, colon).find('/') == std::string::npos) {
    p.name = left.substr(0, colon);
    left = left.substr(colon + 1);
  }
  if (left.empty()) return usage_error("--pair: empty sample path in '" + arg + "'");
  p.sample = resolve_against(base, left);
  p.benchmark = resolve_against(base, arg.substr(eq + 1));
  if (p.name.empty()) p.name = left + "=" + arg.substr(eq + 1);
  return p;
}

std::string cwd() {
  std::error_code ec;
  auto p = fs::current_path(ec);
  return ec ? std::string("/") : p.string();
}

std::string default_config_path() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/sigdump/sigdumpd.json";
  const char* home = std::getenv("HOME");
  if (home != nullptr) return std::string(home) + "/.config/sigdump/sigdumpd.json";
  return {};
}

std::string default_state_dir() {
  const char* xdg = std::getenv("XDG_STATE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/sigdump";
  const char* home = std::getenv("HOME");
  if (home != nullptr) return std::string(home) + "/.local/state/sigdump";
  return "/tmp/sigdump-state-" + std::to_string(::getuid());
}

const char* type_name(simdjson::dom::element_type t) {
  using simdjson::dom::element_type;
  switch (t) {
    case element_type::ARRAY: return "an array";
    case element_type::OBJECT: return "an object";
    case element_type::INT64:
    case element_type::UINT64: return "an integer";
    case element_type::DOUBLE: return "a number";
    case element_type::STRING: return "a string";
    case element_type::BOOL: return "a boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "a value";
}

struct config_reader {
  const std::string& file;
  std::string base;

  std::unexpected<error> expected(const std::string& field, const char* what,
                                  simdjson::dom::element e) const {
    return config_error(file, field,
                        std::string("expected ") + what + ", got " + type_name(e.type()));
  }
  result<std::string> str(const std::string& field, simdjson::dom::element e) const {
    std::string_view s;
    if (e.get_string().get(s)) return expected(field, "a string", e);
    return std::string(s);
  }
  result<std::uint64_t> uint(const std::string& field, simdjson::dom::element e, std::uint64_t min,
                             std::uint64_t max) const {
    std::uint64_t v = 0;
    if (e.get_uint64().get(v)) return expected(field, "a non-negative integer", e);
    if (v < min || v > max) {
      return config_error(file, field,
                          "expected an integer in [" + std::to_string(min) + ", " +
                              std::to_string(max) + "], got " + std::to_string(v));
    }
    return v;
  }
  result<double> number(const std::string& field, simdjson::dom::element e) const {
    double v = 0;
    if (e.get_double().get(v)) return expected(field, "a number", e);
    return v;
  }
};

// "metrics": {"textfile_dir": DIR, "interval_ms": N, "previous_runs": K}
result<void> read_metrics_config(const config_reader& rd, simdjson::dom::element value,
                                 metrics_config& out) {
  simdjson::dom::object obj;
  if (value.get_object().get(obj)) {
    return rd.expected("metrics", "an object {\"textfile_dir\",\"interval_ms\",\"previous_runs\"}",
                       value);
  }
  for (auto [k, v] : obj) {
    const std::string f = "metrics." + std::string(k);
    if (k == "textfile_dir") {
      auto s = rd.str(f, v);
      if (!s) return std::unexpected(s.error());
      if (s->empty()) {
        return config_error(rd.file, f, "expected a folder path, got an empty string");
      }
      out.textfile_dir = resolve_against(rd.base, *s);
    } else if (k == "interval_ms") {
      auto n = rd.uint(f, v, 10, 86'400'000);
      if (!n) return std::unexpected(n.error());
      out.interval = std::chrono::milliseconds(static_cast<std::int64_t>(*n));
    } else if (k == "previous_runs") {
      auto n = rd.uint(f, v, 0, 100);
      if (!n) return std::unexpected(n.error());
      out.previous_runs = static_cast<std::uint32_t>(*n);
    } else {
      return config_error(rd.file, f,
                          "unknown key (expected textfile_dir, interval_ms or previous_runs)");
    }
  }
  return {};
}

// "archive": {"dir": DIR, "max_bytes": N}
result<void> read_archive_config(const config_reader& rd, simdjson::dom::element value,
                                 archive_config& out) {
  simdjson::dom::object obj;
  if (value.get_object().get(obj)) {
    return rd.expected("archive", "an object {\"dir\",\"max_bytes\"}", value);
  }
  archive_config a;
  for (auto [k, v] : obj) {
    const std::string f = "archive." + std::string(k);
    if (k == "dir") {
      auto s = rd.str(f, v);
      if (!s) return std::unexpected(s.error());
      if (s->empty())
        return config_error(rd.file, f, "expected a folder path, got an empty string");
      a.dir = resolve_against(rd.base, *s);
    } else if (k == "max_bytes") {
      auto n = rd.uint(f, v, 0, UINT64_MAX);
      if (!n) return std::unexpected(n.error());
      a.max_bytes = *n;
    } else {
      return config_error(rd.file, f, "unknown key (expected dir or max_bytes)");
    }
  }
  if (a.dir.empty()) return config_error(rd.file, "archive", "missing \"dir\"");
  out = std::move(a);
  return {};
}

}  // namespace

std::string normalize_path(const std::string& path) {
  fs::path p(path);
  if (!p.is_absolute()) p = fs::path(cwd()) / p;
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

result<void> load_config_file(const std::string& path, daemon_options& out) {
  simdjson::padded_string text;
  if (simdjson::padded_string::load(path).get(text) != simdjson::SUCCESS) {
    return config_error(path, {},
                        std::string("cannot read the configuration file: ") + std::strerror(errno));
  }
  // simdjson says what is wrong but not where: our own scan finds the line
  // and column of a syntax error and of every value.
  const config_locations where = config_locations::scan(std::string_view(text));
  if (const auto& bad = where.syntax_error()) {
    return make_error(errc::usage, with_position(path, bad->at), no_record, no_offset,
                      "not valid JSON: " + bad->message);
  }
  const located_config located{&path, &where};
  current_config = &located;
  struct reset_current {
    ~reset_current() { current_config = nullptr; }
  } reset_at_exit;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(text).get(doc)) {
    // Something our scan accepts: a number out of range, or worse (no position).
    if (err == simdjson::NUMBER_ERROR && where.first_huge_number().known()) {
      return make_error(errc::usage, with_position(path, where.first_huge_number()), no_record,
                        no_offset, "not valid JSON: number out of range");
    }
    return make_error(errc::usage, path, no_record, no_offset,
                      std::string("not valid JSON: ") + simdjson::error_message(err));
  }
  config_reader rd{path, fs::path(normalize_path(path)).parent_path().string()};
  simdjson::dom::object root;
  if (doc.get_object().get(root)) return rd.expected("(top level)", "an object", doc);
  for (auto [key_sv, value] : root) {
    std::string key(key_sv);
    if (key == "watch") {
      simdjson::dom::array arr;
      if (value.get_array().get(arr)) return rd.expected(key, "an array of paths", value);
      std::size_t i = 0;
      for (auto e : arr) {
        auto s = rd.str(key + "[" + std::to_string(i++) + "]", e);
        if (!s) return std::unexpected(s.error());
        out.watch.push_back(resolve_against(rd.base, *s));
      }
    } else if (key == "pairs") {
      simdjson::dom::array arr;
      if (value.get_array().get(arr)) return rd.expected(key, "an array of pair objects", value);
      std::size_t i = 0;
      for (auto e : arr) {
        std::string at = key + "[" + std::to_string(i++) + "]";
        simdjson::dom::object obj;
        if (e.get_object().get(obj)) {
          return rd.expected(at, "an object {\"name\",\"sample\",\"benchmark\"}", e);
        }
        pair_config p;
        for (auto [k, v] : obj) {
          std::string f = at + "." + std::string(k);
          auto s = rd.str(f, v);
          if (!s) return std::unexpected(s.error());
          if (k == "name") {
            p.name = *s;
          } else if (k == "sample") {
            p.sample = resolve_against(rd.base, *s);
          } else if (k == "benchmark") {
            p.benchmark = resolve_against(rd.base, *s);
          } else {
            return config_error(path, f, "unknown key (expected name, sample or benchmark)");
          }
        }
        if (p.sample.empty()) return config_error(path, at, "missing \"sample\"");
        if (p.benchmark.empty()) return config_error(path, at, "missing \"benchmark\"");
        if (p.name.empty()) p.name = p.sample + "=" + p.benchmark;
        out.pairs.push_back(std::move(p));
      }
    } else if (key == "state_dir" || key == "socket" || key == "events_log") {
      auto s = rd.str(key, value);
      if (!s) return std::unexpected(s.error());
      std::string v = resolve_against(rd.base, *s);
      if (key == "state_dir") out.state_dir = v;
      if (key == "socket") out.socket = v;
      if (key == "events_log") out.events_log = v;
    } else if (key == "quiet_ms" || key == "poll_ms") {
      auto v = rd.uint(key, value, 10, 86'400'000);
      if (!v) return std::unexpected(v.error());
      auto ms = std::chrono::milliseconds(static_cast<std::int64_t>(*v));
      if (key == "quiet_ms") out.quiet = ms;
      if (key == "poll_ms") out.poll = ms;
    } else if (key == "keep_runs") {
      auto v = rd.uint(key, value, 1, 1'000'000);
      if (!v) return std::unexpected(v.error());
      out.keep_runs = static_cast<std::uint32_t>(*v);
    } else if (key == "workers") {
      auto v = rd.uint(key, value, 0, 256);
      if (!v) return std::unexpected(v.error());
      out.workers = static_cast<unsigned>(*v);
    } else if (key == "cos_min" || key == "rmse_max") {
      auto v = rd.number(key, value);
      if (!v) return std::unexpected(v.error());
      if (key == "cos_min") out.thresholds.cos_min = *v;
      if (key == "rmse_max") out.thresholds.rmse_max = *v;
    } else if (key == "allow_uids") {
      simdjson::dom::array arr;
      if (value.get_array().get(arr)) return rd.expected(key, "an array of uids", value);
      std::size_t i = 0;
      for (auto e : arr) {
        auto v = rd.uint(key + "[" + std::to_string(i++) + "]", e, 0, 0xFFFFFFFEu);
        if (!v) return std::unexpected(v.error());
        out.allow_uids.push_back(static_cast<uid_t>(*v));
      }
    } else if (key == "metrics") {
      if (auto r = read_metrics_config(rd, value, out.metrics); !r) return r;
    } else if (key == "archive") {
      if (auto r = read_archive_config(rd, value, out.archive); !r) return r;
    } else {
      return config_error(path, key,
                          "unknown key (expected watch, pairs, state_dir, socket, events_log, "
                          "quiet_ms, poll_ms, keep_runs, workers, cos_min, rmse_max, allow_uids, "
                          "metrics, archive)");
    }
  }
  return {};
}

const char* usage_text() noexcept {
  return R"(Usage: sigdumpd [OPTIONS]

Watches folders and files where tensor dumps are written, indexes each dump
as it grows, compares configured sample/benchmark pairs layer by layer as
soon as each layer is complete, keeps every run's results in the state
folder and streams events to clients over a Unix socket.

Options:
  --watch PATH           watch a folder (every dump inside) or one dump file;
                         repeatable; a folder that does not exist yet is
                         picked up when it appears
  --pair [NAME:]SAMPLE=BENCHMARK
                         compare SAMPLE against BENCHMARK as layers arrive;
                         each side is a dump file or a folder holding one
                         (watched automatically); a file may be the sample
                         of several pairs
  --config FILE          JSON configuration (default
                         $XDG_CONFIG_HOME/sigdump/sigdumpd.json if it exists);
                         see docs/configuration.md
  --state-dir DIR        where runs are persisted and the lock lives (default
                         $XDG_STATE_HOME/sigdump, else ~/.local/state/sigdump)
  --socket PATH          Unix socket to listen on (default: $SIGDUMP_SOCKET,
                         the socket-activation socket, $XDG_RUNTIME_DIR/sigdump/sock)
  --events-log FILE      append every published event to FILE, one JSON
                         object per line (same objects as on the socket,
                         without "id")
  --quiet-ms N           a run ends when its file is unchanged this long
                         (default 3000)
  --poll-ms N            period of the stat timer over tracked files (default 200)
  --keep-runs N          persisted runs kept (default 200)
  --workers N            threads computing metrics (default min(4, cores))
  --cos-min X            COS below X is suspect (default 0.99)
  --rmse-max X           RMSE above X is suspect (default 0.1)
  --metrics-dir DIR      write DIR/sigdumpd.prom (Prometheus text format) for
                         node_exporter's textfile collector; see docs/monitoring.md
  --metrics-interval-ms N
                         rewrite that file every N ms (default 5000; also
                         after each run ends and once more at shutdown)
  --archive-dir DIR      copy every run's dump into DIR as it grows, so a run
                         the simulator overwrites can still be queried (see
                         docs/configuration.md, "Archive")
  --archive-max-bytes N  byte budget of the archive folder: the oldest
                         archived runs are deleted past it (default 10 GiB;
                         0: no budget)
  --foreground           stay in the foreground (sigdumpd never forks; kept
                         for unit files and scripts)
  --debug                verbose logging
  --help                 this text
  --version              print the version and the protocol version

Environment:
  SIGDUMP_EVENT_LOOP=epoll   use epoll instead of io_uring
  SIGDUMP_SOCKET             socket path when --socket is not given

Signals: SIGTERM/SIGINT stop cleanly (state flushed, socket and lock removed);
SIGHUP re-reads the configuration without losing runs.

Exit status: 0 after a clean stop, 2 for bad usage or configuration, or when
another sigdumpd holds the state folder's lock.
)";
}

result<cli_action> parse_command_line(int argc, char** argv, daemon_options& out) {
  const std::string base = cwd();
  std::string config;
  bool config_given = false;
  daemon_options cli;
  bool have_state = false, have_quiet = false, have_poll = false, have_keep = false,
       have_workers = false, have_cos = false, have_rmse = false;
  bool have_metrics_interval = false;
  bool have_archive_max = false;
  for (int i = 1; i < argc; ++i) cli.cli_args.emplace_back(argv[i]);
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_inline = false;
    if (arg.rfind("--", 0) == 0) {
      auto eq = arg.find('=');
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_inline = true;
      }
    }
    auto need = [&](const char* opt) -> result<std::string> {
      if (has_inline) return value;
      if (i + 1 >= argc) return usage_error(std::string(opt) + ": missing value");
      return std::string(argv[++i]);
    };
    auto need_uint = [&](const char* opt, std::uint64_t min) -> result<std::uint64_t> {
      auto v = need(opt);
      if (!v) return std::unexpected(v.error());
      std::uint64_t n = 0;
      if (!parse_uint(*v, n) || n < min) {
        return usage_error(std::string(opt) + ": expected an integer >= " + std::to_string(min) +
                           ", got '" + *v + "'");
      }
      return n;
    };
    auto need_double = [&](const char* opt) -> result<double> {
      auto v = need(opt);
      if (!v) return std::unexpected(v.error());
      double d = 0;
      if (!parse_double(*v, d)) {
        return usage_error(std::string(opt) + ": expected a number, got '" + *v + "'");
      }
      return d;
    };
    if (arg == "--help" || arg == "-h") return cli_action::help;
    if (arg == "--version") return cli_action::version;
    if (arg == "--foreground" || arg == "-f") {
      cli.foreground = true;
    } else if (arg == "--debug") {
      cli.debug = true;
    } else if (arg == "--watch") {
      auto v = need("--watch");
      if (!v) return std::unexpected(v.error());
      if (v->empty()) return usage_error("--watch: empty path");
      cli.watch.push_back(resolve_against(base, *v));
    } else if (arg == "--pair") {
      auto v = need("--pair");
      if (!v) return std::unexpected(v.error());
      auto p = parse_pair_arg(*v, base);
      if (!p) return std::unexpected(p.error());
      cli.pairs.push_back(std::move(*p));
    } else if (arg == "--config") {
      auto v = need("--config");
      if (!v) return std::unexpected(v.error());
      config = resolve_against(base, *v);
      config_given = true;
    } else if (arg == "--state-dir") {
      auto v = need("--state-dir");
      if (!v) return std::unexpected(v.error());
      cli.state_dir = resolve_against(base, *v);
      have_state = true;
    } else if (arg == "--socket") {
      auto v = need("--socket");
      if (!v) return std::unexpected(v.error());
      cli.socket = resolve_against(base, *v);
    } else if (arg == "--events-log") {
      auto v = need("--events-log");
      if (!v) return std::unexpected(v.error());
      cli.events_log = resolve_against(base, *v);
    } else if (arg == "--quiet-ms") {
      auto v = need_uint("--quiet-ms", 10);
      if (!v) return std::unexpected(v.error());
      cli.quiet = std::chrono::milliseconds(static_cast<std::int64_t>(*v));
      have_quiet = true;
    } else if (arg == "--poll-ms") {
      auto v = need_uint("--poll-ms", 10);
      if (!v) return std::unexpected(v.error());
      cli.poll = std::chrono::milliseconds(static_cast<std::int64_t>(*v));
      have_poll = true;
    } else if (arg == "--keep-runs") {
      auto v = need_uint("--keep-runs", 1);
      if (!v) return std::unexpected(v.error());
      cli.keep_runs = static_cast<std::uint32_t>(std::min<std::uint64_t>(*v, 1'000'000));
      have_keep = true;
    } else if (arg == "--workers") {
      auto v = need_uint("--workers", 0);
      if (!v) return std::unexpected(v.error());
      cli.workers = static_cast<unsigned>(std::min<std::uint64_t>(*v, 256));
      have_workers = true;
    } else if (arg == "--cos-min") {
      auto v = need_double("--cos-min");
      if (!v) return std::unexpected(v.error());
      cli.thresholds.cos_min = *v;
      have_cos = true;
    } else if (arg == "--rmse-max") {
      auto v = need_double("--rmse-max");
      if (!v) return std::unexpected(v.error());
      cli.thresholds.rmse_max = *v;
      have_rmse = true;
    } else if (arg == "--metrics-dir") {
      auto v = need("--metrics-dir");
      if (!v) return std::unexpected(v.error());
      if (v->empty()) return usage_error("--metrics-dir: empty path");
      cli.metrics.textfile_dir = resolve_against(base, *v);
    } else if (arg == "--metrics-interval-ms") {
      auto v = need_uint("--metrics-interval-ms", 10);
      if (!v) return std::unexpected(v.error());
      cli.metrics.interval = std::chrono::milliseconds(
          static_cast<std::int64_t>(std::min<std::uint64_t>(*v, 86'400'000)));
      have_metrics_interval = true;
    } else if (arg == "--archive-dir") {
      auto v = need("--archive-dir");
      if (!v) return std::unexpected(v.error());
      if (v->empty()) return usage_error("--archive-dir: empty path");
      cli.archive.dir = resolve_against(base, *v);
    } else if (arg == "--archive-max-bytes") {
      auto v = need_uint("--archive-max-bytes", 0);
      if (!v) return std::unexpected(v.error());
      cli.archive.max_bytes = *v;
      have_archive_max = true;
    } else {
      return usage_error("unknown option '" + arg + "' (see --help)");
    }
  }

  daemon_options merged;
  if (!config_given) {
    std::string def = default_config_path();
    std::error_code ec;
    if (!def.empty() && fs::exists(def, ec)) config = def;
  }
  if (!config.empty()) {
    if (auto r = load_config_file(config, merged); !r) return std::unexpected(r.error());
    merged.config_path = config;
  }
  // Lists concatenate (file first); scalars given on the command line win.
  merged.watch.insert(merged.watch.end(), cli.watch.begin(), cli.watch.end());
  merged.pairs.insert(merged.pairs.end(), cli.pairs.begin(), cli.pairs.end());
  if (have_state || merged.state_dir.empty()) merged.state_dir = cli.state_dir;
  if (merged.state_dir.empty()) merged.state_dir = default_state_dir();
  if (!cli.socket.empty()) merged.socket = cli.socket;
  if (!cli.events_log.empty()) merged.events_log = cli.events_log;
  if (have_quiet) merged.quiet = cli.quiet;
  if (have_poll) merged.poll = cli.poll;
  if (have_keep) merged.keep_runs = cli.keep_runs;
  if (have_workers) merged.workers = cli.workers;
  if (have_cos) merged.thresholds.cos_min = cli.thresholds.cos_min;
  if (have_rmse) merged.thresholds.rmse_max = cli.thresholds.rmse_max;
  if (!cli.metrics.textfile_dir.empty()) merged.metrics.textfile_dir = cli.metrics.textfile_dir;
  if (have_metrics_interval) merged.metrics.interval = cli.metrics.interval;
  if (!cli.archive.dir.empty()) merged.archive.dir = cli.archive.dir;
  if (have_archive_max) merged.archive.max_bytes = cli.archive.max_bytes;
  merged.foreground = cli.foreground;
  merged.debug = cli.debug;
  merged.cli_args = std::move(cli.cli_args);
  // A file may be the sample of several pairs (each gets its own run).
  for (std::size_t i = 0; i < merged.pairs.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (merged.pairs[i].name == merged.pairs[j].name) {
        return usage_error("two pairs are named '" + merged.pairs[i].name + "'");
      }
    }
  }
  out = std::move(merged);
  return cli_action::run;
}

}  // namespace sigdump::daemon
