// Layouts: how the benchmark's elements are read to line up with the
// sample's (the same order, or a 4-D tensor transposed between NCHW and
// NHWC), and which one a comparison starts with (docs/format.md, "Layout").
#pragma once

#include <cstdint>
#include <vector>

namespace sigdump {

enum class layout_choice : std::uint8_t { same, benchmark_nchw_to_nhwc, benchmark_nhwc_to_nchw };
/* "same", "benchmark_nchw_to_nhwc", "benchmark_nhwc_to_nchw" */
const char* layout_name(layout_choice l) noexcept;

/* The shape a benchmark of shape `bench_shape` presents when read through
   `layout` (bench_shape itself for `same` or a non-4-D shape). */
std::vector<std::int64_t> layout_shape(const std::vector<std::int64_t>& bench_shape,
                                       layout_choice layout);

/* The layout compare_layer first reads a benchmark of `bench_shape` with
   for a sample of `sample_shape` (a retry may pick another afterwards). */
layout_choice first_layout(const std::vector<std::int64_t>& sample_shape,
                           const std::vector<std::int64_t>& bench_shape);

}  // namespace sigdump
