// Private: a value histogram and its SVG drawing, for the HTML report's
// suspect layers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sigdump::detail {

/* A histogram over [lo, hi) with bins.size() equal bins (the last one
   closed); values outside are not counted. */
struct histogram {
  double lo = 0, hi = 1;
  std::vector<std::uint64_t> bins;
};

/* Two histograms drawn over the same bins (sample and benchmark values),
   or one when `second` is null. `id` names the <svg> element; `caption`
   is shown above the bars. Bar heights are log-scaled counts. */
std::string render_histogram_svg(std::string_view id, std::string_view caption,
                                 const histogram& first, std::string_view first_label,
                                 const histogram* second, std::string_view second_label);

}  // namespace sigdump::detail
