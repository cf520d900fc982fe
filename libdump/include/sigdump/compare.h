// Layer-by-layer comparison of a sample dump against a benchmark dump, with
// exactly the vendor's numbers (FORMAT.md, "How the vendor compares") and
// more. Usable offline on finished files and incrementally by the daemon:
// compare_layer() on each layer as it lands, then summarize() over the list.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "sigdump/dump_file.h"
#include "sigdump/error.h"
#include "sigdump/record.h"
#include "sigdump/tensor.h"

namespace sigdump {

struct thresholds {
  double cos_min = 0.99;  // COS below this is suspect
  double rmse_max = 0.1;  // RMSE above this is suspect
};

enum class layout_choice : std::uint8_t { same, benchmark_nchw_to_nhwc, benchmark_nhwc_to_nchw };
/* "same", "benchmark_nchw_to_nhwc", "benchmark_nhwc_to_nchw" */
const char* layout_name(layout_choice l) noexcept;

struct layer_metrics {
  std::uint64_t n = 0;
  double mse = 0, cos = 0, rmse = 0;  // the vendor's three (RMSE = relative L1)
  double max_abs = 0, sqnr_db = 0, rel_l2 = 0;
  std::uint64_t sample_nan = 0, sample_inf = 0, bench_nan = 0, bench_inf = 0;
  // Both sides entirely zero: identical, though COS is 0 by the vendor's rule.
  bool all_zero = false;
};

/* Whether metrics break the thresholds: COS < cos_min or RMSE > rmse_max, a
   NaN metric counting as broken; two all-zero tensors are never suspect. */
bool is_suspect(const layer_metrics& m, const thresholds& t) noexcept;

/* Metrics of sample vs benchmark read through `layout` (a transposing read
   of the benchmark when not `same`). Element counts must match. Accumulates
   in double; splits large layers over `threads` (0: hardware concurrency). */
result<layer_metrics> compute_metrics(const tensor_view& sample, const tensor_view& bench,
                                      layout_choice layout, unsigned threads = 1);

/* Raw sums of one chunk of a layer (or of several, combined in chunk order):
   what a comparison accumulates before it becomes layer_metrics. */
struct partial_sums {
  double ab = 0, aa = 0, bb = 0, dd = 0, abs_d = 0, abs_b = 0, max_d = 0;
  bool max_nan = false;  // some |a-b| was NaN

  void add(const partial_sums& o) noexcept;
};

/* Elements per chunk: chunk k of a layer is elements [k*E, min((k+1)*E, n)).
   The unit of parallel work and of determinism: chunk sums combined in
   chunk order give the same metrics however and whenever they were made. */
std::uint64_t compare_chunk_elements() noexcept;

/* Sums of chunk `chunk` of sample vs bench read with the `same` layout,
   under one SIGBUS guard (errc::truncated naming the file, record and
   offset when bytes vanished). Reads only that chunk's elements, so the
   sample may be a record still being written (dump_file::pending_view)
   whose later chunks are not in the file yet. Element counts must match. */
result<partial_sums> compute_chunk(const tensor_view& sample, const tensor_view& bench,
                                   std::uint64_t chunk);

/* Copies real values [first, first+out.size()) of `v` as seen through `layout`
   (v is the benchmark; a transposing layout yields them in the sample's order). */
void read_values(const tensor_view& v, layout_choice layout, std::uint64_t first,
                 std::span<double> out) noexcept;

/* The shape a benchmark of shape `bench_shape` presents when read through
   `layout` (bench_shape itself for `same` or a non-4-D shape). */
std::vector<std::int64_t> layout_shape(const std::vector<std::int64_t>& bench_shape,
                                       layout_choice layout);

/* How a sample record found its benchmark record. */
enum class match_rule : std::uint8_t { exact, sanitized, name_map };
/* "exact", "sanitized", "name_map" */
const char* match_rule_name(match_rule r) noexcept;

struct compare_options {
  struct thresholds thresholds;
  bool include_constants = false;
  bool include_inputs = false;
  std::unordered_map<std::string, std::string> name_map;  // sample name -> benchmark name
  unsigned threads = 0;                                   // 0: hardware concurrency
  /* Called from the comparing threads with bytes done so far and the total. */
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
};

/* Whether a sample record takes part in a comparison under these options. */
bool is_compared(const record& r, const compare_options& options) noexcept;

/* Finds the benchmark record for a sample record: exact name + kind + port,
   then sanitized name, then the name map. Returns -1 when none. */
std::int64_t match_record(const dump_file& bench, const record& sample,
                          const compare_options& options, match_rule* rule = nullptr);

/* Same, picking among repeated benchmark records (repeated runs in one file)
   the `ordinal`-th candidate (0-based) when there are that many, else the last. */
std::int64_t match_record(const dump_file& bench, const record& sample, std::uint32_t ordinal,
                          const compare_options& options, match_rule* rule = nullptr);

/* How many records before `record` in `file` carry the same name, kind and
   port (0 for the first occurrence): the ordinal to pass to match_record. */
std::uint32_t occurrence_ordinal(const dump_file& file, std::uint32_t record);

/* Every compared sample record paired with its benchmark record, in sample
   order, plus the names found on one side only (not errors). */
struct layer_plan {
  struct pair {
    std::uint32_t sample_record = 0;
    std::uint32_t bench_record = 0;
    match_rule rule = match_rule::exact;
  };
  std::vector<pair> pairs;
  std::vector<std::string> unmatched_sample, unmatched_benchmark;
};
layer_plan plan_layers(const dump_file& sample, const dump_file& bench,
                       const compare_options& options);

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
};

/* Compares one matched pair with the vendor's layout rules and thresholds.
   Never fails: a pair that cannot be compared comes back with `error` set.
   The caller sets `index` (report position); `rule` is derived from the names.
   Daemon use, per layer as it lands: r = match_record(bench, rec, ordinal,
   opts, &rule); if r >= 0, push compare_layer(...) into report.layers with
   its index, then summarize(report, sample). */
layer_result compare_layer(const dump_file& sample, std::uint32_t sample_record,
                           const dump_file& bench, std::uint32_t bench_record,
                           const compare_options& options);

/* Chunks of a layer already summed with the `same` layout (compute_chunk
   over the same bytes), by chunk index; empty entries are computed. */
using chunk_sums_so_far = std::vector<std::optional<partial_sums>>;

/* compare_layer reusing `done` where it first reads the benchmark with the
   `same` layout (a transposing first layout ignores it): the streamed
   comparison of a layer summed while it was written. Same result as
   compare_layer whenever `done` holds sums of these bytes. */
layer_result compare_layer(const dump_file& sample, std::uint32_t sample_record,
                           const dump_file& bench, std::uint32_t bench_record,
                           const compare_options& options, const chunk_sums_so_far& done);

/* The layout compare_layer first reads a benchmark of `bench_shape` with
   for a sample of `sample_shape` (a retry may pick another afterwards). */
layout_choice first_layout(const std::vector<std::int64_t>& sample_shape,
                           const std::vector<std::int64_t>& bench_shape);

struct diagnosis {
  enum class kind : std::uint8_t { none, jump, drift, oscillation } what = kind::none;
  std::int64_t at = -1;  // layer index (report position) the diagnosis points at
  std::string text;
};
const char* diagnosis_kind_name(diagnosis::kind k) noexcept;

struct first_bad_layer {
  std::uint32_t index = 0;
  std::string name;
  std::string reason;  // "COS 0.912 < 0.99", "RMSE 0.31 > 0.1", "not comparable: ..."
};

/* One entry of the JSON save_quant_param.py writes. */
struct quant_param {
  std::string name;
  std::vector<double> min, max;
  int bit = 8;
};
/* Parses that JSON (simdjson); errors name the file and the element. */
result<std::vector<quant_param>> load_quant_params(const std::string& path);
/* Parses a name map: JSON object of sample name -> benchmark name. */
result<std::unordered_map<std::string, std::string>> load_name_map(const std::string& path);

struct advice {
  std::vector<std::string> tensor_arrays;    // first input tensor of each suspect conv
  std::string input_config;                  // ready-to-paste [CONV_CONFIG] block
  std::string text;                          // explanation, marks guesses
  std::vector<std::string> wide_range_8bit;  // from quant params: 8-bit, max-min > 20
};

struct compare_report {
  std::string sample_path, benchmark_path;
  struct thresholds thresholds;
  std::vector<layer_result> layers;
  std::optional<first_bad_layer> first_bad;
  struct diagnosis diagnosis;
  std::vector<std::string> unmatched_sample, unmatched_benchmark;
  struct advice advice;
  std::uint64_t bytes_compared = 0;

  bool any_suspect_or_error() const noexcept;
};

/* Fills first_bad, diagnosis and advice from report.layers (the daemon
   calls it again as layers arrive). */
void summarize(compare_report& report, const dump_file& sample,
               const std::vector<quant_param>* quant_params = nullptr);

/* The whole offline comparison. */
result<compare_report> compare_dumps(const dump_file& sample, const dump_file& bench,
                                     const compare_options& options,
                                     const std::vector<quant_param>* quant_params = nullptr);

}  // namespace sigdump
