// Private: the chunked metric kernels shared by compute_metrics (one layer)
// and compare_dumps (many layers over a thread pool). A layer is cut into
// fixed-size chunks whose partial sums are combined in chunk order, so the
// result never depends on how many threads ran the chunks.
#pragma once

#include <cstdint>

#include "sigdump/metrics.h"
#include "sigdump/tensor.h"

namespace sigdump::detail {

/* Elements per chunk: the unit of parallel work and of determinism. */
inline constexpr std::uint64_t chunk_elements = std::uint64_t{1} << 18;

/* Raw sums of one chunk (or of a whole layer once combined). */
using metric_sums = partial_sums;

inline std::uint64_t chunk_count(std::uint64_t elements) noexcept {
  return (elements + chunk_elements - 1) / chunk_elements;
}

/* Sums of elements [chunk * chunk_elements, ...) of sample vs bench read
   through layout. Does not allocate (safe under guarded_read). */
metric_sums chunk_sums(const tensor_view& sample, const tensor_view& bench, layout_choice layout,
                       std::uint64_t chunk) noexcept;

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
