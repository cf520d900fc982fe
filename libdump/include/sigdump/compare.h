// Comparing a sample dump against a benchmark dump layer by layer: one
// matched pair at a time (compare_layer, what the daemon does as layers
// land) or two whole files (compare_dumps), and the report both build,
// summarized by summarize(). The pieces have their own headers: metrics.h,
// layout.h, matching.h, plan.h, diagnosis.h, advice.h, quant_params.h; the
// renderings are in the report library (sigdump/report/).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sigdump/advice.h"
#include "sigdump/channel_metrics.h"
#include "sigdump/compare_options.h"
#include "sigdump/coverage.h"
#include "sigdump/diagnosis.h"
#include "sigdump/dump_file.h"
#include "sigdump/error.h"
#include "sigdump/input_checks.h"
#include "sigdump/layout.h"
#include "sigdump/matching.h"
#include "sigdump/metrics.h"
#include "sigdump/quant_params.h"

namespace sigdump {

struct layer_result {
  std::uint32_t index = 0;          // position in the report (0-based, execution order)
  std::uint32_t sample_record = 0;  // record index in the sample file
  std::int64_t bench_record = -1;   // record index in the benchmark file
  std::string name, benchmark_name, op;
  std::vector<std::int64_t> shape;
  match_rule rule = match_rule::exact;
  layer_metrics metrics;
  layout_choice layout = layout_choice::same;
  bool suspect = false;
  std::string error;  // non-empty: could not be compared, metrics unset
  /* Per-channel evidence: set by compare_dumps for suspect layers when
     compare_options::channel_evidence is on, and by add_channel_evidence. */
  std::optional<channel_evidence> channels;
};

/* Compares one matched pair with the vendor's layout rules and thresholds.
   Never fails: a pair that cannot be compared comes back with `error` set.
   The caller sets `index` (report position); `rule` is derived from the names.
   Daemon use, per layer as it lands: r = match_record(bench, rec, ordinal,
   opts, &rule); if r >= 0, push compare_layer(...) into report.layers with
   its index, then diagnose_report(report). */
layer_result compare_layer(const dump_file& sample, std::uint32_t sample_record,
                           const dump_file& bench, std::uint32_t bench_record,
                           const compare_options& options);

/* compare_layer reusing `done` where it first reads the benchmark with the
   `same` layout (a transposing first layout ignores it): the streamed
   comparison of a layer summed while it was written. Same result as
   compare_layer whenever `done` holds sums of these bytes. */
layer_result compare_layer(const dump_file& sample, std::uint32_t sample_record,
                           const dump_file& bench, std::uint32_t bench_record,
                           const compare_options& options, const chunk_sums_so_far& done);

struct compare_report {
  std::string sample_path, benchmark_path;
  struct thresholds thresholds;
  std::vector<layer_result> layers;
  std::optional<first_bad_layer> first_bad;
  struct diagnosis diagnosis;
  std::vector<std::string> unmatched_sample, unmatched_benchmark;
  struct advice advice;
  std::uint64_t bytes_compared = 0;
  /* sample_layers, sample_only(_layers), benchmark_only and pending are
     set by whoever builds the report (compare_dumps, the daemon); the rest
     by summarize(). */
  struct coverage coverage;
  /* Suspicious inputs (input_checks.h): set by compare_dumps, and by the
     daemon when a run ends. */
  std::vector<input_warning> warnings;

  bool any_suspect_or_error() const noexcept;
  /* Layers flagged suspect. */
  std::uint64_t suspect_count() const noexcept;
  /* judge(coverage, suspect_count()) (coverage.h). */
  enum verdict verdict() const noexcept;
};

/* Fills first_bad, diagnosis, advice and the rest of coverage (compared,
   not_comparable, benchmark_ends_at; pending as what is left of
   sample_layers) from report.layers: diagnose_report(), then the advice. */
void summarize(compare_report& report, const dump_file& sample,
               const std::vector<quant_param>* quant_params = nullptr);

/* The advice alone (what summarize() adds to diagnose_report()), for a
   report whose diagnosis is up to date. */
void advise_report(compare_report& report, const dump_file& sample,
                   const std::vector<quant_param>* quant_params = nullptr);

/* summarize() without the advice: first_bad, diagnosis and the coverage
   counts (count_coverage). Linear in the layer count. */
void diagnose_report(compare_report& report);

/* Fills report.coverage's compared, not_comparable, sample_only,
   benchmark_ends_at and pending (what is left of sample_layers) from
   report.layers and coverage.sample_only_layers. summarize() calls it; the
   daemon calls it too when a sample layer is settled without a result. */
void count_coverage(compare_report& report);

/* The whole offline comparison. */
result<compare_report> compare_dumps(const dump_file& sample, const dump_file& bench,
                                     const compare_options& options,
                                     const std::vector<quant_param>* quant_params = nullptr);

}  // namespace sigdump
