// `sigdump wait`: blocks until a pair's run meets its first bad layer or
// ends, for scripts; the exit status says which.
#include <charconv>
#include <chrono>
#include <cstdio>
#include <string>

#include "command.h"
#include "live_common.h"
#include "sigdump/json_util.h"

namespace sigdump::cli {
namespace {

constexpr const char* wait_help =
    R"(usage: sigdump wait --pair P --for first-bad|run-end [--timeout S] [--json]
                   [--socket PATH]

Blocks until pair P's current run (if it is still being written) or its
next run meets what --for names, prints it as one line and exits with a
status a script can branch on:

  --for first-bad   the run's first bad layer is known: prints
                      first bad layer 8 conv3_1/linear/bn_xx in net r2 (COS 0.942363 < 0.99)
                    and exits 1; a run that ends without one prints its end
                    and exits 0
  --for run-end     the run ends: prints
                      run r2 of net ended (closed): 13 layers, 5 suspect, verdict fail
                    and exits 0 for the verdict pass, 1 for fail, incomplete or
                    nothing_compared (docs/compare.md)

A run that already ended when wait starts does not count, nor one cut short
by a rewrite of its file (the run that replaces it does).

options:
  --pair P          the pair (required; an unknown pair exits 2 at once)
  --for WHAT        first-bad or run-end (required)
  --timeout S       give up after S seconds (a decimal number) and exit 3
  --json            print the event as the daemon sent it (docs/protocol.md,
                    "Events": the layer event naming the first bad layer,
                    or the run_end event) instead of the line
  --socket PATH     daemon socket (default: $SIGDUMP_SOCKET, else
                    $XDG_RUNTIME_DIR/sigdump/sock, else /tmp/sigdump-$UID/sock)
  -h, --help        show this help

exit status: 0 the run ended (first-bad: without a bad layer; run-end:
verdict pass); 1 a first bad layer (first-bad) or a run that did not pass
(run-end); 2 bad usage, an unknown pair, no daemon, or the daemon went
away; 3 --timeout passed first.

examples:
  sigdump wait --pair net --for first-bad && echo "clean run"
  sigdump wait --pair net --for first-bad --timeout 3600
  case $? in 1) ./stop-simulator.sh ;; 3) echo "no result within an hour" ;; esac
  sigdump wait --pair net --for run-end --json > run_end.json
)";

constexpr int exit_timeout = 3;

// The pair's current run if it is still live ("" otherwise).
std::optional<std::string> live_run_of(const std::string& sock, const std::string& pair) {
  auto result = live::ask(sock, "status", R"({"only":"pairs"})");
  if (!result) return std::nullopt;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array pairs;
  if (parser.parse(*result).get(doc) || doc["pairs"].get_array().get(pairs)) {
    fail("sigdumpd sent a status that is not JSON");
    return std::nullopt;
  }
  for (auto p : pairs) {
    if (live::str(p, "name") == pair && live::str(p, "state") == "live") {
      return live::str(p, "run");
    }
  }
  return std::string();
}

std::string first_bad_line(simdjson::dom::element ev, simdjson::dom::element fb) {
  std::string line = "first bad layer " + std::to_string(live::integer(fb, "index").value_or(0)) +
                     " " + live::str(fb, "name") + " in " + live::str(ev, "pair") + " " +
                     live::str(ev, "run");
  const std::string reason = live::str(fb, "reason");
  if (!reason.empty()) line += " (" + reason + ")";
  return line;
}

std::string run_end_line(simdjson::dom::element ev) {
  std::string line = "run " + live::str(ev, "run") + " of " + live::str(ev, "pair") + " ended (" +
                     live::str(ev, "reason", "?") +
                     "): " + std::to_string(live::integer(ev, "layers").value_or(0)) + " layers, " +
                     std::to_string(live::integer(ev, "suspect").value_or(0)) + " suspect";
  const std::string verdict = live::str(ev, "verdict");
  if (!verdict.empty()) line += ", verdict " + verdict;
  return line;
}

std::optional<double> parse_seconds(const std::string& text) {
  double v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || p != text.data() + text.size() || !(v > 0)) {
    fail("option '--timeout' wants a positive number of seconds, not '" + text +
         "'; see 'sigdump wait --help'");
    return std::nullopt;
  }
  return v;
}

int run_wait(const std::vector<std::string>& args) {
  auto a = live::parse_args("wait", args,
                            {{"pair", true}, {"for", true}, {"timeout", true}, {"json", false}});
  if (!a) return exit_error;
  const auto pair = a->get("pair");
  const auto what = a->get("for");
  if (!pair || pair->empty()) return fail("wait needs --pair P; see 'sigdump wait --help'");
  if (!what || (*what != "first-bad" && *what != "run-end")) {
    return fail("wait needs --for first-bad or --for run-end, not '" + what.value_or("") +
                "'; see 'sigdump wait --help'");
  }
  const bool for_first_bad = *what == "first-bad";
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (auto t = a->get("timeout")) {
    auto s = parse_seconds(*t);
    if (!s) return exit_error;
    deadline = std::chrono::steady_clock::now() +
               std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                   std::chrono::duration<double>(*s));
  }
  const std::string sock = live::socket_path_of(*a);

  auto c = live::connect(sock);
  if (!c) return exit_error;
  json_writer params;
  params.begin_object();
  params.field("pair", *pair);
  params.end_object();
  // Fresh state first: each tracked run's events so far are replayed, with
  // a replayed run_end for a run that already ended. A run whose replay has
  // no run_end was live when the daemon took the subscription, so its
  // replayed first bad layer counts; that is known once something other
  // than the run's own replay follows, or, when nothing follows, once
  // status says the run is still live (if it ended since, its run_end
  // arrives live and settles it).
  auto sub = live::subscribe(*c, params.str());
  if (!sub) return exit_error;  // an unknown pair is not_found

  const auto print = [&](const std::string& event_line, const std::string& line) {
    if (a->has("json")) {
      std::fwrite(event_line.data(), 1, event_line.size(), stdout);
      std::fputc('\n', stdout);
    } else {
      std::printf("%s\n", line.c_str());
    }
    std::fflush(stdout);
  };
  struct replayed_first_bad {
    std::string run, event_line, line;
  };
  std::optional<replayed_first_bad> held;
  const auto settle_held = [&] {
    print(held->event_line, held->line);
    return exit_findings;
  };

  simdjson::dom::parser parser;
  while (true) {
    auto wait_for = std::chrono::milliseconds(held ? 200 : 500);
    if (deadline) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= *deadline) {
        std::fprintf(stderr, "sigdump: wait: no %s in pair %s within %s s\n",
                     for_first_bad ? "first bad layer or run end" : "run end", pair->c_str(),
                     a->get("timeout")->c_str());
        return exit_timeout;
      }
      wait_for = std::min(wait_for, std::chrono::duration_cast<std::chrono::milliseconds>(
                                        *deadline - now + std::chrono::milliseconds(1)));
    }
    auto ev = c->next_event(wait_for);
    if (!ev) return fail(ev.error().describe());
    if (!*ev) {
      if (held) {
        const auto live_run = live_run_of(sock, *pair);
        if (!live_run) return exit_error;
        if (*live_run == held->run) return settle_held();
      }
      continue;
    }
    if ((*ev)->id != sub->id) continue;
    const auto& m = **ev;
    simdjson::dom::element doc;
    if (parser.parse(m.line).get(doc)) continue;
    const bool replayed = live::boolean(doc, "replay").value_or(false);
    const std::string run = live::str(doc, "run");
    if (held) {
      if (replayed && run == held->run) {
        if (m.event != "run_end") continue;  // more of the held run's replay
        held.reset();                        // it had ended: does not count
        continue;
      }
      return settle_held();  // its replay had no run_end: it was live
    }
    if (replayed) {
      // An ended run's replayed run_end does not count; a replayed first
      // bad layer is held until its run is known to have been live.
      if (for_first_bad && m.event == "layer") {
        if (auto fb = live::member(doc, "first_bad")) {
          held = replayed_first_bad{run, m.line, first_bad_line(doc, *fb)};
        }
      }
      continue;
    }
    if (for_first_bad && (m.event == "layer" || m.event == "run_end")) {
      if (auto fb = live::member(doc, "first_bad")) {
        print(m.line, first_bad_line(doc, *fb));
        return exit_findings;
      }
    }
    if (m.event != "run_end") continue;
    // A run cut short by new content is followed by the run that holds it.
    const std::string reason = live::str(doc, "reason");
    if (reason == "truncated" || reason == "rewritten" || reason == "replaced") continue;
    print(m.line, run_end_line(doc));
    return live::str(doc, "verdict") == "pass" || for_first_bad ? exit_ok : exit_findings;
  }
}

command_registrar reg{command{"wait", "block until a pair's run meets its first bad layer or ends",
                              wait_help, run_wait}};

}  // namespace
}  // namespace sigdump::cli
