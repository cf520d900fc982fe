// The per-layer metrics of a sample tensor against its benchmark: exactly
// the vendor's MSE, COS and RMSE (docs/format.md, "How the vendor compares") and
// more, the thresholds that make a layer suspect, and the chunked sums the
// metrics are made of (the unit of parallel and of streamed work).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "sigdump/error.h"
#include "sigdump/layout.h"
#include "sigdump/tensor.h"

namespace sigdump {

struct thresholds {
  double cos_min = 0.99;  // COS below this is suspect
  double rmse_max = 0.1;  // RMSE above this is suspect
};

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

/* Chunks of a layer already summed with the `same` layout (compute_chunk
   over the same bytes), by chunk index; empty entries are computed. */
using chunk_sums_so_far = std::vector<std::optional<partial_sums>>;

/* Copies real values [first, first+out.size()) of `v` as seen through `layout`
   (v is the benchmark; a transposing layout yields them in the sample's order). */
void read_values(const tensor_view& v, layout_choice layout, std::uint64_t first,
                 std::span<double> out) noexcept;

}  // namespace sigdump
