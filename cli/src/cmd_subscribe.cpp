// `sigdump subscribe`: the live stream of per-layer metrics from sigdumpd.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "command.h"
#include "live_common.h"
#include "sigdump/json_util.h"

namespace sigdump::cli {
namespace {

constexpr const char* subscribe_help =
    R"(usage: sigdump subscribe [--pair P] [--path FILE] [--run R] [--suspect-only]
                        [--since CLOCK|last] [--json] [--count N] [--until-run-end]
                        [--allow-partial] [--socket PATH]

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

options:
  --pair P          only events of this pair
  --path FILE       only events of this dump file
  --run R           only events of this run
  --suspect-only    only suspect layers (and run start/end/reset lines)
  --since CLOCK     replay every event after CLOCK ("c:START:PID:TICK") first;
                    'last' uses the saved clock (fresh state if none is saved);
                    a clock of another daemon instance gives a fresh state
  --json            print each event line exactly as the daemon sent it
                    (docs/protocol.md, "Events"); nothing else on stdout
  --count N         exit after N events
  --until-run-end   exit after the first run that ends while watching (a
                    replayed run_end of a run that ended earlier does not
                    count, nor the end of a run cut short by a rewrite),
                    with the exit status of its verdict
  --allow-partial   with --until-run-end: an incomplete run (sample layers
                    without a benchmark layer) exits 0
  --socket PATH     daemon socket (default: $SIGDUMP_SOCKET, else
                    $XDG_RUNTIME_DIR/sigdump/sock, else /tmp/sigdump-$UID/sock)
  -h, --help        show this help

exit status: 0 ended by --count, --until-run-end (verdict pass; with
--allow-partial also incomplete) or Ctrl-C; 1 --until-run-end and the run's
verdict is fail, incomplete or nothing_compared (docs/compare.md); 2 bad
usage, an unknown pair, path or run, no daemon, or the daemon went away.

examples:
  sigdump subscribe --pair mobilenet
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
      std::printf("%s-- run %s %s: %lld layers, %lld suspect%s\n", bold(),
                  live::str(ev, "run", "?").c_str(), how.c_str(),
                  static_cast<long long>(live::integer(ev, "layers").value_or(0)),
                  static_cast<long long>(live::integer(ev, "suspect").value_or(0)), reset());
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
                             {"allow-partial", false}});
  if (!a) return exit_error;
  std::optional<std::uint64_t> count;
  if (auto v = a->get("count")) {
    count = live::parse_count("subscribe", "count", *v);
    if (!count) return exit_error;
  }
  const bool json = a->has("json");
  const bool until_end = a->has("until-run-end");
  const std::string sock = live::socket_path_of(*a);

  json_writer params;
  params.begin_object();
  if (auto v = a->get("pair")) params.field("pair", *v);
  if (auto v = a->get("path")) params.field("path", *v);
  if (auto v = a->get("run")) params.field("run", *v);
  if (a->has("suspect-only")) params.field("suspect_only", true);
  bool sent_since = false;
  if (auto v = a->get("since")) {
    if (*v == "last") {
      if (auto saved = live::load_clock(sock)) {
        params.field("since", *saved);
        sent_since = true;
      }
    } else {
      params.field("since", *v);
      sent_since = true;
    }
  }
  params.end_object();

  auto c = live::connect(sock);
  if (!c) return exit_error;
  auto id = c->send("subscribe", params.str());
  if (!id) return fail(id.error().describe());
  auto reply = c->wait_reply(*id, std::chrono::seconds(30));
  if (!reply) return fail(reply.error().describe());
  if (reply->is_error) {
    return fail("sigdumpd: " + reply->error_code +
                (reply->error_message.empty() ? "" : ": " + reply->error_message));
  }
  const std::string my_id = std::to_string(*id);
  std::string last_clock;
  {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (!parser.parse(reply->result).get(doc)) {
      last_clock = live::str(doc, "clock");
      if (!json && live::boolean(doc, "fresh_instance").value_or(false) && sent_since) {
        std::fprintf(stderr,
                     "sigdump: note: that clock is from another daemon instance or too old; "
                     "starting from the current state\n");
      }
    }
  }

  install_signal_handlers();
  const bool color = !json && live::color_wanted();
  table_printer table(color);
  simdjson::dom::parser parser;
  std::uint64_t seen = 0;
  int status = exit_ok;
  auto last_save = std::chrono::steady_clock::now();
  bool done = false;
  while (!done && !g_stop) {
    auto ev = c->next_event(std::chrono::milliseconds(500));
    if (!ev) {
      if (!last_clock.empty()) live::save_clock(sock, last_clock);
      return fail(ev.error().describe());
    }
    if (!*ev) continue;  // timeout or signal: check g_stop
    const auto& m = **ev;
    if (m.id != my_id) continue;  // another subscription's event (none expected)
    if (!m.clock.empty()) last_clock = m.clock;
    if (json) {
      std::fwrite(m.line.data(), 1, m.line.size(), stdout);
      std::fputc('\n', stdout);
      std::fflush(stdout);
    }
    simdjson::dom::element doc;
    const bool parsed = !parser.parse(m.line).get(doc);
    if (!json && parsed) table.print(doc, m.event);
    ++seen;
    // A replayed run_end (fresh state) is a run that ended before we came:
    // --until-run-end waits for one that ends while we watch.
    // A run cut short by new content (truncated, rewritten, replaced) is
    // followed by the run that holds it: wait for that one.
    std::string_view end_reason;
    if (parsed && doc["reason"].get_string().get(end_reason)) end_reason = {};
    const bool cut_short =
        end_reason == "truncated" || end_reason == "rewritten" || end_reason == "replaced";
    if (until_end && m.event == "run_end" && parsed && !cut_short &&
        !live::boolean(doc, "replay").value_or(false)) {
      if (!verdict_success(doc, a->has("allow-partial"))) status = exit_findings;
      done = true;
    }
    if (count && seen >= *count) done = true;
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
