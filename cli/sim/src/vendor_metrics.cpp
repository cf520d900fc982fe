// The vendor's MSE, COS and RMSE (relative L1) over two float arrays.
#include "sigdump/sim/vendor_metrics.h"

#include <algorithm>
#include <cmath>

namespace sigdump::sim {

sim_metrics vendor_metrics(std::span<const float> sample, std::span<const float> bench) noexcept {
  const std::size_t n = std::min(sample.size(), bench.size());
  double se = 0, ab = 0, aa = 0, bb = 0, ad = 0, abs_b = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double a = sample[i], b = bench[i];
    se += (a - b) * (a - b);
    ab += a * b;
    aa += a * a;
    bb += b * b;
    ad += std::fabs(a - b);
    abs_b += std::fabs(b);
  }
  sim_metrics m;
  m.mse = n ? se / static_cast<double>(n) : 0;
  m.cos = aa > 0 && bb > 0 ? ab / (std::sqrt(aa) * std::sqrt(bb)) : 0;
  m.rmse = abs_b > 0 ? ad / abs_b : 0;
  return m;
}

}  // namespace sigdump::sim
