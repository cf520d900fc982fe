// The CLI's command registry: each command lives in its own cmd_*.cpp and
// registers itself with a static `command_registrar`.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sigdump::cli {

/* Exit codes shared by every command. */
inline constexpr int exit_ok = 0;
inline constexpr int exit_findings = 1;  // suspect layers, problems found
inline constexpr int exit_error = 2;     // bad usage, unreadable input, no daemon

struct command {
  std::string name;
  std::string synopsis;  // one line for "sigdump --help"
  std::string help;      // full text for "sigdump NAME --help"
  std::function<int(const std::vector<std::string>& args)> run;
  bool local = false;  // works on this machine only (files, the demo): no --host
};

std::map<std::string, command>& commands();

struct command_registrar {
  explicit command_registrar(command c);
};

/* Prints "sigdump: error: MESSAGE" on stderr and returns exit_error. */
int fail(std::string_view message);
/* Prints "sigdump: warning: MESSAGE" on stderr. */
void warn(std::string_view message);

}  // namespace sigdump::cli
