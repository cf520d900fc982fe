// The command line, read through the option table, merged over the
// configuration file.
#include "config/daemon_options.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

#include "config/option_table.h"
#include "config/paths.h"

namespace sigdump::daemon {

namespace {

std::unexpected<error> usage_error(std::string message) {
  return make_error(errc::usage, {}, no_record, no_offset, std::move(message));
}

bool parse_uint(std::string_view s, std::uint64_t& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool parse_double(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

// "NAME:SAMPLE=BENCHMARK". A ':' inside a path before the '=' that contains
// '/' is a path, not a name; a pair without a name is refused with the fix
// spelled out, since every client (subscribe, wait, query) selects by it.
result<pair_config> parse_pair_arg(std::string_view opt, const std::string& arg,
                                   const std::string& base) {
  const std::string o(opt);
  auto eq = arg.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size()) {
    return usage_error(o + ": expected NAME:SAMPLE=BENCHMARK, got '" + arg + "'");
  }
  if (arg.find('=', eq + 1) != std::string::npos) {
    return usage_error(o + ": more than one '=' in '" + arg +
                       "': which one separates the sample from the benchmark? (a path with "
                       "'=' in it can be given in the configuration file's \"pairs\")");
  }
  std::string left = arg.substr(0, eq);
  pair_config p;
  auto colon = left.find(':');
  if (colon != std::string::npos && left.substr(0, colon).find('/') == std::string::npos) {
    p.name = left.substr(0, colon);
    left = left.substr(colon + 1);
  }
  if (p.name.empty()) {
    const std::string paths = colon == 0 ? arg.substr(1) : arg;
    return usage_error(o + " '" + arg + "' needs a name: " + o + " NAME:" + paths);
  }
  if (left.empty()) return usage_error(o + ": empty sample path in '" + arg + "'");
  p.sample = resolve_against(base, left);
  p.benchmark = resolve_against(base, arg.substr(eq + 1));
  if (p.sample == p.benchmark) {
    return usage_error(o + ": the sample and the benchmark are the same file in '" + arg + "'");
  }
  return p;
}

// The value `text` of option o as given on the command line.
result<option_value> read_value(const option_spec& o, const std::string& text,
                                const std::string& base) {
  const std::string name(o.name);
  option_value v;
  switch (o.kind) {
    case arg_kind::flag: break;
    case arg_kind::path:
      if (text.empty() &&
          (o.empty == empty_path::rejected || o.empty == empty_path::rejected_on_command_line)) {
        return usage_error(name + ": empty path");
      }
      v.path = resolve_against(base, text);
      break;
    case arg_kind::count:
      if (!parse_uint(text, v.count) || v.count < o.min) {
        return usage_error(name + ": expected an integer >= " + std::to_string(o.min) + ", got '" +
                           text + "'");
      }
      if (o.cli_above_max == above_max::clamped) v.count = std::min(v.count, o.max);
      break;
    case arg_kind::number:
      if (!parse_double(text, v.number)) {
        return usage_error(name + ": expected a number, got '" + text + "'");
      }
      if (o.number_problem != nullptr) {
        if (std::string why = o.number_problem(name, v.number); !why.empty()) {
          return usage_error(why);
        }
      }
      break;
    case arg_kind::pair: {
      auto p = parse_pair_arg(o.name, text, base);
      if (!p) return std::unexpected(p.error());
      v.pair = std::move(*p);
      break;
    }
    case arg_kind::trigger: {
      auto t = parse_trigger_arg(o.name, text);
      if (!t) return usage_error(t.error());
      v.trigger = std::move(*t);
      break;
    }
  }
  return v;
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

// Names the command line's triggers and checks every trigger's pair.
trigger_problem check_merged_triggers(daemon_options& merged) {
  std::vector<std::string> pair_names;
  for (const auto& p : merged.pairs) pair_names.push_back(p.name);
  return check_triggers(merged.triggers, pair_names);
}

}  // namespace

result<cli_action> parse_command_line(int argc, char** argv, daemon_options& out) {
  const std::string base = current_dir();
  // Every option given, its value checked, in command-line order.
  struct given_option {
    const option_spec* spec;
    option_value value;
  };
  std::vector<given_option> given;
  std::optional<std::string> config;  // --config's file, when given
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::optional<std::string> inline_value;
    if (arg.starts_with("--")) {
      if (auto eq = arg.find('='); eq != std::string::npos) {
        inline_value = arg.substr(eq + 1);
        arg.resize(eq);
      }
    }
    const option_spec* o = find_option(arg);
    if (o == nullptr) return usage_error("unknown option '" + arg + "' (see --help)");
    if (o->action != cli_action::run) return o->action;
    option_value v;
    if (o->kind != arg_kind::flag) {
      if (!inline_value) {
        if (i + 1 >= argc) return usage_error(std::string(o->name) + ": missing value");
        inline_value = argv[++i];
      }
      auto r = read_value(*o, *inline_value, base);
      if (!r) return std::unexpected(r.error());
      v = std::move(*r);
    }
    if (o->name == "--config") config = v.path;
    given.push_back({o, std::move(v)});
  }

  daemon_options merged;
  if (!config) {
    std::string def = default_config_path();
    std::error_code ec;
    config = !def.empty() && std::filesystem::exists(def, ec) ? def : std::string();
  }
  if (!config->empty()) {
    if (auto r = load_config_file(*config, merged); !r) return std::unexpected(r.error());
    merged.config_path = *config;
  }
  // The command line over the file: a value given there wins, a list
  // (watch, pairs) adds to the file's.
  for (const given_option& g : given) {
    if (g.spec->empty == empty_path::ignored_on_command_line && g.value.path.empty()) continue;
    g.spec->apply(merged, g.value);
  }
  if (merged.state_dir.empty()) merged.state_dir = default_state_dir();
  merged.cli_args.assign(argv + std::min(argc, 1), argv + argc);
  // A file may be the sample of several pairs (each gets its own run).
  for (std::size_t i = 0; i < merged.pairs.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (merged.pairs[i].name == merged.pairs[j].name) {
        return usage_error("two pairs are named '" + merged.pairs[i].name + "'");
      }
    }
  }
  if (auto bad = check_merged_triggers(merged); !bad.field.empty()) {
    // A file's trigger: the error names the file.
    const bool in_file = bad.field.starts_with("triggers[") && !merged.config_path.empty();
    return make_error(errc::usage, in_file ? merged.config_path : std::string(), no_record,
                      no_offset, bad.field + ": " + bad.message);
  }
  out = std::move(merged);
  return cli_action::run;
}

}  // namespace sigdump::daemon
