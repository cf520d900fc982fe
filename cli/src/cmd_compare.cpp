// `sigdump compare`: the vendor's layer-by-layer comparison of two finished
// dumps, with the same numbers, plus diagnosis and INT16 advice.
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "command.h"
#include "compare_inputs.h"
#include "option_words.h"
#include "progress.h"
#include "sigdump/compare.h"
#include "sigdump/dump_file.h"
#include "sigdump/report/export_layers.h"
#include "sigdump/report/html_report.h"
#include "sigdump/report/metric_chart.h"
#include "sigdump/report/report_csv.h"
#include "sigdump/report/report_json.h"
#include "sigdump/report/report_junit.h"
#include "sigdump/report/report_text.h"

namespace sigdump::cli {
namespace {

constexpr const char* compare_help =
    R"(usage: sigdump compare SAMPLE BENCHMARK [--json | --csv] [options]

Compares every layer of SAMPLE (the dump under test: fixed vs float model, or
the IPU model vs the original framework) against BENCHMARK (the reference),
exactly like the vendor's auto_dump_debug.sh: MSE = sum((a-b)^2)/n,
COS = sum(a*b)/(|a||b|) (0 when a norm is 0), RMSE = sum|a-b|/sum|b| (a
relative L1 error despite its name), accumulated in double. Both files may be
any dump variant (binary or text, isFloat 1 or 0: integers are dequantized).

Layers are matched by exact name + kind + output index, then by the vendor's
sanitized name ('/' -> '_', ':' removed), then by --name-map. Layers on one
side only are listed, not errors. When a name repeats in the benchmark
(several runs in one file), the occurrence with the same ordinal as in the
sample is used, else the last. A 4-D benchmark whose shape is the sample's
permuted NCHW<->NHWC is read transposed; with equal shapes that a transpose
would also fit (e.g. [1, 18, 18, 18]) and COS < 0.98 both transposes are
tried and the best COS kept. The text output says which layout was used.

Output, in the sample's execution order, numbered from 0:
  0) data MSE: 0.028521 COS: 0.990174 RMSE: 0.191048
  3) name ERROR: <why the layer could not be compared>
then a summary: the coverage (how many sample layers were compared, how many
have no benchmark layer), unmatched names, suspect layers (COS < cos-min or RMSE >
rmse-max), the first bad layer, the diagnosis (jump / drift / oscillation,
docs/diagnosis.md) and the INT16 advice: the input of the convolution at, or
feeding, the layer where precision breaks first, then a few more suspect
convolutions, each with why, as a ready-to-paste input_config.ini
[CONV_CONFIG] block (or what to check first when the input already differs).
Before the diagnosis: the verdict (pass, fail, incomplete or
nothing_compared; docs/compare.md, "Coverage and verdict") and, per suspect
layer, its channels (C of NHWC, else the last axis): the three worst by COS
with their COS, RMSE and max |a-b|, and the three elements with the largest
|a-b| with their n,h,w,c coordinates and values.

options:
  --json                 one JSON object (docs/compare.md); non-finite numbers are null
  --csv                  one row per layer with a header row (RFC 4180 quoting)
  --cos-min X            COS below X is suspect (default 0.99)
  --rmse-max X           RMSE above X is suspect (default 0.1)
  --include-constants    also compare constant records (bConstant:1: weights, biases)
  --include-inputs       also compare //in records
  --name-map FILE        JSON object {"sample name": "benchmark name", ...}
  --quant-params FILE    JSON from save_quant_param.py: flags 8-bit tensors whose
                         min/max range exceeds 20
  --advice top|all       INT16 advice: the root cause and at most 4 more suspect
                         convolutions, ranked, each with why (top, the default),
                         or every suspect convolution (all)
  --write-input-config FILE
                         merge the advice into FILE's [CONV_CONFIG] tensor_arrays
                         (created when missing; names already there and other
                         sections are kept); with no INT16 advice FILE is left alone
  --export [DIR]         write DIR/<N>/sample.txt and benchmark.txt per compared
                         layer (values "%.6f", 16 per row); default DIR:
                         Undefined_<benchmark file name>_DumpDebug_out
  --one-per-row          with --export, one value per row (also SAVE_ONE_ROW=1)
  --html FILE            also write a self-contained HTML report: charts, sortable
                         table, histograms of suspect layers, advice (docs/report.md)
  --plot FILE.svg        also write the COS/RMSE/MSE chart as a standalone SVG
  --junit FILE           also write JUnit XML for CI: one testcase per sample layer
                         (passed, failed with metrics and thresholds, skipped when
                         no benchmark layer matched) and one for the coverage
  --allow-partial        sample layers without a benchmark layer do not fail the
                         run (verdict incomplete exits 0); nothing compared still fails
  --channels             per-channel evidence for every compared layer, not only
                         for the suspect ones (docs/compare.md, "Channels")
  --threads N            worker threads (default 0: every core)
  --format-sample binary|text, --format-benchmark binary|text
                         force a file's variant instead of detecting it
  -h, --help             show this help

Colour is used only when stdout is a terminal and NO_COLOR is not set; on a
terminal, inputs over 256 MB show a progress bar on stderr.

exit status: 0 every sample layer compared and none suspect (verdict pass; with
--allow-partial also incomplete), 1 a layer is suspect or could not be compared,
some sample layers have no benchmark layer (incomplete), or nothing was
compared; 2 bad usage or an unreadable input.

examples:
  sigdump compare fixed_sigma_outtensor_dump.bin float_sigma_outtensor_dump.bin
  sigdump compare sigma_outtensor_dump.bin dumpData/caffe_NHWC_outtensor_dump.bin --json
  sigdump compare fixed.bin float.bin --quant-params quant.json --export
  sigdump compare fixed.bin float.bin --write-input-config input_config.ini
)";

bool takes_value(std::string_view a) {
  return a == "--cos-min" || a == "--rmse-max" || a == "--name-map" || a == "--quant-params" ||
         a == "--threads" || a == "--format-sample" || a == "--format-benchmark" || a == "--html" ||
         a == "--plot" || a == "--advice" || a == "--write-input-config" || a == "--junit";
}

std::optional<dump_variant> parse_variant(std::string_view s) {
  if (s == "binary") return dump_variant::binary;
  if (s == "text") return dump_variant::text;
  return std::nullopt;
}

struct compare_args {
  std::vector<std::string> positional;
  bool json = false, csv = false;
  compare_options options;
  std::string name_map, quant_params;
  bool do_export = false, one_per_row = false;
  bool all_channels = false;  // --channels
  std::string export_dir;
  std::string html, plot, junit;  // --html FILE, --plot FILE.svg, --junit FILE
  bool allow_partial = false;
  bool advice_all = false;  // --advice all
  std::string write_input_config;
  parse_options sample_format, bench_format;
};

// Returns an error message, or empty on success.
std::string parse_args(const std::vector<std::string>& args, compare_args& out) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto [a, inline_value] = split_option(args[i]);
    if (a == "--export") {
      out.do_export = true;
      if (inline_value) {
        out.export_dir = *inline_value;
        continue;
      }
      // DIR is optional: take the next word only if two positionals remain without it.
      if (i + 1 < args.size() && !args[i + 1].starts_with("-")) {
        std::size_t later = 0;
        for (std::size_t k = i + 2; k < args.size(); ++k) {
          if (takes_value(args[k]) && args[k].find('=') == std::string::npos) {
            ++k;
          } else if (!args[k].starts_with("-") || args[k] == "-") {
            ++later;
          }
        }
        if (out.positional.size() + later >= 2) out.export_dir = args[++i];
      }
      continue;
    }
    if (takes_value(a)) {
      const auto value = option_value({a, inline_value}, args, i);
      if (!value) return a + " needs a value";
      const std::string& v = *value;
      if (a == "--cos-min" || a == "--rmse-max") {
        auto d = parse_double(v);
        if (!d) return a + ": expected a number, got '" + v + "'";
        const std::string err = a == "--cos-min" ? cos_min_problem(a, *d) : rmse_max_problem(a, *d);
        if (!err.empty()) return err;
        (a == "--cos-min" ? out.options.thresholds.cos_min : out.options.thresholds.rmse_max) = *d;
      } else if (a == "--threads") {
        auto n = parse_count(v, 1024);
        if (!n) return "--threads: expected a count from 0 to 1024, got '" + v + "'";
        out.options.threads = *n;
      } else if (a == "--name-map") {
        out.name_map = v;
      } else if (a == "--quant-params") {
        out.quant_params = v;
      } else if (a == "--advice") {
        if (v != "top" && v != "all") return "--advice: expected 'top' or 'all', got '" + v + "'";
        out.advice_all = v == "all";
      } else if (a == "--write-input-config") {
        if (v.empty()) return a + " needs a file name";
        out.write_input_config = v;
      } else if (a == "--html" || a == "--plot" || a == "--junit") {
        if (v.empty()) return a + " needs a file name";
        (a == "--html" ? out.html : a == "--plot" ? out.plot : out.junit) = v;
      } else {
        auto var = parse_variant(v);
        if (!var) return a + ": expected 'binary' or 'text', got '" + v + "'";
        (a == "--format-sample" ? out.sample_format : out.bench_format).variant = *var;
      }
      continue;
    }
    if (inline_value) return "option " + a + " takes no value";
    if (a == "--json") {
      out.json = true;
    } else if (a == "--csv") {
      out.csv = true;
    } else if (a == "--include-constants") {
      out.options.include_constants = true;
    } else if (a == "--include-inputs") {
      out.options.include_inputs = true;
    } else if (a == "--allow-partial") {
      out.allow_partial = true;
    } else if (a == "--channels") {
      out.all_channels = true;
    } else if (a == "--one-per-row") {
      out.one_per_row = true;
    } else if (a.starts_with("-") && a != "-") {
      return "unknown option '" + a + "'; see 'sigdump compare --help'";
    } else {
      out.positional.push_back(a);
    }
  }
  if (out.positional.size() != 2) {
    return "expected SAMPLE and BENCHMARK, got " + std::to_string(out.positional.size()) +
           " file argument(s); see 'sigdump compare --help'";
  }
  if (out.json && out.csv) return "--json and --csv exclude each other";
  if (out.one_per_row && !out.do_export) return "--one-per-row needs --export";
  return {};
}

/* --write-input-config: merges the advice's tensors into FILE's [CONV_CONFIG]
   section (through a temporary file renamed over it) and says what changed
   on stderr, so that --json on stdout stays one object. */
result<void> write_input_config(const std::string& path, const advice& adv) {
  if (adv.tensor_arrays.empty()) {
    std::fprintf(stderr, "sigdump: %s not written: %s\n", path.c_str(),
                 adv.what == advice::kind::preprocessing
                     ? "the input already differs (check the preprocessing), no INT16 advice"
                     : "no INT16 advice");
    return {};
  }
  std::string old;
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(errc::io, path, no_record, no_offset, "cannot read");
    old.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::vector<std::string> added;
  const std::string text = merge_conv_config(old, adv.tensor_arrays, &added);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      std::filesystem::remove(tmp, ec);
      return make_error(errc::io, path, no_record, no_offset, "cannot write " + tmp);
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return make_error(errc::io, path, no_record, no_offset, "cannot replace: " + ec.message());
  }
  std::string names;
  for (const auto& n : added) names += (names.empty() ? "" : ", ") + n;
  std::fprintf(stderr, "sigdump: %s: [CONV_CONFIG] tensor_arrays %s\n", path.c_str(),
               added.empty() ? "already lists the advice, unchanged" : ("+= " + names).c_str());
  return {};
}

bool color_wanted() {
  const char* no = std::getenv("NO_COLOR");
  return ::isatty(STDOUT_FILENO) == 1 && !(no && *no);
}

void write_stdout(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

int run_compare(const std::vector<std::string>& args) {
  compare_args a;
  if (auto err = parse_args(args, a); !err.empty()) return fail(err);

  auto in = load_compare_inputs(a.positional[0], a.sample_format, a.positional[1], a.bench_format,
                                a.name_map, a.quant_params, a.options);
  if (!in) return fail(in.error().describe());
  const dump_file* sample = &in->sample;
  const dump_file* bench = &in->bench;

  const std::uint64_t total = sample->current_mapping()->size() + bench->current_mapping()->size();
  progress_bar bar(total, progress_wanted(total));
  a.options.channel_evidence = true;
  a.options.progress = [&bar](std::uint64_t done, std::uint64_t all) { bar.update(done, all); };

  auto report = compare_dumps(*sample, *bench, a.options, in->quant_params_or_null());
  bar.finish();
  if (!report) return fail(report.error().describe());
  if (a.advice_all) limit_advice(report->advice, advice_more_all);
  if (a.all_channels) add_channel_evidence(*report, *sample, *bench, true, a.options.threads);
  warn_inputs(*report);

  if (a.json) {
    write_stdout(report_json(*report));
  } else if (a.csv) {
    write_stdout(report_csv(*report));
  } else {
    write_stdout(report_text(*report, color_wanted()));
  }

  if (a.do_export) {
    std::string dir = a.export_dir;
    if (dir.empty()) {
      dir = "Undefined_" + std::filesystem::path(a.positional[1]).filename().string() +
            "_DumpDebug_out";
    }
    const char* one = std::getenv("SAVE_ONE_ROW");
    const bool one_per_row = a.one_per_row || (one && std::string_view(one) == "1");
    if (auto r = export_layers(*report, *sample, *bench, dir, one_per_row); !r) {
      return fail(r.error().describe());
    }
  }
  if (!a.html.empty()) {
    if (auto r = write_html_report(a.html, *report, *sample, *bench); !r) {
      return fail(r.error().describe());
    }
  }
  if (!a.plot.empty()) {
    if (auto r = write_plot_svg(a.plot, *report); !r) return fail(r.error().describe());
  }
  if (!a.write_input_config.empty()) {
    if (auto r = write_input_config(a.write_input_config, report->advice); !r) {
      return fail(r.error().describe());
    }
  }
  if (!a.junit.empty()) {
    if (auto r = write_junit(a.junit, *report, a.allow_partial); !r) {
      return fail(r.error().describe());
    }
  }
  return verdict_ok(report->verdict(), a.allow_partial) ? exit_ok : exit_findings;
}

const command_registrar reg{
    command{"compare", "compare two dumps layer by layer (MSE, COS, RMSE), find the bad layer",
            compare_help, run_compare, true}};

}  // namespace
}  // namespace sigdump::cli
