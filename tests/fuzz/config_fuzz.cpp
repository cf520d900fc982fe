// Fuzz target for sigdumpd's configuration: the input is a configuration
// file, and the same bytes split at NULs are a command line. Invariants: no
// crash, no exception, no undefined behaviour; every refusal names the
// file (for the file) and has a message.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "config/daemon_options.h"
#include "fuzz_input.h"

namespace {

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "config_fuzz: invariant broken: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // No configuration file of the machine's user takes part.
  ::setenv("XDG_CONFIG_HOME", "/nonexistent/sigdump-config-fuzz", 1);
  const sigdump::fuzz::input_file file(data, size);
  if (file.path().empty()) return 0;
  const std::string& path = file.path();
  {
    sigdump::daemon::daemon_options options;
    auto r = sigdump::daemon::load_config_file(path, options);
    if (!r && (r.error().message.empty() || r.error().describe().find(path) == std::string::npos)) {
      broken("a configuration error without the file or a message");
    }
  }

  // The same bytes as arguments: "sigdumpd ARG ARG ...", split at NULs.
  std::vector<std::string> args{"sigdumpd"};
  std::string cur;
  for (std::size_t i = 0; i < size && args.size() < 64; ++i) {
    if (data[i] == 0) {
      args.push_back(cur);
      cur.clear();
    } else {
      cur += static_cast<char>(data[i]);
    }
  }
  if (!cur.empty()) args.push_back(cur);
  std::vector<char*> argv;
  for (auto& a : args) {
    // --help/--version print and are not errors; --config would read files.
    if (a.starts_with("--help") || a.starts_with("--version") || a.starts_with("--config") ||
        a.starts_with("--list-options") || a == "-h" || a == "-V") {
      a = "--foreground";
    }
    argv.push_back(a.data());
  }
  sigdump::daemon::daemon_options options;
  auto r = sigdump::daemon::parse_command_line(static_cast<int>(argv.size()), argv.data(), options);
  if (!r && r.error().message.empty()) broken("a command-line error without a message");
  return 0;
}
