// --help and --list-options, both written from the option table.
#include <string>
#include <string_view>

#include "config/daemon_options.h"
#include "config/option_table.h"

namespace sigdump::daemon {

namespace {

constexpr std::string_view usage_head = R"(Usage: sigdumpd [OPTIONS]

Watches folders and files where tensor dumps are written, indexes each dump
as it grows, compares configured sample/benchmark pairs layer by layer as
soon as each layer is complete, keeps every run's results in the state
folder and streams events to clients over a Unix socket.

Options:
)";

constexpr std::string_view usage_tail = R"(
Environment:
  SIGDUMP_EVENT_LOOP=epoll   use epoll instead of io_uring
  SIGDUMP_SOCKET             socket path when --socket is not given

Signals: SIGTERM/SIGINT stop cleanly (state flushed, socket and lock removed);
SIGHUP re-reads the configuration without losing runs.

Exit status: 0 after a clean stop, 2 for bad usage or configuration, or when
another sigdumpd holds the state folder's lock.
)";

// "  --name METAVAR" then the help from this column; a longer label puts
// the help on the next line.
constexpr std::size_t help_column = 25;

std::string render_usage() {
  std::string out(usage_head);
  for (const option_spec& o : option_table()) {
    if (o.name.empty() || o.help.empty()) continue;
    std::string label = "  " + std::string(o.name);
    if (!o.metavar.empty()) label.append(" ").append(o.metavar);
    out += label;
    if (label.size() + 2 <= help_column) {
      out.append(help_column - label.size(), ' ');
    } else {
      out.append("\n").append(help_column, ' ');
    }
    std::string_view help = o.help;
    for (std::size_t nl; (nl = help.find('\n')) != std::string_view::npos;) {
      out.append(help.substr(0, nl)).append("\n").append(help_column, ' ');
      help.remove_prefix(nl + 1);
    }
    out.append(help).append("\n");
  }
  out += usage_tail;
  return out;
}

}  // namespace

const char* usage_text() noexcept {
  static const std::string text = render_usage();
  return text.c_str();
}

std::string option_list_text() {
  std::string out;
  for (const option_spec& o : option_table()) {
    if (o.name.empty() || o.help.empty()) continue;
    for (std::string_view spelling : {o.name, o.alias}) {
      if (spelling.empty()) continue;
      out.append(spelling).append(" ").append(completion_kind(o)).append("\n");
    }
  }
  return out;
}

}  // namespace sigdump::daemon
