// `sigdump status`: what the running daemon watches and how each pair is doing.
#include <cstdio>
#include <ctime>
#include <iostream>

#include "archive_line.h"
#include "command.h"
#include "live_common.h"

namespace sigdump::cli {
namespace {

constexpr const char* status_help =
    R"(usage: sigdump status [--json] [--socket PATH]

Asks the running sigdumpd what it is doing: its version, pid, event loop and
clock; the folders and files it watches; for each sample/benchmark pair the
current run, layers compared so far, suspect layers, the first bad layer,
the diagnosis and the input warnings, and the pair's own thresholds and name
map where the configuration gives it some (the protocol's `status` method,
docs/protocol.md). When the daemon archives runs, one line says where, how
much of the byte budget the copies use, how many there are (and are still
being copied or failed), and the last archiving error, and one line per
trigger with its counters (docs/configuration.md, "Triggers"):

  archive: /data/archive 1.2 GiB of 10 GiB, 5 copies (1 copying)

options:
  --json          print the daemon's reply as one JSON object (the `status`
                  result of docs/protocol.md) instead of text
  --socket PATH   daemon socket (default: $SIGDUMP_SOCKET, else
                  $XDG_RUNTIME_DIR/sigdump/sock, else /tmp/sigdump-$UID/sock)
  -h, --help      show this help

exit status: 0 answered, 2 bad usage or no daemon (the message says how to
start one).

examples:
  sigdump status
  sigdump status --json | python3 -m json.tool
)";

void print_first_bad(simdjson::dom::element pair) {
  auto fb = live::member(pair, "first_bad");
  if (!fb) return;
  std::printf("    first bad: %lld %s",
              static_cast<long long>(live::integer(*fb, "index").value_or(0)),
              live::str(*fb, "name").c_str());
  const std::string reason = live::str(*fb, "reason");
  if (!reason.empty()) std::printf(" (%s)", reason.c_str());
  std::printf("\n");
}

// "    own thresholds: cos_min 0.995, name map of 3 names": what of the
// pair's comparison is its own, not the daemon's (nothing when all is).
void print_own(simdjson::dom::element pair) {
  auto own = live::member(pair, "own");
  if (!own) return;
  std::string parts;
  const auto add = [&](const std::string& part) { parts += (parts.empty() ? "" : ", ") + part; };
  if (auto v = live::num(*own, "cos_min")) add("cos_min " + live::general(v));
  if (auto v = live::num(*own, "rmse_max")) add("rmse_max " + live::general(v));
  if (auto n = live::integer(*own, "name_map")) {
    add("name map of " + std::to_string(*n) + (*n == 1 ? " name" : " names"));
  }
  if (!parts.empty()) std::printf("    own thresholds: %s\n", parts.c_str());
}

int print_text(simdjson::dom::element doc) {
  auto d = live::member(doc, "daemon");
  if (d) {
    const auto started = live::integer(*d, "started");
    std::printf(
        "sigdumpd %s  pid %lld  up %s  loop %s  clock %s\n", live::str(*d, "version", "?").c_str(),
        static_cast<long long>(live::integer(*d, "pid").value_or(0)),
        started ? live::duration(static_cast<std::int64_t>(std::time(nullptr)) - *started).c_str()
                : "?",
        live::str(*d, "event_loop", "?").c_str(), live::str(*d, "clock", "?").c_str());
    std::printf("state dir: %s\n", live::str(*d, "state_dir", "-").c_str());
    if (const auto unsaved = live::integer(*d, "state_unsaved_bytes"); unsaved && *unsaved > 0) {
      std::printf("  %lld bytes of run logs not written yet (kept in memory): %s\n",
                  static_cast<long long>(*unsaved), live::str(*d, "state_error", "?").c_str());
    }
    std::printf("status board: %s\n", live::str(*d, "board", "none").c_str());
  }
  if (auto a = live::member(doc, "archive")) {
    std::printf("%s\n", live::archive_line(*a).c_str());
    const std::string last = live::str(*a, "last_error");
    if (!last.empty()) std::printf("  last error: %s\n", last.c_str());
  }
  simdjson::dom::array arr;
  if (auto w = live::member(doc, "watched"); w && !w->get_array().get(arr)) {
    std::printf("watched:\n");
    if (arr.size() == 0) std::printf("  (nothing)\n");
    for (auto e : arr) {
      const bool exists = live::boolean(e, "exists").value_or(true);
      std::printf("  %s (%s)%s\n", live::str(e, "path").c_str(), live::str(e, "kind", "?").c_str(),
                  exists ? "" : "  [does not exist yet]");
    }
  }
  if (auto f = live::member(doc, "files"); f && !f->get_array().get(arr)) {
    std::printf("files:\n");
    if (arr.size() == 0) std::printf("  (none yet)\n");
    for (auto e : arr) {
      std::printf("  %s  run %s  %lld records  %lld bytes  %s\n", live::str(e, "path").c_str(),
                  live::str(e, "run", "-").c_str(),
                  static_cast<long long>(live::integer(e, "records").value_or(0)),
                  static_cast<long long>(live::integer(e, "bytes").value_or(0)),
                  live::str(e, "state", "?").c_str());
    }
  }
  if (auto p = live::member(doc, "pairs"); p && !p->get_array().get(arr)) {
    std::printf("pairs:\n");
    if (arr.size() == 0) std::printf("  (none configured)\n");
    for (auto e : arr) {
      std::printf("  %s  run %s  %lld layers  %lld suspect\n", live::str(e, "name").c_str(),
                  live::str(e, "run", "-").c_str(),
                  static_cast<long long>(live::integer(e, "layers").value_or(0)),
                  static_cast<long long>(live::integer(e, "suspect").value_or(0)));
      const std::string bench_run = live::str(e, "benchmark_run");
      std::printf("    sample: %s\n    benchmark: %s%s%s\n", live::str(e, "sample").c_str(),
                  live::str(e, "benchmark").c_str(), bench_run.empty() ? "" : "  run ",
                  bench_run.c_str());
      print_own(e);
      print_first_bad(e);
      if (auto dg = live::member(e, "diagnosis")) {
        const std::string text = live::str(*dg, "text");
        if (!text.empty()) std::printf("    diagnosis: %s\n", text.c_str());
      }
      simdjson::dom::array warnings;
      if (auto w = live::member(e, "warnings"); w && !w->get_array().get(warnings)) {
        for (auto x : warnings) std::printf("    warning: %s\n", live::str(x, "text").c_str());
      }
      simdjson::dom::array three;
      if (auto t = live::member(e, "three_way");
          t && !t->get_array().get(three) && three.size() > 0) {
        std::printf("    three-way (conversion | quantization):\n");
        for (auto l : three) {
          auto conv = live::member(l, "conversion");
          auto quant = live::member(l, "quantization");
          std::printf("      %lld %s  COS %s RMSE %s | COS %s RMSE %s\n",
                      static_cast<long long>(live::integer(l, "index").value_or(0)),
                      live::str(l, "name").c_str(),
                      conv ? live::fixed6(live::num(*conv, "cos")).c_str() : "-",
                      conv ? live::fixed6(live::num(*conv, "rmse")).c_str() : "-",
                      quant ? live::fixed6(live::num(*quant, "cos")).c_str() : "-",
                      quant ? live::fixed6(live::num(*quant, "rmse")).c_str() : "-");
        }
      }
    }
  }
  if (auto t = live::member(doc, "triggers"); t && !t->get_array().get(arr) && arr.size() > 0) {
    std::printf("triggers:\n");
    for (auto e : arr) {
      const std::string pair = live::str(e, "pair");
      std::printf("  %s on %s%s: %lld runs, %lld failures, %lld timeouts, %lld skipped",
                  live::str(e, "name").c_str(), live::str(e, "on", "?").c_str(),
                  pair.empty() ? "" : (" (pair " + pair + ")").c_str(),
                  static_cast<long long>(live::integer(e, "runs").value_or(0)),
                  static_cast<long long>(live::integer(e, "failures").value_or(0)),
                  static_cast<long long>(live::integer(e, "timeouts").value_or(0)),
                  static_cast<long long>(live::integer(e, "skipped").value_or(0)));
      const auto running = live::integer(e, "running").value_or(0);
      if (running > 0) std::printf(", %lld running", static_cast<long long>(running));
      std::printf("\n");
    }
  }
  return exit_ok;
}

int run_status(const std::vector<std::string>& args) {
  auto a = live::parse_args("status", args, {{"json", false}});
  if (!a) return exit_error;
  auto result = live::ask(live::socket_path_of(*a), "status", {});
  if (!result) return exit_error;
  if (a->has("json")) {
    std::cout << *result << '\n';
    return exit_ok;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(*result).get(doc)) return fail("sigdumpd sent a status that is not JSON");
  return print_text(doc);
}

command_registrar reg{command{"status", "what the running sigdumpd watches, per-pair progress",
                              status_help, run_status}};

}  // namespace
}  // namespace sigdump::cli
