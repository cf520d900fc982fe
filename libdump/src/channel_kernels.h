// Private: the hot loops of the per-channel evidence (channel_metrics.cpp),
// one set per instruction-set variant like the metric kernels, picked by
// the same SIGDUMP_ISA / use_isa() choice. Every variant adds in the same
// order (vertical adds across channels, each channel in element order, no
// fused multiply-add that rounds differently: the AVX2 and AVX-512 loops
// fuse only products of two floats, exact in a double), so the evidence is
// the same to the bit; only the vector width differs. Each loop reads
// doubles (values widened into a block first) or plain floats in place
// (widened in registers: a float widens to the same double whichever
// instruction does it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "sigdump/isa.h"

namespace sigdump::detail {

/* Pointers to channel c's entry of each per-channel sum (one array per sum).
   No NaN flag: |a-b| >= 0, so a channel's sum of |a-b| is NaN exactly when
   one of its |a-b| is. */
struct channel_row {
  double *ab, *aa, *bb, *dd, *abs_d, *abs_b, *max_d, *peak;
  std::uint64_t* n;
};

/* Elements of the largest-differences search are tested in groups of this many. */
inline constexpr std::uint64_t candidate_group = 8;

/* The loops over values of type T (double or float). x and y may sit at
   any byte offset (a dump's payload): they are read as bytes. */
template <class T>
struct channel_loops {
  /* Adds elements j * stride + k of x and y to channel k of `row`, for
     k < width, j < rows in order (rows of channels: channel axis last).
     The sums must not overlap x or y. Returns whether an element has
     |x-y| not below at_least (> 0) or NaN: a candidate of the search. */
  bool (*add_rows)(const channel_row& row, const T* x, const T* y, std::size_t width,
                   std::size_t rows, std::size_t stride, double at_least) noexcept;
  /* The first g = from + m * candidate_group, g + candidate_group <= len,
     whose group holds an element with |x-y| not below at_least (> 0: so
     never an equal pair) or NaN; else the first g past the last whole
     group. */
  std::uint64_t (*next_candidate_group)(const T* x, const T* y, std::uint64_t from,
                                        std::uint64_t len, double at_least) noexcept;
};

struct channel_kernel_set {
  kernel_isa isa;
  channel_loops<double> f64;  // blocks widened first (integers, text, a transposed read)
  channel_loops<float> f32;   // plain floats read in place

  template <class T>
  const channel_loops<T>& loops() const noexcept {
    if constexpr (std::is_same_v<T, float>) {
      return f32;
    } else {
      return f64;
    }
  }
};

/* The evidence kernels of variant v (which this CPU must support). */
const channel_kernel_set& channel_kernels_for(kernel_isa v) noexcept;

}  // namespace sigdump::detail
