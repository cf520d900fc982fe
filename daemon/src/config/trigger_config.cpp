// Reading triggers: the configuration file's "triggers" objects and the
// command line's --on-first-bad.
#include "config/trigger_config.h"

#include <simdjson.h>

#include <algorithm>

namespace sigdump::daemon {

namespace {

constexpr trigger_on all_events[] = {trigger_on::first_bad, trigger_on::suspect,
                                     trigger_on::run_end, trigger_on::run_start};

std::unexpected<trigger_problem> problem(std::string field, std::string message) {
  return std::unexpected(trigger_problem{std::move(field), std::move(message)});
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// The argv of a JSON array of strings; a message when it is not one.
std::expected<std::vector<std::string>, std::string> command_of(const simdjson::dom::element& e) {
  simdjson::dom::array arr;
  if (e.get_array().get(arr)) return std::unexpected("expected an array of strings");
  std::vector<std::string> argv;
  for (auto item : arr) {
    std::string_view s;
    if (item.get_string().get(s)) return std::unexpected("expected an array of strings");
    argv.emplace_back(s);
  }
  if (argv.empty()) return std::unexpected("expected a program and its arguments, got []");
  if (argv.front().empty()) return std::unexpected("the program (first element) is empty");
  return argv;
}

}  // namespace

const char* trigger_on_name(trigger_on on) noexcept {
  switch (on) {
    case trigger_on::first_bad: return "first_bad";
    case trigger_on::suspect: return "suspect";
    case trigger_on::run_end: return "run_end";
    case trigger_on::run_start: return "run_start";
  }
  return "first_bad";
}

std::expected<trigger_config, trigger_problem> parse_trigger_object(
    const std::string& field, const simdjson::dom::element& e) {
  simdjson::dom::object obj;
  if (e.get_object().get(obj)) {
    return problem(field, "expected an object {\"name\",\"on\",\"command\",...}");
  }
  trigger_config t;
  bool named = false, on_given = false, command_given = false;
  for (auto [k, v] : obj) {
    const std::string f = field + "." + std::string(k);
    std::string_view s;
    if (k == "name" || k == "on" || k == "pair") {
      if (v.get_string().get(s)) return problem(f, "expected a string");
      if (s.empty()) return problem(f, "expected a non-empty string, got \"\"");
    }
    if (k == "name") {
      t.name = std::string(s);
      named = true;
    } else if (k == "on") {
      auto it =
          std::ranges::find_if(all_events, [&](trigger_on o) { return trigger_on_name(o) == s; });
      if (it == std::end(all_events)) {
        return problem(f, "expected first_bad, suspect, run_end or run_start, got " + quoted(s));
      }
      t.on = *it;
      on_given = true;
    } else if (k == "pair") {
      t.pair = std::string(s);
    } else if (k == "command") {
      auto argv = command_of(v);
      if (!argv) return problem(f, argv.error());
      t.command = std::move(*argv);
      command_given = true;
    } else if (k == "timeout_ms") {
      std::uint64_t ms = 0;
      std::int64_t negative = 0;
      if (v.get_uint64().get(ms)) {
        if (!v.get_int64().get(negative)) {
          return problem(f, "expected an integer in [" + std::to_string(trigger_timeout_min_ms) +
                                ", " + std::to_string(trigger_timeout_max_ms) + "], got " +
                                std::to_string(negative));
        }
        return problem(f, "expected a non-negative integer");
      }
      if (ms < trigger_timeout_min_ms || ms > trigger_timeout_max_ms) {
        return problem(f, "expected an integer in [" + std::to_string(trigger_timeout_min_ms) +
                              ", " + std::to_string(trigger_timeout_max_ms) + "], got " +
                              std::to_string(ms));
      }
      t.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(ms));
    } else {
      return problem(f, "unknown key (expected name, on, pair, command or timeout_ms)");
    }
  }
  if (!named) return problem(field, "missing \"name\"");
  if (!on_given) return problem(field, "missing \"on\"");
  if (!command_given) return problem(field, "missing \"command\"");
  return t;
}

std::expected<trigger_config, std::string> parse_trigger_arg(std::string_view option,
                                                             const std::string& cmd) {
  const std::string o(option);
  trigger_config t;
  t.on = trigger_on::first_bad;
  if (cmd.starts_with('[')) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(cmd).get(doc)) {
      return std::unexpected(o + ": not a valid JSON array: '" + cmd + "'");
    }
    auto argv = command_of(doc);
    if (!argv) return std::unexpected(o + ": " + argv.error() + " in '" + cmd + "'");
    t.command = std::move(*argv);
    return t;
  }
  if (cmd.empty()) return std::unexpected(o + ": empty command");
  if (cmd.find_first_of(" \t\n") != std::string::npos) {
    return std::unexpected(
        o + ": '" + cmd +
        "' has blanks and no shell splits it: give the program and its "
        "arguments as a JSON array, e.g. '[\"pkill\",\"-INT\",\"-F\",\"sim.pid\"]'");
  }
  t.command = {cmd};
  return t;
}

std::string check_triggers(std::vector<trigger_config>& triggers,
                           const std::vector<std::string>& pairs) {
  // Unnamed ones come from --on-first-bad: on-first-bad, on-first-bad-2, ...
  std::size_t unnamed = 0;
  for (auto& t : triggers) {
    if (!t.name.empty()) continue;
    t.name = ++unnamed == 1 ? "on-first-bad" : "on-first-bad-" + std::to_string(unnamed);
  }
  for (std::size_t i = 0; i < triggers.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (triggers[i].name == triggers[j].name) {
        return "two triggers are named '" + triggers[i].name + "'";
      }
    }
    const std::string& p = triggers[i].pair;
    if (!p.empty() && std::ranges::find(pairs, p) == pairs.end()) {
      std::string known;
      for (const auto& n : pairs) known += (known.empty() ? "" : ", ") + n;
      return "trigger '" + triggers[i].name + "': no pair named '" + p +
             "' (pairs: " + (known.empty() ? "none" : known) + ")";
    }
  }
  return {};
}

}  // namespace sigdump::daemon
