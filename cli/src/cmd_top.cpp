// `sigdump top`: a live view of the daemon read from its shared-memory status
// board, no socket round trip per refresh.
#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <limits>
#include <optional>
#include <string>

#include "archive_line.h"
#include "command.h"
#include "live_common.h"
#include "sigdump/ipc/status_board.h"
#include "sigdump/json_util.h"

namespace sigdump::cli {
namespace {

constexpr const char* top_help =
    R"(usage: sigdump top [--once] [--json] [--interval MS] [--board NAME] [--socket PATH]

A live view of sigdumpd, refreshed every 500 ms, read from the status board
the daemon keeps in shared memory (docs/status-board.md), so watching costs
the daemon nothing: per pair its state, run, layers compared, suspect
layers, worst COS and RMSE, the first bad layer, the latest layer and the
diagnosis, then the most recent suspect layers. q or Ctrl-C quits. When the
daemon archives runs, the header has the archive line of `sigdump status`
(asked over the socket, `status` with "only":"archive", at most every 2 s).

The board is found from the socket path (/dev/shm/sigdump-board-<uid>-<hash>);
if it is not there but the daemon answers, its name is asked from `status`.
The board is shared memory on the daemon's machine: with --host (another
machine's daemon) top refuses; run it there with 'ssh -t HOST sigdump top'.

options:
  --once          print one snapshot and exit (for scripts and tests)
  --json          with --once: the snapshot as one JSON object
  --interval MS   refresh period in milliseconds (default: 500)
  --board NAME    read this shared-memory segment instead of finding it
  --socket PATH   daemon socket (default: $SIGDUMP_SOCKET, else
                  $XDG_RUNTIME_DIR/sigdump/sock, else /tmp/sigdump-$UID/sock)
  -h, --help      show this help

exit status: 0 ok; 2 bad usage, or no daemon / no board (the message says
how to start the daemon).

examples:
  sigdump top
  sigdump top --once --json
)";

volatile std::sig_atomic_t g_quit = 0;
void on_signal(int) { g_quit = 1; }

// Raw-ish keyboard input for 'q', restored on every way out.
class terminal_mode {
 public:
  terminal_mode() {
    if (::isatty(STDIN_FILENO) != 1 || ::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios t = saved_;
    t.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    active_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
  }
  ~terminal_mode() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  terminal_mode(const terminal_mode&) = delete;
  terminal_mode& operator=(const terminal_mode&) = delete;
  bool active() const { return active_; }

 private:
  termios saved_{};
  bool active_ = false;
};

bool pid_alive(std::uint64_t pid) {
  if (pid == 0 || pid > static_cast<std::uint64_t>(std::numeric_limits<pid_t>::max())) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

std::string latest_text(const ipc::board_layer& l) {
  return std::to_string(l.index) + " " + l.name + (l.name_truncated ? "..." : "") + "  MSE " +
         live::fixed6(l.mse) + " COS " + live::fixed6(l.cos) + " RMSE " + live::fixed6(l.rmse);
}

// The daemon's archive summary, asked over the socket (the board does not
// carry it): at most every 2 s while top runs, the last answer kept between.
class archive_probe {
 public:
  explicit archive_probe(std::string sock) : sock_(std::move(sock)) {}
  /* The `archive` object of status as JSON text; empty when the daemon does
     not archive or does not answer. board_socket: the socket the board names
     (its daemon's), preferred when set. */
  const std::string& get(const std::string& board_socket) {
    if (!board_socket.empty() && board_socket != sock_) {
      sock_ = board_socket;
      client_.reset();
      asked_ = false;
    }
    const auto now = std::chrono::steady_clock::now();
    if (asked_ && now - last_ < std::chrono::seconds(2)) return json_;
    asked_ = true;
    last_ = now;
    json_.clear();
    if (!client_) {
      auto c = ipc::client::connect(sock_, std::chrono::seconds(1));
      if (!c) return json_;
      client_.emplace(std::move(*c));
    }
    auto reply = client_->call("status", R"({"only":"archive"})", std::chrono::seconds(2));
    if (!reply) {
      client_.reset();  // gone or restarted: connect again next time
      return json_;
    }
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (reply->is_error || parser.parse(reply->result).get(doc)) return json_;
    if (auto a = live::member(doc, "archive")) json_ = simdjson::minify(*a);
    return json_;
  }

 private:
  std::string sock_;
  std::optional<ipc::client> client_;
  std::string json_;
  bool asked_ = false;
  std::chrono::steady_clock::time_point last_{};
};

std::string archive_text(const std::string& archive_json) {
  if (archive_json.empty()) return {};
  simdjson::dom::parser parser;
  simdjson::dom::element a;
  if (parser.parse(archive_json).get(a)) return {};
  std::string out = live::archive_line(a) + "\n";
  const std::string last = live::str(a, "last_error");
  if (!last.empty()) out += "  last archive error: " + last + "\n";
  return out;
}

std::string render_text(const std::string& board, const ipc::board_snapshot& s, bool color,
                        const std::string& archive_json) {
  std::string out;
  char line[1024];
  const auto now_s = static_cast<std::int64_t>(std::time(nullptr));
  const double age = static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count()) /
                         1000.0 -
                     static_cast<double>(s.updated_ns) / 1e9;
  std::snprintf(line, sizeof line,
                "sigdumpd pid %llu  up %s  clock %llu  board %s  updated %.1fs ago\n",
                static_cast<unsigned long long>(s.pid),
                live::duration(now_s - static_cast<std::int64_t>(s.started)).c_str(),
                static_cast<unsigned long long>(s.clock_tick), board.c_str(), age < 0 ? 0.0 : age);
  out += line;
  out += archive_text(archive_json);
  if (s.pairs.empty()) {
    out += "no pairs yet (configure --pair NAME:SAMPLE=BENCHMARK or pairs in the configuration)\n";
    return out;
  }
  std::snprintf(line, sizeof line, "%-20s %-6s %-8s %7s %7s %10s %10s  %s\n", "PAIR", "STATE",
                "RUN", "LAYERS", "SUSPECT", "WORST COS", "WORST RMSE", "FIRST BAD");
  out += line;
  for (const auto& p : s.pairs) {
    std::string first_bad = "-";
    if (p.info.first_bad) {
      first_bad = std::to_string(p.info.first_bad->first) + " " + p.info.first_bad->second;
    }
    const bool bad = p.suspect > 0;
    std::snprintf(line, sizeof line, "%s%-20s %-6s %-8s %7u %7u %10s %10s  %s%s\n",
                  color && bad ? "\033[31m" : "", p.info.name.c_str(),
                  ipc::board_state_name(p.info.state),
                  p.info.run.empty() ? "-" : p.info.run.c_str(), p.layers, p.suspect,
                  p.layers ? live::fixed6(p.worst_cos).c_str() : "-",
                  p.layers ? live::fixed6(p.worst_rmse).c_str() : "-", first_bad.c_str(),
                  color && bad ? "\033[0m" : "");
    out += line;
    if (p.latest) out += "    latest: " + latest_text(*p.latest) + "\n";
    if (!p.info.diagnosis.empty()) out += "    diagnosis: " + p.info.diagnosis + "\n";
    // The last few suspect layers of the run, newest last.
    std::vector<const ipc::board_layer*> bad_layers;
    for (const auto& l : p.table) {
      if (l.suspect || l.error) bad_layers.push_back(&l);
    }
    const std::size_t show = std::min<std::size_t>(bad_layers.size(), 5);
    if (show > 0) {
      out +=
          "    suspect layers" + std::string(bad_layers.size() > show ? " (last 5)" : "") + ":\n";
      for (std::size_t i = bad_layers.size() - show; i < bad_layers.size(); ++i) {
        out += std::string("      ") + (color ? "\033[31m! " : "! ") + latest_text(*bad_layers[i]) +
               (color ? "\033[0m" : "") + "\n";
      }
    }
    if (p.layers_dropped)
      out += "    (layers past the board's table capacity are counted, not listed)\n";
  }
  return out;
}

std::string render_json(const std::string& board, const ipc::board_snapshot& s,
                        const std::string& archive_json) {
  json_writer w;
  w.begin_object();
  w.field("board", board);
  w.field("layout_version", s.layout_version);
  w.field("pid", s.pid);
  w.field("started", s.started);
  w.field("clock_tick", s.clock_tick);
  w.field("updated_ns", s.updated_ns);
  w.field("socket", s.socket_path);
  w.key("archive");  // the `archive` object of status; null: not archiving or no answer
  if (archive_json.empty()) {
    w.null();
  } else {
    w.raw(archive_json);
  }
  w.key("pairs").begin_array();
  auto layer = [&](const ipc::board_layer& l) {
    w.begin_object();
    w.field("index", l.index);
    w.field("name", l.name);
    w.field("name_truncated", l.name_truncated);
    w.field("mse", l.mse);
    w.field("cos", l.cos);
    w.field("rmse", l.rmse);
    w.field("suspect", l.suspect);
    w.field("error", l.error);
    w.end_object();
  };
  for (const auto& p : s.pairs) {
    w.begin_object();
    w.field("name", p.info.name);
    w.field("state", ipc::board_state_name(p.info.state));
    if (p.info.run.empty()) {
      w.field_null("run");
    } else {
      w.field("run", p.info.run);
    }
    w.field("sample", p.info.sample);
    w.field("benchmark", p.info.benchmark);
    w.field("layers", p.layers);
    w.field("suspect", p.suspect);
    w.key("first_bad");
    if (p.info.first_bad) {
      w.begin_object()
          .field("index", p.info.first_bad->first)
          .field("name", p.info.first_bad->second)
          .end_object();
    } else {
      w.null();
    }
    w.key("worst_cos");
    if (p.layers)
      w.value(p.worst_cos);
    else
      w.null();
    w.key("worst_rmse");
    if (p.layers)
      w.value(p.worst_rmse);
    else
      w.null();
    w.key("latest");
    if (p.latest)
      layer(*p.latest);
    else
      w.null();
    w.field("diagnosis", p.info.diagnosis);
    w.field("layers_dropped", p.layers_dropped);
    w.key("suspect_layers").begin_array();
    for (const auto& l : p.table) {
      if (l.suspect || l.error) layer(l);
    }
    w.end_array();
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return w.take();
}

// The board of the daemon on `sock`: by name from the socket path, else by
// asking the daemon. Prints why not and returns nullopt.
std::optional<ipc::board_reader> open_board(const std::string& sock,
                                            const std::optional<std::string>& forced,
                                            std::string& name) {
  name = forced ? *forced : ipc::board_name_for_socket(sock);
  auto r = ipc::board_reader::open(name);
  if (r) return std::move(*r);
  if (forced) {
    fail(r.error().describe());
    return std::nullopt;
  }
  // Not where the socket path says, or not the daemon's (another user's
  // segment squatting the name: the daemon then uses another name): the
  // daemon may also have been given the socket under another spelling, or
  // run without a board. Ask it, over the socket the client trusts.
  auto c = ipc::client::connect(sock, std::chrono::seconds(2));
  if (!c) {
    fail(c.error().message);
    return std::nullopt;
  }
  auto reply = c->call("status", {}, std::chrono::seconds(10));
  if (!reply || reply->is_error) {
    fail("sigdumpd on " + sock + " did not answer 'status'");
    return std::nullopt;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string asked;
  if (!parser.parse(reply->result).get(doc)) {
    if (auto d = live::member(doc, "daemon")) asked = live::str(*d, "board");
  }
  if (asked.empty()) {
    fail("sigdumpd on " + sock +
         " publishes no status board; use 'sigdump status' or 'sigdump subscribe'");
    return std::nullopt;
  }
  name = asked;
  auto again = ipc::board_reader::open(name);
  if (!again) {
    fail(again.error().describe());
    return std::nullopt;
  }
  return std::move(*again);
}

int run_top(const std::vector<std::string>& args) {
  auto a = live::parse_args(
      "top", args, {{"once", false}, {"json", false}, {"interval", true}, {"board", true}});
  if (!a) return exit_error;
  std::uint64_t interval = 500;
  if (auto v = a->get("interval")) {
    auto n = live::parse_count("top", "interval", *v);
    if (!n) return exit_error;
    interval = std::max<std::uint64_t>(*n, 50);
  }
  const bool once = a->has("once");
  if (a->has("json") && !once) return fail("--json goes with --once; see 'sigdump top --help'");
  const std::string sock = live::socket_path_of(*a);
  if (live::is_remote(sock)) {
    return fail(
        "top reads the status board in the shared memory of the daemon's machine, "
        "so it does not run against " +
        sock + "; run it there ('ssh -t HOST sigdump top'), or use 'sigdump --host " + sock +
        " status' or 'subscribe' from here");
  }
  std::string name;
  auto reader = open_board(sock, a->get("board"), name);
  if (!reader) return exit_error;
  archive_probe archive(sock);

  if (once) {
    auto snap = reader->snapshot();
    if (!snap) return fail(snap.error().describe());
    if (!pid_alive(snap->pid)) {
      return fail("status board " + name + " is stale: its daemon (pid " +
                  std::to_string(snap->pid) + ") is gone; " + ipc::no_daemon_message(sock));
    }
    std::cout << (a->has("json") ? render_json(name, *snap, archive.get(snap->socket_path)) + "\n"
                                 : render_text(name, *snap, live::color_wanted(),
                                               archive.get(snap->socket_path)));
    return exit_ok;
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  terminal_mode term;
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  const bool color = live::color_wanted();
  while (!g_quit) {
    if (reader->replaced()) {
      // The daemon restarted (new segment) or exited (none): follow it.
      auto again = ipc::board_reader::open(name);
      if (again) reader.emplace(std::move(*again));
    }
    auto snap = reader->snapshot();
    std::string screen;
    if (!snap) {
      screen = "sigdump: " + snap.error().describe() + "\n";
    } else if (!pid_alive(snap->pid)) {
      screen = "sigdumpd (pid " + std::to_string(snap->pid) +
               ") is not running; waiting for it to come back (q quits)\n";
    } else {
      screen = render_text(name, *snap, color, archive.get(snap->socket_path));
    }
    if (tty) std::fputs("\033[H\033[2J", stdout);
    std::fputs(screen.c_str(), stdout);
    if (tty)
      std::fputs("\n(q quits)", stdout);
    else
      std::fputs("\n", stdout);
    std::fflush(stdout);
    // Sleep until the next refresh, or a key, or a signal.
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(interval);
    while (!g_quit) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{STDIN_FILENO, POLLIN, 0};
      int n = ::poll(&p, term.active() ? 1 : 0, static_cast<int>(left.count()));
      if (n > 0 && (p.revents & POLLIN) != 0) {
        char ch = 0;
        if (::read(STDIN_FILENO, &ch, 1) == 1 && (ch == 'q' || ch == 'Q')) g_quit = 1;
      }
    }
  }
  if (tty) std::fputs("\n", stdout);
  return exit_ok;
}

command_registrar reg{
    command{"top", "live view of sigdumpd from its shared-memory status board", top_help, run_top}};

}  // namespace
}  // namespace sigdump::cli
