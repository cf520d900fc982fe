// The portable metric kernels (kernel_isa::scalar): plain C++ in the fixed
// summation order of metrics_kernel.h, the reference every other variant
// must agree with to the bit, and the only set on a CPU other than x86-64.
// Their widening also finishes the other variants' stored-sum tails.
#include <cmath>

#include "metric_kernels_shared.h"

namespace sigdump::detail {
namespace {

template <class T>
void sum_portable(const T* a, const T* b, std::uint64_t n, lane_sums& out) noexcept {
  // A local copy: the values are read as bytes, which the compiler must
  // assume could be `out` itself.
  lane_sums s = out;
  double mx = s.max_d;
  auto one = [&](unsigned l, double x, double y) {
    const double d = x - y;
    s.ab[l] += x * y;
    s.aa[l] += x * x;
    s.bb[l] += y * y;
    s.dd[l] += d * d;
    const double ad = std::fabs(d);
    s.abs_d[l] += ad;
    s.abs_b[l] += std::fabs(y);
    mx = ad > mx ? ad : mx;  // a NaN difference leaves the max alone; dd records it
  };
  // Payloads sit at any byte offset in a dump: values are copied out, not
  // read through a pointer that may be misaligned for T.
  auto at = [](const T* p, std::uint64_t k) {
    return load_one<T>(reinterpret_cast<const std::byte*>(p) + k * sizeof(T));
  };
  std::uint64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    for (unsigned l = 0; l < lanes; ++l) one(l, at(a, i + l), at(b, i + l));
  }
  for (unsigned l = 0; i + l < n; ++l) one(l, at(a, i + l), at(b, i + l));
  s.max_d = mx;
  out = s;
}

void sum_f32_portable(const float* a, const float* b, std::uint64_t n, lane_sums& s) noexcept {
  sum_portable(a, b, n, s);
}

void sum_f64_portable(const double* a, const double* b, std::uint64_t n, lane_sums& s) noexcept {
  sum_portable(a, b, n, s);
}

}  // namespace

constinit const kernel_set portable_kernels{kernel_isa::scalar, &sum_f32_portable,
                                            &sum_f64_portable, &widen_portable, nullptr};

}  // namespace sigdump::detail
