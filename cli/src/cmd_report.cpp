// `sigdump report`: compares two finished dumps like `sigdump compare` and
// writes the result as a self-contained HTML page and/or an SVG chart.
#include <simdjson.h>

#include <algorithm>
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
#include "option_words.h"
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

RUN (e.g. r7) is a run sigdumpd recorded for a pair: its sample records are
compared with the benchmark run the daemon compared them with ("benchmark_run"
in 'sigdump runs --json'; for a run recorded without one, the benchmark run
current when RUN started, else the first one after it). Each is read from its dump
file while the file still holds that run, else from the daemon's archived
copy (--archive-dir); a first line says which file each side was read from.

exit status: 0 no suspect layer, 1 a layer is suspect or could not be compared,
2 bad usage, an unreadable input or an output that cannot be written.

examples:
  sigdump report fixed.bin float.bin --out report.html
  sigdump report fixed.bin float.bin --plot metrics.svg --cos-min 0.995
)";

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
    const auto [a, inline_value] = split_option(args[i]);
    if (takes_value(a)) {
      const auto value = option_value({a, inline_value}, args, i);
      if (!value) return a + " needs a value";
      const std::string& v = *value;
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

// One run of the daemon's `runs` list: where its records are read from now.
struct listed_run {
  std::string id, path, pair, benchmark, benchmark_run, source, copy;
  bool short_copy = false;  // the copy lacks records the run read (archive "short")
  std::uint64_t number = 0;
};

std::vector<listed_run> parse_runs(simdjson::dom::array list) {
  std::vector<listed_run> out;
  for (auto r : list) {
    listed_run l;
    std::string_view v;
    if (r["run"].get(v) || v.size() < 2) continue;
    l.id = std::string(v);
    std::from_chars(l.id.data() + 1, l.id.data() + l.id.size(), l.number);
    if (!r["path"].get(v)) l.path = std::string(v);
    if (!r["pair"].get(v)) l.pair = std::string(v);
    if (!r["benchmark"].get(v)) l.benchmark = std::string(v);
    if (!r["benchmark_run"].get(v)) l.benchmark_run = std::string(v);
    if (!r["source"].get(v)) l.source = std::string(v);
    if (!r["archive"]["path"].get(v)) l.copy = std::string(v);
    bool cut = false;
    if (!r["archive"]["short"].get(cut)) l.short_copy = cut;
    out.push_back(std::move(l));
  }
  return out;
}

// The file that holds r's records now, and how to say so; empty when none.
std::string readable(const listed_run& r, std::string& said) {
  if (r.source == "file") {
    said = r.path + " (" + r.id + ")";
    return r.path;
  }
  if (r.source == "archive" && !r.copy.empty()) {
    said = "the archived copy " + r.copy + " (" + r.id + "; " + r.path + " holds a later run)";
    if (r.short_copy) {
      said +=
          "; the copy is short: the file started over before it was copied whole, so the "
          "run's last layers are not in it";
    }
    return r.copy;
  }
  return {};
}

// The benchmark run RUN was compared with: the one the daemon recorded;
// for a run logged before it recorded one, the benchmark run current when
// RUN started, else the first one after it. Null when none is listed.
const listed_run* benchmark_of(const std::vector<listed_run>& runs, const listed_run& run) {
  if (!run.benchmark_run.empty()) {
    for (const auto& r : runs) {
      if (r.id == run.benchmark_run) return &r;
    }
  }
  // Listed newest first: the last older one seen is the newest before RUN.
  const listed_run* bench = nullptr;
  for (const auto& r : runs) {
    if (r.path != run.benchmark) continue;
    if (r.number < run.number) return &r;
    bench = &r;  // after RUN: the oldest such wins unless an older one follows
  }
  return bench;
}

// The RUN form: the run's sample records (its file, or the archived copy
// once the file holds a later run) compared with the benchmark run it was
// compared with (benchmark_of), again from its file or its copy.
std::optional<std::string> resolve_run(report_args& a) {
  const std::string run = a.positional[0];  // a copy: positional is replaced below
  const std::string socket = a.socket.empty() ? ipc::default_socket_path() : a.socket;
  auto c = ipc::client::connect(socket);
  if (!c) return c.error().describe();
  auto reply = c->call("runs", {}, std::chrono::seconds(10));
  if (!reply) return reply.error().describe();
  if (reply->is_error) return "runs: " + reply->error_message;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array list;
  if (parser.parse(reply->result).get(doc) || doc["runs"].get(list)) {
    return "the daemon's runs reply has no list";
  }
  const auto runs = parse_runs(list);
  auto it = std::find_if(runs.begin(), runs.end(), [&](const auto& r) { return r.id == run; });
  if (it == runs.end()) {
    return "no run '" + run + "' in the daemon at " + socket + " (see 'sigdump runs')";
  }
  if (it->pair.empty()) return "run " + run + " (" + it->path + ") belongs to no pair";
  std::string sample_said, bench_said;
  const std::string sample = readable(*it, sample_said);
  if (sample.empty()) {
    return "run " + run + " of pair '" + it->pair + "': " + it->path +
           " holds a later run and no archived copy of it is kept (archiving is off, or the "
           "copy was evicted); its metrics remain in 'sigdump runs'";
  }
  const listed_run* bench = benchmark_of(runs, *it);
  std::string benchmark = it->benchmark;
  bench_said = benchmark;
  if (bench != nullptr) {
    benchmark = readable(*bench, bench_said);
    if (benchmark.empty()) {
      return "run " + run + " of pair '" + it->pair + "': its benchmark run " + bench->id +
             " is no longer readable (" + bench->path +
             " holds a later run and no archived copy of it is kept)";
    }
  }
  a.positional = {sample, benchmark};
  std::printf("%s of pair %s: sample %s, benchmark %s\n", run.c_str(), it->pair.c_str(),
              sample_said.c_str(), bench_said.c_str());
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
                                    report_help, run_report, true}};

}  // namespace
}  // namespace sigdump::cli
