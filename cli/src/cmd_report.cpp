// `sigdump report`: compares two finished dumps like `sigdump compare` and
// writes the result as a self-contained HTML page and/or an SVG chart.
#include <simdjson.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "command.h"
#include "compare_inputs.h"
#include "sigdump/compare.h"
#include "sigdump/dump_file.h"
#include "sigdump/ipc/client.h"
#include "sigdump/ipc/socket_path.h"
#include "sigdump/report/html_report.h"
#include "sigdump/report/metric_chart.h"

namespace sigdump::cli {
namespace {

constexpr const char* report_help =
    R"(usage: sigdump report SAMPLE BENCHMARK [--out FILE.html] [--plot FILE.svg] [options]
       sigdump report RUN [--html FILE.html] [--plot FILE.svg] [--socket PATH] [options]

Compares SAMPLE (the dump under test) against BENCHMARK (the reference) with
exactly the numbers of 'sigdump compare', and writes them for people to read:

  --out FILE.html   one self-contained HTML page (no network needed): COS,
                    RMSE and MSE per layer in execution order with the
                    thresholds, the first bad layer and the diagnosis marked;
                    the full table, sortable by clicking a header; for each
                    suspect layer histograms of sample vs benchmark values and
                    of their difference; the INT16 advice block with a copy
                    button. docs/report.md explains how to read it.
  --plot FILE.svg   just the metric chart, as a standalone SVG.

Without either, writes sigdump_report.html in the current folder. Files are
written to a temporary name and renamed, so a reader never sees half a file.
It prints one summary line per file written.

options:
  -o, --out, --html FILE HTML page to write
  --socket PATH          RUN form: the daemon's socket (default: $SIGDUMP_SOCKET,
                         $XDG_RUNTIME_DIR/sigdump/sock, /tmp/sigdump-UID/sock)
  --plot FILE            SVG chart to write
  --cos-min X            COS below X is suspect (default 0.99)
  --rmse-max X           RMSE above X is suspect (default 0.1)
  --include-constants    also compare constant records (bConstant:1)
  --include-inputs       also compare //in records
  --name-map FILE        JSON object {"sample name": "benchmark name", ...}
  --quant-params FILE    JSON from save_quant_param.py (advice on 8-bit tensors
                         whose min/max range exceeds 20)
  --max-histograms N     histograms for at most N suspect layers (default 32)
  --threads N            worker threads (default 0: every core)
  -h, --help             show this help

RUN (e.g. r7) is a run sigdumpd recorded for a pair: its sample file (which
must still hold that run) is compared with the pair's benchmark file.

exit status: 0 no suspect layer, 1 a layer is suspect or could not be compared,
2 bad usage, an unreadable input or an output that cannot be written.

examples:
  sigdump report fixed.bin float.bin --out report.html
  sigdump report fixed.bin float.bin --plot metrics.svg --cos-min 0.995
)";

std::optional<double> parse_double(std::string_view s) {
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<unsigned> parse_count(std::string_view s, unsigned max) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

struct report_args {
  std::vector<std::string> positional;
  std::string out, plot, name_map, quant_params;
  std::string socket;  // RUN form: the daemon's socket (--socket)
  compare_options options;
  html_options html;
};

bool takes_value(std::string_view a) {
  return a == "-o" || a == "--out" || a == "--html" || a == "--socket" || a == "--plot" ||
         a == "--cos-min" || a == "--rmse-max" || a == "--name-map" || a == "--quant-params" ||
         a == "--max-histograms" || a == "--threads";
}

// Returns an error message, or empty on success.
std::string parse_args(const std::vector<std::string>& args, report_args& out) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    std::optional<std::string> inline_value;
    if (a.starts_with("--") && a.find('=') != std::string::npos) {
      inline_value = a.substr(a.find('=') + 1);
      a = a.substr(0, a.find('='));
    }
    if (takes_value(a)) {
      std::string v;
      if (inline_value) {
        v = *inline_value;
      } else if (i + 1 < args.size()) {
        v = args[++i];
      } else {
        return a + " needs a value";
      }
      if (a == "-o" || a == "--out" || a == "--html") {
        out.out = v;
      } else if (a == "--socket") {
        out.socket = v;
      } else if (a == "--plot") {
        out.plot = v;
      } else if (a == "--cos-min" || a == "--rmse-max") {
        auto d = parse_double(v);
        if (!d) return a + ": expected a number, got '" + v + "'";
        (a == "--cos-min" ? out.options.thresholds.cos_min : out.options.thresholds.rmse_max) = *d;
      } else if (a == "--name-map") {
        out.name_map = v;
      } else if (a == "--quant-params") {
        out.quant_params = v;
      } else if (a == "--max-histograms") {
        auto n = parse_count(v, 100000);
        if (!n) return "--max-histograms: expected a count from 0 to 100000, got '" + v + "'";
        out.html.max_histograms = *n;
      } else {
        auto n = parse_count(v, 1024);
        if (!n) return "--threads: expected a count from 0 to 1024, got '" + v + "'";
        out.options.threads = *n;
      }
      continue;
    }
    if (inline_value) return "option " + a + " takes no value";
    if (a == "--include-constants") {
      out.options.include_constants = true;
    } else if (a == "--include-inputs") {
      out.options.include_inputs = true;
    } else if (a.starts_with("-") && a != "-") {
      return "unknown option '" + a + "'; see 'sigdump report --help'";
    } else {
      out.positional.push_back(a);
    }
  }
  if (out.positional.size() != 1 && out.positional.size() != 2) {
    return "expected RUN, or SAMPLE and BENCHMARK, got " + std::to_string(out.positional.size()) +
           " file names; see 'sigdump report --help'";
  }
  if (out.out.empty() && out.plot.empty()) out.out = "sigdump_report.html";
  return {};
}

// The RUN form: a run the daemon recorded is its sample file (which must
// still hold that run) compared with its pair's benchmark file.
std::optional<std::string> resolve_run(report_args& a) {
  const std::string& run = a.positional[0];
  const std::string socket = a.socket.empty() ? ipc::default_socket_path() : a.socket;
  auto c = ipc::client::connect(socket);
  if (!c) return c.error().describe();
  auto status = c->call("status", {}, std::chrono::seconds(10));
  if (!status) return status.error().describe();
  if (status->is_error) return "status: " + status->error_message;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(status->result).get(doc)) return "the daemon's status reply is not JSON";
  std::string path, pair;
  simdjson::dom::array pairs;
  if (!doc["pairs"].get(pairs)) {
    for (auto p : pairs) {
      std::string_view name, sample, bench, prun;
      if (p["name"].get(name) || p["sample"].get(sample) || p["benchmark"].get(bench)) continue;
      if (!p["run"].get(prun) && prun == run) {
        pair = std::string(name);
        a.positional = {std::string(sample), std::string(bench)};
      }
    }
  }
  if (pair.empty()) {
    // Not the current run of a pair: ask the history which file it was.
    auto runs = c->call("runs", {}, std::chrono::seconds(10));
    if (!runs || runs->is_error) return "runs: cannot list the daemon's runs";
    simdjson::dom::element rdoc;
    simdjson::dom::array list;
    if (parser.parse(runs->result).get(rdoc) || rdoc["runs"].get(list)) {
      return "the daemon's runs reply has no list";
    }
    for (auto r : list) {
      std::string_view id, rpath, rpair;
      if (r["run"].get(id) || id != run || r["path"].get(rpath)) continue;
      path = std::string(rpath);
      if (r["pair"].get(rpair)) return "run " + run + " (" + path + ") belongs to no pair";
      return "run " + run + " of pair '" + std::string(rpair) + "' is no longer the pair's " +
             "current run; its metrics remain in 'sigdump runs', and its dump was " +
             "overwritten by a later run (archiving is not implemented)";
    }
    return "no run '" + run + "' in the daemon at " + socket + " (see 'sigdump runs')";
  }
  return std::nullopt;
}

int run_report(const std::vector<std::string>& args) {
  report_args a;
  if (auto err = parse_args(args, a); !err.empty()) return fail(err);
  if (a.positional.size() == 1) {
    if (auto err = resolve_run(a)) return fail(*err);
  }
  auto in = load_compare_inputs(a.positional[0], {}, a.positional[1], {}, a.name_map,
                                a.quant_params, a.options);
  if (!in) return fail(in.error().describe());
  const dump_file* sample = &in->sample;
  const dump_file* bench = &in->bench;
  a.options.channel_evidence = true;
  auto report = compare_dumps(*sample, *bench, a.options, in->quant_params_or_null());
  if (!report) return fail(report.error().describe());
  warn_inputs(*report);

  std::size_t suspect = 0, errors = 0;
  for (const auto& l : report->layers) {
    if (!l.error.empty()) {
      ++errors;
    } else if (l.suspect) {
      ++suspect;
    }
  }
  std::string summary = std::to_string(report->layers.size()) + " layers, " +
                        std::to_string(suspect) + " suspect, " + std::to_string(errors) +
                        " not comparable";
  if (report->first_bad) {
    summary +=
        ", first bad #" + std::to_string(report->first_bad->index) + " " + report->first_bad->name;
  }
  if (!a.out.empty()) {
    auto w = write_html_report(a.out, *report, *sample, *bench, a.html);
    if (!w) return fail(w.error().describe());
    std::printf("%s: %s\n", a.out.c_str(), summary.c_str());
  }
  if (!a.plot.empty()) {
    auto w = write_plot_svg(a.plot, *report);
    if (!w) return fail(w.error().describe());
    std::printf("%s: %s\n", a.plot.c_str(), summary.c_str());
  }
  std::fflush(stdout);
  return report->any_suspect_or_error() ? exit_findings : exit_ok;
}

const command_registrar reg{command{"report",
                                    "write an HTML report and/or SVG chart comparing two dumps",
                                    report_help, run_report}};

}  // namespace
}  // namespace sigdump::cli
