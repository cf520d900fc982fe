// Triggers: commands sigdumpd runs when something happens in a pair's run
// (docs/configuration.md, "Triggers"). This file reads them: the
// configuration file's "triggers" objects and --on-first-bad's CMD.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace simdjson::dom {
class element;
}  // namespace simdjson::dom

namespace sigdump::daemon {

/* What a trigger reacts to. */
enum class trigger_on : std::uint8_t { first_bad, suspect, run_end, run_start };

/* "first_bad", "suspect", "run_end", "run_start" */
const char* trigger_on_name(trigger_on on) noexcept;

struct trigger_config {
  std::string name;                           // unique among the triggers
  trigger_on on = trigger_on::first_bad;      // the event
  std::string pair;                           // only this pair's runs; empty: every pair
  std::vector<std::string> command;           // argv, run without a shell; never empty
  std::chrono::milliseconds timeout{60'000};  // then SIGTERM, 2 s later SIGKILL, to its group
};

/* Accepted "timeout_ms" values. */
inline constexpr std::uint64_t trigger_timeout_min_ms = 10;
inline constexpr std::uint64_t trigger_timeout_max_ms = 86'400'000;

/* Where a trigger object is wrong: the field ("triggers[0].on") and what is
   wrong with it. The configuration reader adds the file and position. */
struct trigger_problem {
  std::string field;
  std::string message;
};

/* One object of the file's "triggers" array, at `field` ("triggers[2]"). */
std::expected<trigger_config, trigger_problem> parse_trigger_object(
    const std::string& field, const simdjson::dom::element& e);

/* --on-first-bad CMD: a JSON array of strings ('["pkill","-INT","-F",
   "sim.pid"]') or one program without blanks ("notify-first-bad"); never
   split by a shell. Errors quote CMD and name `option`. */
std::expected<trigger_config, std::string> parse_trigger_arg(std::string_view option,
                                                             const std::string& cmd);

/* Gives the triggers still unnamed ("on-first-bad" from the command line) a
   name of their own and checks that the names differ and that every
   "pair" names one of `pairs`; the message of the first problem, else "". */
std::string check_triggers(std::vector<trigger_config>& triggers,
                           const std::vector<std::string>& pairs);

}  // namespace sigdump::daemon
