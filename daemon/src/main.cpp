// sigdumpd: see daemon_main.cpp for the life cycle and --help for usage.
#include <cstdio>

#include "config/daemon_options.h"
#include "daemon_main.h"
#include "platform/log.h"
#include "sigdump/isa.h"
#include "sigdump/version.h"

int main(int argc, char** argv) {
  using namespace sigdump::daemon;
  daemon_options options;
  auto action = parse_command_line(argc, argv, options);
  if (!action) {
    const sigdump::error& e = action.error();
    if (!e.file.empty() && e.record == sigdump::no_record && e.offset == sigdump::no_offset) {
      // A configuration file error: "FILE:LINE:COLUMN: error: FIELD: ...", the
      // form editors jump to.
      std::fprintf(stderr, "%s: error: %s\n", e.file.c_str(), e.message.c_str());
    } else {
      std::fprintf(stderr, "sigdumpd: error: %s\n", e.describe().c_str());
    }
    return 2;
  }
  switch (*action) {
    case cli_action::help: std::fputs(usage_text(), stdout); return 0;
    case cli_action::version:
      std::printf("sigdumpd %s (protocol %d)\n", sigdump::version_string,
                  sigdump::protocol_version);
      return 0;
    case cli_action::list_options: std::fputs(option_list_text().c_str(), stdout); return 0;
    case cli_action::run: break;
  }
  // SIGDUMP_ISA naming a kernel variant this CPU cannot run: refuse to start.
  if (auto isa = sigdump::active_isa(); !isa) {
    std::fprintf(stderr, "sigdumpd: error: %s\n", isa.error().describe().c_str());
    return 2;
  }
  return run_daemon(options);
}
