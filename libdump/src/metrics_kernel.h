// Private: the chunked metric kernels shared by compute_metrics (one layer)
// and compare_dumps (many layers over a thread pool). A layer is cut into
// fixed-size chunks whose partial sums are combined in chunk order, so the
// result never depends on how many threads ran the chunks.
#pragma once

#include <cstdint>
#include <optional>

#include "sigdump/isa.h"
#include "sigdump/metrics.h"
#include "sigdump/tensor.h"

namespace sigdump::detail {

/* The fixed summation order: element i of a chunk goes to lane i % 8 of
   each sum, every lane adds its elements in order (no fused multiply-add),
   the lanes are added pairwise at the end of the chunk. */
inline constexpr unsigned sum_lanes = 8;

struct lane_sums {
  double ab[sum_lanes] = {}, aa[sum_lanes] = {}, bb[sum_lanes] = {}, dd[sum_lanes] = {},
         abs_d[sum_lanes] = {}, abs_b[sum_lanes] = {};
  double max_d = 0;  // largest non-NaN |a-b|: a maximum does not round, so one value will do
};

/* How stored values become doubles: real = (q - zero) * scale when dequantizing. */
struct widen_spec {
  dtype storage = dtype::f32;  // f32, u8, s8, u16, s16 or s32
  bool dequantize = false;
  double zero = 0, scale = 1;
};

/* One variant's kernels. The sums continue `acc` from lane 0: a call's
   first element must sit at a multiple of sum_lanes into its chunk. */
struct kernel_set {
  kernel_isa isa;
  void (*sum_f32)(const float* a, const float* b, std::uint64_t n, lane_sums& acc) noexcept;
  void (*sum_f64)(const double* a, const double* b, std::uint64_t n, lane_sums& acc) noexcept;
  /* out[i] = the real value of the i-th stored element at p. */
  void (*widen)(const widen_spec& w, const std::byte* p, std::uint64_t n, double* out) noexcept;
  /* The sums of two contiguous runs of stored values, widened as they are
     read (no buffer in between); wa, wb: f32 (not dequantized) or an
     integer type. Null where the variant has none: callers widen blocks
     and use sum_f64. */
  void (*sum_stored)(const widen_spec& wa, const std::byte* a, const widen_spec& wb,
                     const std::byte* b, std::uint64_t n, lane_sums& acc) noexcept;
};

/* The kernels of variant v (which this CPU must support). */
const kernel_set& kernels_for(kernel_isa v) noexcept;
/* The kernels of active_isa() (scalar if that is an error: callers check first). */
const kernel_set& active_kernels() noexcept;
/* active_isa()'s error, if any: what the comparing entry points return first. */
std::optional<error> kernel_error();

/* Elements per chunk: the unit of parallel work and of determinism. */
inline constexpr std::uint64_t chunk_elements = std::uint64_t{1} << 18;

/* Raw sums of one chunk (or of a whole layer once combined). */
using metric_sums = partial_sums;

/* The lane sums of a chunk added in the fixed order. */
metric_sums reduce_lanes(const lane_sums& v) noexcept;

inline std::uint64_t chunk_count(std::uint64_t elements) noexcept {
  return (elements + chunk_elements - 1) / chunk_elements;
}

/* Sums of elements [chunk * chunk_elements, ...) of sample vs bench read
   through layout. Does not allocate (safe under guarded_read). */
metric_sums chunk_sums(const tensor_view& sample, const tensor_view& bench, layout_choice layout,
                       std::uint64_t chunk) noexcept;

/* Adds elements [first, first + len) of sample vs bench, read in the same
   layout, to acc (continuing it, as chunk_sums does: first must sit at a
   multiple of sum_lanes into its chunk). Does not allocate. */
void add_same_layout(const tensor_view& sample, const tensor_view& bench, std::uint64_t first,
                     std::uint64_t len, lane_sums& acc) noexcept;

/* The metrics of sums over `elements` elements, without the NaN/Inf counts. */
layer_metrics sums_metrics(const metric_sums& s, std::uint64_t elements) noexcept;

/* Turns combined sums into metrics; counts NaN/Inf on a side only when its
   sums say one is there (a second pass, rare). */
layer_metrics finish_metrics(const metric_sums& s, const tensor_view& sample,
                             const tensor_view& bench, layout_choice layout);

/* vanished_error() for whichever of the two views' mappings holds
   fault_address (the sample's when neither does). */
error vanished_error(const tensor_view& sample, const tensor_view& bench,
                     const void* fault_address);

/* compute_metrics, taking chunk c's sums from (*done)[c] where set (only
   when layout is `same`; done may be null). */
result<layer_metrics> compute_metrics_reusing(const tensor_view& sample, const tensor_view& bench,
                                              layout_choice layout, unsigned threads,
                                              const chunk_sums_so_far* done);

/* Runs fn(i) for i in [0, count) on up to `threads` workers (0: hardware
   concurrency) pulling indices from an atomic counter. */
void parallel_for(std::uint64_t count, unsigned threads, void (*fn)(void*, std::uint64_t),
                  void* ctx);

}  // namespace sigdump::detail
