#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "command.h"
#include "remote.h"
#include "sigdump/isa.h"
#include "sigdump/version.h"

namespace sigdump::cli {

std::map<std::string, command>& commands() {
  static std::map<std::string, command> table;
  return table;
}

command_registrar::command_registrar(command c) {
  auto name = c.name;
  commands().emplace(std::move(name), std::move(c));
}

int fail(std::string_view message) {
  std::cerr << "sigdump: error: " << message << '\n';
  return exit_error;
}

void warn(std::string_view message) { std::cerr << "sigdump: warning: " << message << '\n'; }

namespace {

void print_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: sigdump COMMAND [ARGS...]\n"
               "\n"
               "Inspect and compare SigmaStar IPU tensor dumps, offline or live from sigdumpd.\n"
               "\n"
               "commands:\n");
  for (const auto& [name, cmd] : commands()) {
    std::fprintf(out, "  %-10s %s\n", name.c_str(), cmd.synopsis.c_str());
  }
  std::fprintf(out,
               "\n"
               "options:\n"
               "  -h, --help     show this help; 'sigdump COMMAND --help' for a command\n"
               "  --version      print the version and the protocol version\n"
               "  --host ssh://[USER@]HOST[:PORT][/SOCKET]\n"
               "                 run a live command against the sigdumpd of another machine,\n"
               "                 over ssh (default: $SIGDUMP_HOST; docs/user-guide.md)\n"
               "  --remote-sigdump PATH\n"
               "                 the sigdump program there (default: $SIGDUMP_REMOTE_BIN,\n"
               "                 else sigdump from its PATH)\n");
}

// Takes the global options before the command (--host, --remote-sigdump);
// false after printing a usage error.
bool take_global_options(std::vector<std::string>& args) {
  while (!args.empty()) {
    const std::string a = args.front();
    std::string name = a, value;
    const auto eq = a.find('=');
    if (eq != std::string::npos) name = a.substr(0, eq);
    if (name != "--host" && name != "--remote-sigdump") return true;
    args.erase(args.begin());
    if (eq != std::string::npos) {
      value = a.substr(eq + 1);
    } else if (!args.empty()) {
      value = args.front();
      args.erase(args.begin());
    } else {
      fail("option '" + name + "' needs a value; see 'sigdump --help'");
      return false;
    }
    if (name == "--host") remote::set_host(value);
    if (name == "--remote-sigdump") remote::set_remote_program(value);
  }
  return true;
}

}  // namespace
}  // namespace sigdump::cli

int main(int argc, char** argv) {
  using namespace sigdump::cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!take_global_options(args)) return exit_error;
  if (args.empty()) {
    print_usage(stderr);
    return exit_error;
  }
  const std::string& first = args.front();
  if (first == "-h" || first == "--help" || first == "help") {
    if (first == "help" && args.size() > 1) {
      auto it = commands().find(args[1]);
      if (it != commands().end()) {
        std::cout << it->second.help;
        return exit_ok;
      }
    }
    print_usage(stdout);
    return exit_ok;
  }
  if (first == "--version" || first == "-V") {
    std::printf("sigdump %s (protocol %d)\n", sigdump::version_string, sigdump::protocol_version);
    return exit_ok;
  }
  auto it = commands().find(first);
  if (it == commands().end()) {
    return fail("unknown command '" + first + "'; run 'sigdump --help' for the list");
  }
  if (it->second.local && remote::host_given()) {
    return fail("'" + first + "' works on this machine only and does not take --host; run it " +
                "on the other machine with ssh, or copy its files here");
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  for (const auto& a : rest) {
    if (a == "-h" || a == "--help") {
      std::cout << it->second.help;
      return exit_ok;
    }
  }
  // A kernel variant SIGDUMP_ISA names but this CPU cannot run stops every
  // command before it starts, not halfway through a comparison.
  if (auto isa = sigdump::active_isa(); !isa) return fail(isa.error().describe());
  try {
    return it->second.run(rest);
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}
