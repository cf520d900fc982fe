// Private: value histograms of a sample layer and its benchmark for the
// HTML report's suspect layers, with running min / max / mean.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "histogram_svg.h"
#include "sigdump/error.h"
#include "sigdump/layout.h"
#include "sigdump/tensor.h"

namespace sigdump::detail {

/* Running min, max and mean of the finite values; NaN and Inf are counted
   apart. */
struct running {
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double sum = 0;
  std::uint64_t finite = 0, nonfinite = 0;
  void add(double v) {
    if (!std::isfinite(v)) {
      ++nonfinite;
      return;
    }
    min = std::min(min, v);
    max = std::max(max, v);
    sum += v;
    ++finite;
  }
  double mean() const { return finite ? sum / static_cast<double>(finite) : 0.0; }
};

/* Both sides' values over the same bins, and their differences. */
struct pair_histograms {
  std::uint64_t elements = 0;
  running sample, bench, diff;  // diff = sample - benchmark, where both are finite
  histogram sample_values, bench_values, diffs;
};

/* Value and difference histograms of sample `s` against benchmark `b`
   read through `layout`, with `bins` bins each: two passes over both
   tensors, ranges first, then counts, each chunk under a SIGBUS guard
   (errc::truncated naming the file when bytes vanished). */
result<pair_histograms> compute_pair_histograms(const tensor_view& s, const tensor_view& b,
                                                layout_choice layout, std::uint32_t bins);

}  // namespace sigdump::detail
