// The vendor's per-layer numbers over two float arrays, for
// `sigdump simulate --check` (each layer of a fixed run against the float
// run).
#pragma once

#include <span>

namespace sigdump::sim {

/* The vendor's per-layer numbers (docs/format.md): MSE, COS, RMSE (relative L1). */
struct sim_metrics {
  double mse = 0, cos = 0, rmse = 0;
};
/* sample vs benchmark, equal sizes (the shorter length is used otherwise). */
sim_metrics vendor_metrics(std::span<const float> sample, std::span<const float> bench) noexcept;

}  // namespace sigdump::sim
