// `sigdump runs`: the runs the daemon knows, newest first.
#include <cstdio>
#include <ctime>
#include <iostream>

#include "command.h"
#include "live_common.h"
#include "sigdump/json_util.h"

namespace sigdump::cli {
namespace {

constexpr const char* runs_help =
    R"(usage: sigdump runs [--json] [--pair NAME] [--path FILE] [--limit N] [--socket PATH]

Lists the runs sigdumpd has seen, newest first: each time a watched dump file
is created, replaced, truncated or rewritten a new run starts. Runs of
earlier daemon instances, read back from its state folder, are included.
Columns: run id, state (live, ended, reset), pair, the benchmark run its
layers are compared with (AGAINST), layers compared, suspect layers, start
time, first bad layer, file; "[copy: PATH]" after the file
when the daemon archived the run (a run whose file was overwritten is still
queryable from its copy: sigdump query NAME --run RUN).

options:
  --json          print the daemon's reply ({"runs":[...]}, docs/protocol.md)
  --pair NAME     only runs of this sample/benchmark pair
  --path FILE     only runs of this dump file
  --limit N       at most N runs
  --socket PATH   daemon socket (default: $SIGDUMP_SOCKET, else
                  $XDG_RUNTIME_DIR/sigdump/sock, else /tmp/sigdump-$UID/sock)
  -h, --help      show this help

exit status: 0 answered, 2 bad usage, unknown pair/path, or no daemon.

examples:
  sigdump runs --limit 5
  sigdump runs --pair mobilenet --json
)";

std::string local_time(std::optional<std::int64_t> t) {
  if (!t) return "-";
  std::time_t tt = static_cast<std::time_t>(*t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

int run_runs(const std::vector<std::string>& args) {
  auto a = live::parse_args("runs", args,
                            {{"json", false}, {"pair", true}, {"path", true}, {"limit", true}});
  if (!a) return exit_error;
  json_writer params;
  params.begin_object();
  if (auto p = a->get("pair")) params.field("pair", *p);
  if (auto p = a->get("path")) params.field("path", *p);
  if (auto l = a->get("limit")) {
    auto n = live::parse_count("runs", "limit", *l);
    if (!n) return exit_error;
    params.field("limit", *n);
  }
  params.end_object();

  auto result = live::ask(live::socket_path_of(*a), "runs", params.str());
  if (!result) return exit_error;
  if (a->has("json")) {
    std::cout << *result << '\n';
    return exit_ok;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array runs;
  if (parser.parse(*result).get(doc) || !live::member(doc, "runs") ||
      live::member(doc, "runs")->get_array().get(runs)) {
    return fail("sigdumpd sent a runs reply without a runs array");
  }
  if (runs.size() == 0) {
    std::printf("no runs yet\n");
    return exit_ok;
  }
  std::printf("%-8s %-6s %-16s %-8s %7s %7s  %-19s  %-30s %s\n", "RUN", "STATE", "PAIR", "AGAINST",
              "LAYERS", "SUSPECT", "STARTED", "FIRST BAD", "FILE");
  for (auto r : runs) {
    std::string first_bad = "-";
    if (auto fb = live::member(r, "first_bad")) {
      first_bad =
          std::to_string(live::integer(*fb, "index").value_or(0)) + " " + live::str(*fb, "name");
    }
    const std::string state = live::str(r, "state", "?");
    std::string copy;
    if (auto arc = live::member(r, "archive")) {
      copy = live::boolean(*arc, "failed").value_or(false) ? "  [copy failed: " : "  [copy: ";
      copy += live::str(*arc, "path");
      if (live::boolean(*arc, "short").value_or(false))
        copy += ", short: the file started over first";
      copy += "]";
    }
    std::printf("%-8s %-6s %-16s %-8s %7lld %7lld  %-19s  %-30s %s%s\n",
                live::str(r, "run", "?").c_str(), state.c_str(), live::str(r, "pair", "-").c_str(),
                live::str(r, "benchmark_run", "-").c_str(),
                static_cast<long long>(live::integer(r, "layers").value_or(0)),
                static_cast<long long>(live::integer(r, "suspect").value_or(0)),
                local_time(live::integer(r, "started")).c_str(), first_bad.c_str(),
                live::str(r, "path").c_str(), copy.c_str());
  }
  return exit_ok;
}

command_registrar reg{command{"runs", "runs sigdumpd has seen, newest first", runs_help, run_runs}};

}  // namespace
}  // namespace sigdump::cli
