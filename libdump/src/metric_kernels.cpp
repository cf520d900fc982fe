// The metric kernels' dispatch: the kernel_set of each instruction-set
// variant (picked at run time by isa.cpp), and the lane reduction they all
// end a chunk with. Each variant lives in its own file, hand-written with
// intrinsics: metric_kernels_scalar.cpp (portable), metric_kernels_sse2.cpp,
// metric_kernels_avx2.cpp and metric_kernels_avx512.cpp. Every set keeps the
// fixed summation order of metrics_kernel.h: eight double lanes per sum
// (one AVX-512 register, two AVX2 ones, four SSE2 ones, an array in the
// portable code), each lane adding its elements in element order, and no
// fused multiply-add that rounds differently (libdump is built with
// -ffp-contract=off; the AVX2 and AVX-512 kernels fuse only the products
// of two floats, which a double holds exactly: see avx2_step). Only the
// speed differs; a change to the summation order is made to all of them.
#include <cmath>

#include "metric_kernels_shared.h"

namespace sigdump::detail {

const kernel_set& kernels_for(kernel_isa v) noexcept {
#ifdef SIGDUMP_X86
  switch (v) {
    case kernel_isa::avx512: return avx512_kernels;
    case kernel_isa::avx2: return avx2_kernels;
    case kernel_isa::sse2: return sse2_kernels;
    case kernel_isa::scalar: break;
  }
#else
  (void)v;
#endif
  return portable_kernels;
}

metric_sums reduce_lanes(const lane_sums& v) noexcept {
  auto tree = [](const double* x) {
    return ((x[0] + x[1]) + (x[2] + x[3])) + ((x[4] + x[5]) + (x[6] + x[7]));
  };
  metric_sums s;
  s.ab = tree(v.ab);
  s.aa = tree(v.aa);
  s.bb = tree(v.bb);
  s.dd = tree(v.dd);
  s.abs_d = tree(v.abs_d);
  s.abs_b = tree(v.abs_b);
  s.max_d = v.max_d;
  s.max_nan = std::isnan(s.dd);
  return s;
}

}  // namespace sigdump::detail
