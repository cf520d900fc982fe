// The one list of sigdumpd's options. Each entry says how an option is
// spelled on the command line and in the configuration file, what value it
// takes, which values are refused and where the value goes. The
// command-line reader (daemon_options.cpp), the configuration-file reader
// (config_file.cpp), --help and --list-options (option_help.cpp) all walk
// it, and tests/daemon/option_docs_test.cpp checks the man page,
// docs/configuration.md and the bash completion against it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "config/daemon_options.h"

namespace sigdump::daemon {

/* What an option's value is. */
enum class arg_kind : std::uint8_t {
  flag,     // no value (command line only)
  path,     // made absolute: against the current folder on the command line,
            // the file's folder in the file; "~/" is $HOME
  count,    // a non-negative integer in [min, max]
  number,   // a floating-point number
  pair,     // NAME:SAMPLE=BENCHMARK on the command line,
            // {"name","sample","benchmark"} in the file
  trigger,  // CMD on the command line (config/trigger_config.h),
            // {"name","on","pair","command","timeout_ms"} in the file
};

/* What an empty path means. */
enum class empty_path : std::uint8_t {
  allowed,                   // a value like any other
  rejected,                  // an error on the command line and in the file
  rejected_on_command_line,  // an error on the command line, kept in the file
  ignored_on_command_line,   // "--socket=" leaves the file's value; kept in the file
};

/* A count above max on the command line (in the file it is an error). */
enum class above_max : std::uint8_t { clamped, accepted };

/* One value as read; the member set is the one of the option's kind. */
struct option_value {
  std::string path;
  std::uint64_t count = 0;
  double number = 0;
  pair_config pair;
  trigger_config trigger;
};

struct option_spec {
  std::string_view name;   // "--watch"; empty: configuration file only
  std::string_view alias;  // "-f"; empty: none
  std::string_view key;    // "watch", "metrics.interval_ms"; empty: command line only
  arg_kind kind = arg_kind::flag;
  std::string_view metavar;        // the value in --help and the man page: "PATH", "N"
  std::string_view help;           // --help text, lines split by '\n'; empty: hidden
  bool repeatable = false;         // command line: values add up; file: an array of them
  std::string_view items;          // a repeatable key: "expected an array of <items>"
  std::uint64_t min = 0;           // count: the smallest value accepted
  std::uint64_t max = UINT64_MAX;  // count: the largest value (see cli_above_max)
  above_max cli_above_max = above_max::clamped;
  empty_path empty = empty_path::allowed;
  cli_action action = cli_action::run;  // not run: the command line stops here
  // number: why a value is out of range ("" when it is fine), naming the
  // option or key given; nullptr: any number.
  std::string (*number_problem)(std::string_view option, double v) = nullptr;
  void (*apply)(daemon_options&, const option_value&) = nullptr;
};

/* A configuration-file key whose value is an object of option keys
   ("metrics" holds "metrics.interval_ms", ...). */
struct file_section {
  std::string_view name;
  std::string_view required;       // a member that must be given; empty: none
  void (*reset)(daemon_options&);  // nullptr: members change the values in place
};

/* Every option, in --help order. */
std::span<const option_spec> option_table() noexcept;

/* The object-valued keys of the configuration file. */
std::span<const file_section> file_sections() noexcept;

/* The option spelled `arg` on the command line ("--watch", "-f"), or nullptr. */
const option_spec* find_option(std::string_view arg) noexcept;

/* The option under configuration key `key` ("watch", "metrics.interval_ms"),
   or nullptr. */
const option_spec* find_key(std::string_view key) noexcept;

/* What the bash completion offers for the option's value: "file", "dir",
   "value" (nothing to offer) or "none" (a switch). */
std::string_view completion_kind(const option_spec& o) noexcept;

}  // namespace sigdump::daemon
