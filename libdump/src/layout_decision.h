// Private: the layout decision behind first_layout() and the equal-shape
// retry of compare_layer.
#pragma once

#include <cstdint>
#include <vector>

#include "sigdump/layout.h"

namespace sigdump::detail {

/* The layout to read the benchmark with, and whether the equal-shape retry
   applies (shapes equal and a transposed read would also fit). */
struct layout_decision {
  layout_choice layout = layout_choice::same;
  std::vector<layout_choice> retry;
};

/* The decision for a sample of shape `s` against a benchmark of shape `b`:
   4-D shapes that are each other's transposition read through it; equal
   4-D shapes read as `same` with the transpositions that fit as retries;
   anything else (same element count) compared flat, like the vendor. */
layout_decision decide_layout(const std::vector<std::int64_t>& s,
                              const std::vector<std::int64_t>& b);

}  // namespace sigdump::detail
