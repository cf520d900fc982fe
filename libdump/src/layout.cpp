// Which layout a comparison reads the benchmark with first, and which it
// may retry with (docs/format.md, "Layout"). layout_name and layout_shape are
// defined with the metric kernels that read through them (metrics.cpp).
#include "layout_decision.h"

namespace sigdump {

namespace detail {

namespace {

bool is_permutation_of(const std::vector<std::int64_t>& logical,
                       const std::vector<std::int64_t>& sample) {
  return logical == sample;
}

}  // namespace

layout_decision decide_layout(const std::vector<std::int64_t>& s,
                              const std::vector<std::int64_t>& b) {
  layout_decision d;
  if (s.size() != 4 || b.size() != 4) return d;
  constexpr layout_choice transposes[] = {layout_choice::benchmark_nchw_to_nhwc,
                                          layout_choice::benchmark_nhwc_to_nchw};
  if (s == b) {
    for (layout_choice l : transposes) {
      if (is_permutation_of(layout_shape(b, l), s)) d.retry.push_back(l);
    }
    return d;
  }
  for (layout_choice l : transposes) {
    if (is_permutation_of(layout_shape(b, l), s)) {
      d.layout = l;
      return d;
    }
  }
  return d;  // same element count, unrelated shapes: compared flat like the vendor
}

}  // namespace detail

layout_choice first_layout(const std::vector<std::int64_t>& sample_shape,
                           const std::vector<std::int64_t>& bench_shape) {
  return detail::decide_layout(sample_shape, bench_shape).layout;
}

}  // namespace sigdump
