// Private: the hot loops of the per-channel evidence (channel_metrics.cpp),
// one set per instruction-set variant like the metric kernels, picked by
// the same SIGDUMP_ISA / use_isa() choice. Every variant adds in the same
// order (vertical adds across channels, each channel in element order, no
// fused multiply-add), so the evidence is the same to the bit; only the
// vector width differs.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sigdump/isa.h"

namespace sigdump::detail {

/* Pointers to channel c's entry of each per-channel sum (one array per sum). */
struct channel_row {
  double *ab, *aa, *bb, *dd, *abs_d, *abs_b, *max_d, *peak, *max_nan;  // max_nan: 1 or 0
  std::uint64_t* n;
};

/* Elements of the largest-differences search are tested in groups of this many. */
inline constexpr std::uint64_t candidate_group = 8;

struct channel_kernel_set {
  kernel_isa isa;
  /* Adds elements j * stride + k of x and y to channel k of `row`, for
     k < width, j < rows in order (rows of channels: channel axis last).
     The sums must not overlap x or y. */
  void (*add_rows)(const channel_row& row, const double* x, const double* y, std::size_t width,
                   std::size_t rows, std::size_t stride) noexcept;
  /* The first g = from + m * candidate_group, g + candidate_group <= len,
     whose group holds an element with |x-y| != 0 and not below at_least
     (a NaN |x-y| passes); else the first g past the last whole group. */
  std::uint64_t (*next_candidate_group)(const double* x, const double* y, std::uint64_t from,
                                        std::uint64_t len, double at_least) noexcept;
};

/* The evidence kernels of variant v (which this CPU must support). */
const channel_kernel_set& channel_kernels_for(kernel_isa v) noexcept;

}  // namespace sigdump::detail
