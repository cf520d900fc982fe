// `sigdump subscribe`: the live stream of per-layer metrics from sigdumpd.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <expected>
#include <iostream>
#include <map>
#include <set>

#include "command.h"
#include "live_common.h"
#include "sigdump/json_util.h"

namespace sigdump::cli {
namespace {

constexpr const char* subscribe_help =
    R"(usage: sigdump subscribe [--pair P] [--path FILE] [--run R] [--suspect-only]
                        [--since CLOCK|last|now] [--json] [--count N] [--until-run-end]
                        [--allow-partial] [--no-reconnect] [--socket PATH]

Streams accuracy metrics from sigdumpd the moment each layer of a watched
dump is complete: one row per layer (index, name, MSE, COS, RMSE, with '!'
and red for a suspect layer), a line when a run starts, ends or is reset
(the file was replaced, truncated or rewritten), and the diagnosis, the
coverage, the verdict, the ranked INT16 advice and any input warning at
the end of a run; a run whose results changed
after its end (a benchmark that came late) is announced again as revised. Without --since the daemon first sends the current state of
every run ("fresh instance"), then live events.

The clock of the last event seen is saved in
$XDG_STATE_HOME/sigdump/subscribe.clock (default ~/.local/state/...), one
line per socket path, so --since last resumes exactly where the previous
subscribe stopped: nothing missed, nothing twice. Ctrl-C quits.

When the connection is lost (the daemon restarts, or closed it), subscribe
says so on stderr and reconnects with backoff (0.1 s doubling up to 5 s)
until the daemon is back, then says so again. The same daemon resumes from
the last clock; a new daemon instance sends its current state, of which
only what was not shown yet is shown (layers and ends of the runs followed,
and runs that started since), so nothing is shown twice.

options:
  --pair P          only events of this pair
  --path FILE       only events of this dump file
  --run R           only events of this run
  --suspect-only    only suspect layers (and run start/end/reset lines)
  --since CLOCK     replay every event after CLOCK ("c:START:PID:TICK") first;
                    'last' uses the saved clock (fresh state if none is saved);
                    'now' shows only events published after subscribing;
                    a clock of another daemon instance gives a fresh state
  --json            print each event line exactly as the daemon sent it
                    (docs/protocol.md, "Events"); nothing else on stdout
  --count N         exit after N events
  --until-run-end   exit after the first run that ends while watching (a
                    replayed run_end of a run that ended earlier does not
                    count, nor the end of a run cut short by a rewrite, nor
                    one stopped with its daemon unless --no-reconnect),
                    with the exit status of its verdict
  --allow-partial   with --until-run-end: an incomplete run (sample layers
                    without a benchmark layer) exits 0
  --no-reconnect    exit 2 when the connection is lost instead of reconnecting
  --socket PATH     daemon socket (default: $SIGDUMP_SOCKET, else
                    $XDG_RUNTIME_DIR/sigdump/sock, else /tmp/sigdump-$UID/sock)
  -h, --help        show this help

exit status: 0 ended by --count, --until-run-end (verdict pass; with
--allow-partial also incomplete) or Ctrl-C; 1 --until-run-end and the run's
verdict is fail, incomplete or nothing_compared (docs/compare.md); 2 bad
usage, an unknown pair, path or run, no daemon at the start, or (with
--no-reconnect) the daemon went away.

examples:
  sigdump subscribe --pair mobilenet
  sigdump subscribe --since now --suspect-only
  sigdump subscribe --since last --suspect-only
  sigdump subscribe --json --until-run-end > events.ndjson
)";

// Whether a run_end's verdict is success (docs/compare.md): pass, or
// incomplete when partial runs are allowed. A run without a comparison (no
// pair: verdict null) compared nothing.
bool verdict_success(simdjson::dom::element ev, bool allow_partial) {
  const std::string v = live::str(ev, "verdict");
  return v == "pass" || (v == "incomplete" && allow_partial);
}

volatile std::sig_atomic_t g_stop = 0;

void on_signal(int) { g_stop = 1; }

// SIGINT/SIGTERM set a flag instead of killing us, so the clock gets saved;
// no SA_RESTART, so a blocked poll returns EINTR.
void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

class table_printer {
 public:
  explicit table_printer(bool color) : color_(color) {}

  // The ranked advice as `sigdump compare` shows it (the root cause, then
  // the tensors shown), and each input warning on a line of its own.
  static void print_advice_and_warnings(simdjson::dom::element ev) {
    if (auto a = live::member(ev, "advice")) {
      if (auto root = live::member(*a, "root")) {
        std::printf("   advice: %s\n", live::str(*root, "text").c_str());
      }
      simdjson::dom::array ranked;
      const std::int64_t shown = live::integer(*a, "shown").value_or(0);
      if (!(*a)["ranked"].get(ranked)) {
        std::int64_t n = 0;
        for (auto e : ranked) {
          if (n++ >= shown) break;
          std::printf("     %lld. %s  (%s)\n", static_cast<long long>(n),
                      live::str(e, "tensor").c_str(), live::str(e, "why").c_str());
        }
      }
    }
    simdjson::dom::array warnings;
    if (!ev["warnings"].get(warnings)) {
      for (auto w : warnings) std::printf("   warning: %s\n", live::str(w, "text").c_str());
    }
  }

  // Returns the suspect count of a run_end event (for --until-run-end).
  void print(simdjson::dom::element ev, const std::string& kind) {
    if (kind == "layer") {
      print_layer(ev);
    } else if (kind == "run_start") {
      std::printf("%s-- run %s started (%s)%s%s: %s%s\n", bold(), live::str(ev, "run", "?").c_str(),
                  live::str(ev, "reason", "?").c_str(), pair_text(ev).empty() ? "" : " pair ",
                  pair_text(ev).c_str(), live::str(ev, "path").c_str(), reset());
      header_due_ = true;
    } else if (kind == "run_end" || kind == "run_revised") {
      const std::string how = kind == "run_end"
                                  ? "ended (" + live::str(ev, "reason", "?") + ")"
                                  : "revised (was " + live::str(ev, "previous_verdict", "?") + ")";
      const std::string bench_run = live::str(ev, "benchmark_run");
      std::printf("%s-- run %s %s: %lld layers, %lld suspect%s%s%s\n", bold(),
                  live::str(ev, "run", "?").c_str(), how.c_str(),
                  static_cast<long long>(live::integer(ev, "layers").value_or(0)),
                  static_cast<long long>(live::integer(ev, "suspect").value_or(0)),
                  bench_run.empty() ? "" : ", against benchmark run ", bench_run.c_str(), reset());
      if (auto c = live::member(ev, "coverage")) {
        std::printf("   coverage: %s\n", live::str(*c, "text").c_str());
      }
      const std::string verdict = live::str(ev, "verdict");
      if (!verdict.empty()) std::printf("   verdict: %s\n", verdict.c_str());
      if (auto fb = live::member(ev, "first_bad")) {
        std::printf("   first bad layer: %lld %s",
                    static_cast<long long>(live::integer(*fb, "index").value_or(0)),
                    live::str(*fb, "name").c_str());
        const std::string reason = live::str(*fb, "reason");
        if (!reason.empty()) std::printf(" (%s)", reason.c_str());
        std::printf("\n");
      }
      if (auto d = live::member(ev, "diagnosis")) {
        const std::string text = live::str(*d, "text");
        if (!text.empty()) std::printf("   diagnosis: %s\n", text.c_str());
      }
      print_advice_and_warnings(ev);
      header_due_ = true;
    } else if (kind == "run_reset") {
      std::printf("%s-- run %s replaced by run %s (%s): %s%s\n", bold(),
                  live::str(ev, "previous", "?").c_str(), live::str(ev, "run", "?").c_str(),
                  live::str(ev, "reason", "?").c_str(), live::str(ev, "path").c_str(), reset());
      header_due_ = true;
    } else if (kind == "gap") {
      std::printf("-- gap: %lld events were dropped because this client read too slowly\n",
                  static_cast<long long>(live::integer(ev, "dropped").value_or(0)));
    } else if (kind == "resync") {
      std::printf("-- resync (%s): state may have changed without events; see 'sigdump status'\n",
                  live::str(ev, "reason", "?").c_str());
    } else {
      std::printf("-- %s event\n", kind.c_str());
    }
    std::fflush(stdout);
  }

 private:
  static std::string pair_text(simdjson::dom::element ev) { return live::str(ev, "pair"); }
  const char* bold() const { return color_ ? "\033[1m" : ""; }
  const char* reset() const { return color_ ? "\033[0m" : ""; }

  void print_layer(simdjson::dom::element ev) {
    auto layer = live::member(ev, "layer");
    if (!layer) return;
    if (header_due_) {
      std::printf("   %5s  %-40s %12s %10s %10s\n", "INDEX", "NAME", "MSE", "COS", "RMSE");
      header_due_ = false;
    }
    const bool suspect = live::boolean(*layer, "suspect").value_or(false);
    const std::string err = live::str(*layer, "error");
    const char* on = color_ && (suspect || !err.empty()) ? "\033[31m" : "";
    const char* off = color_ && (suspect || !err.empty()) ? "\033[0m" : "";
    std::printf("%s%c  %5lld  %-40s %12s %10s %10s%s", on, suspect || !err.empty() ? '!' : ' ',
                static_cast<long long>(live::integer(*layer, "index").value_or(0)),
                live::str(*layer, "name").c_str(), live::fixed6(live::num(*layer, "mse")).c_str(),
                live::fixed6(live::num(*layer, "cos")).c_str(),
                live::fixed6(live::num(*layer, "rmse")).c_str(), off);
    if (!err.empty()) std::printf("  not comparable: %s", err.c_str());
    std::printf("\n");
  }

  bool color_;
  bool header_due_ = true;
};

// The number N of a run id "rN" (0 for anything else).
std::uint64_t run_number(std::string_view id) {
  std::uint64_t n = 0;
  if (id.size() > 1) std::from_chars(id.data() + 1, id.data() + id.size(), n);
  return n;
}

// What a subscriber has been shown, so that the state a restarted daemon
// sends whole ("fresh_instance") after a reconnect adds only what is new:
// the layers and ends of runs already followed that were not seen yet, and
// runs that started after the first subscription.
class seen_events {
 public:
  // Runs numbered up to `n` existed before the first subscription.
  void set_first_new_run(std::uint64_t n) { first_new_run_ = n; }
  // Records ev; returns whether a replayed event of a fresh state is new.
  bool note(simdjson::dom::element ev, const std::string& kind, bool replayed) {
    const std::string id = live::str(ev, "run");
    if (id.empty()) return !replayed;
    auto it = runs_.find(id);
    if (replayed && it == runs_.end() && run_number(id) < first_new_run_) return false;
    run_seen& r = runs_[id];
    if (kind == "layer") {
      std::int64_t index = -1;
      if (auto l = live::member(ev, "layer")) index = live::integer(*l, "index").value_or(-1);
      return r.layers.insert(index).second || !replayed;
    }
    if (kind != "run_start" && kind != "run_end") return true;
    bool& flag = kind == "run_start" ? r.started : r.ended;
    const bool was = flag;
    // A run stopped with its daemon may go on in the next instance.
    if (kind == "run_start" || live::str(ev, "reason") != "stopped") flag = true;
    return !replayed || !was;
  }

 private:
  struct run_seen {
    std::set<std::int64_t> layers;
    bool started = false, ended = false;
  };
  std::map<std::string, run_seen> runs_;
  std::uint64_t first_new_run_ = 0;
};

// The newest run's number now (0: none): later runs are new to a subscriber.
std::uint64_t newest_run(ipc::client& c) {
  auto r = c.call("runs", R"({"limit":1})", std::chrono::seconds(30));
  if (!r || r->is_error) return 0;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view id;
  if (parser.parse(r->result).get(doc) || doc["runs"].at(0)["run"].get_string().get(id)) return 0;
  return run_number(id);
}

// One subscription on one connection.
struct session {
  ipc::client c;
  std::string id;     // the subscribe request's id, as events carry it
  std::string clock;  // the subscribe reply's clock
  bool fresh = false;
};

// Connects and subscribes with `since` (none: empty). A failure marked
// `transport` (a daemon that is not there, a lost connection) may be
// retried; anything else is final.
using subscribe_failure = live::request_failure;
std::expected<session, subscribe_failure> open_session(const std::string& sock,
                                                       const std::string& params_json,
                                                       std::uint64_t* newest = nullptr) {
  auto c = live::dial(sock, std::chrono::seconds(5));
  if (!c) {
    // A local daemon that is not there may come back; so may the network
    // or the daemon behind an ssh connection.
    const std::string why = c.error().describe();
    return std::unexpected(subscribe_failure{
        why, live::is_remote(sock) || why.find(ipc::no_daemon_message(sock)) != std::string::npos});
  }
  if (newest != nullptr) *newest = newest_run(*c);
  // A lost connection is retried; the daemon's error reply is final.
  auto sub = live::try_subscribe(*c, params_json);
  if (!sub) return std::unexpected(std::move(sub.error()));
  session s{std::move(*c), std::move(sub->id), {}, false};
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (!parser.parse(sub->result).get(doc)) {
    s.clock = live::str(doc, "clock");
    s.fresh = live::boolean(doc, "fresh_instance").value_or(false);
  }
  return s;
}

// The subscribe params with `since` (empty: none).
std::string subscribe_params(const live::parsed_args& a, const std::string& since) {
  json_writer params;
  params.begin_object();
  if (auto v = a.get("pair")) params.field("pair", *v);
  if (auto v = a.get("path")) params.field("path", *v);
  if (auto v = a.get("run")) params.field("run", *v);
  if (a.has("suspect-only")) params.field("suspect_only", true);
  if (!since.empty()) params.field("since", since);
  params.end_object();
  return params.str();
}

// Reconnects with backoff until the daemon answers again (or Ctrl-C).
std::expected<session, subscribe_failure> reconnect(const std::string& sock,
                                                    const std::string& params_json) {
  auto wait = std::chrono::milliseconds(100);
  for (;;) {
    auto s = open_session(sock, params_json);
    if (s || !s.error().transport) return s;
    const auto until = std::chrono::steady_clock::now() + wait;
    while (!g_stop && std::chrono::steady_clock::now() < until) {
      ::usleep(20'000);
    }
    if (g_stop) return std::unexpected(subscribe_failure{});
    wait = std::min(wait * 2, std::chrono::milliseconds(5000));
  }
}

int run_subscribe(const std::vector<std::string>& args) {
  auto a = live::parse_args("subscribe", args,
                            {{"pair", true},
                             {"path", true},
                             {"run", true},
                             {"suspect-only", false},
                             {"since", true},
                             {"json", false},
                             {"count", true},
                             {"until-run-end", false},
                             {"allow-partial", false},
                             {"no-reconnect", false}});
  if (!a) return exit_error;
  std::optional<std::uint64_t> count;
  if (auto v = a->get("count")) {
    count = live::parse_count("subscribe", "count", *v);
    if (!count) return exit_error;
  }
  const bool json = a->has("json");
  const bool until_end = a->has("until-run-end");
  const bool keep_going = !a->has("no-reconnect");
  const std::string sock = live::socket_path_of(*a);

  std::string since;
  if (auto v = a->get("since")) {
    since = *v == "last" ? live::load_clock(sock).value_or("") : *v;
  }
  seen_events seen;
  std::uint64_t newest = 0;
  auto opened = open_session(sock, subscribe_params(*a, since), &newest);
  if (!opened) return fail(opened.error().message);
  session s = std::move(*opened);
  // Runs numbered up to the newest one at our start that we are not shown
  // now are history a fresh state after a reconnect must not bring back.
  seen.set_first_new_run(s.fresh ? 0 : newest + 1);
  std::string last_clock = s.clock;
  if (!json && s.fresh && !since.empty()) {
    std::fprintf(stderr,
                 "sigdump: note: that clock is from another daemon instance or too old; "
                 "starting from the current state\n");
  }

  install_signal_handlers();
  const bool color = !json && live::color_wanted();
  table_printer table(color);
  simdjson::dom::parser parser;
  std::uint64_t shown = 0;
  int status = exit_ok;
  auto last_save = std::chrono::steady_clock::now();
  bool done = false;
  bool resumed_fresh = false;  // this connection's state follows a reconnect
  while (!done && !g_stop) {
    auto ev = s.c.next_event(std::chrono::milliseconds(500));
    if (!ev) {
      if (!last_clock.empty()) live::save_clock(sock, last_clock);
      if (!keep_going) return fail(ev.error().describe());
      std::fprintf(stderr, "sigdump: lost the connection to sigdumpd (%s); reconnecting\n",
                   ev.error().describe().c_str());
      auto again = reconnect(sock, subscribe_params(*a, last_clock));
      if (!again) return g_stop ? status : fail(again.error().message);
      s = std::move(*again);
      resumed_fresh = s.fresh;
      last_clock = s.clock;
      std::fprintf(stderr, "sigdump: reconnected to sigdumpd (%s)\n",
                   s.fresh ? "a new daemon instance: its current state, without what was shown"
                           : "resumed from the last event seen");
      continue;
    }
    if (!*ev) continue;  // timeout or signal: check g_stop
    const auto& m = **ev;
    if (m.id != s.id) continue;  // another subscription's event (none expected)
    if (!m.clock.empty()) last_clock = m.clock;
    simdjson::dom::element doc;
    const bool parsed = !parser.parse(m.line).get(doc);
    const bool replayed = parsed && live::boolean(doc, "replay").value_or(false);
    if (!replayed) resumed_fresh = false;
    // After a reconnect to a new instance its state is sent whole: show
    // only what this subscriber has not seen yet.
    if (parsed && !seen.note(doc, m.event, replayed && resumed_fresh)) continue;
    if (json) {
      std::fwrite(m.line.data(), 1, m.line.size(), stdout);
      std::fputc('\n', stdout);
      std::fflush(stdout);
    }
    if (!json && parsed) table.print(doc, m.event);
    ++shown;
    // A replayed run_end (fresh state) is a run that ended before we came,
    // unless the state follows a reconnect: then it ended while we were away.
    // --until-run-end waits for one that ends while we watch.
    // A run cut short by new content (truncated, rewritten, replaced) is
    // followed by the run that holds it: wait for that one; so is a run
    // stopped with its daemon when we reconnect.
    std::string_view end_reason;
    if (parsed && doc["reason"].get_string().get(end_reason)) end_reason = {};
    const bool cut_short = end_reason == "truncated" || end_reason == "rewritten" ||
                           end_reason == "replaced" || (keep_going && end_reason == "stopped");
    if (until_end && m.event == "run_end" && parsed && !cut_short && (!replayed || resumed_fresh)) {
      if (!verdict_success(doc, a->has("allow-partial"))) status = exit_findings;
      done = true;
    }
    if (count && shown >= *count) done = true;
    // Save now and then, not per event: a fast stream would mean a rename per layer.
    if (auto now = std::chrono::steady_clock::now(); now - last_save > std::chrono::seconds(1)) {
      live::save_clock(sock, last_clock);
      last_save = now;
    }
  }
  if (!last_clock.empty() && !live::save_clock(sock, last_clock)) {
    warn("could not save the clock to " + live::clock_file_path());
  }
  return status;
}

command_registrar reg{command{"subscribe", "live per-layer metrics from sigdumpd as layers land",
                              subscribe_help, run_subscribe}};

}  // namespace
}  // namespace sigdump::cli
