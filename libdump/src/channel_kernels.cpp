// The per-channel evidence's hot loops, compiled once per instruction-set
// variant from one body (target attributes, picked at run time like the
// metric kernels): the loops are vertical across channels or a test of a
// fixed group, so the compiler vectorizes them at each width without
// changing any channel's order of additions; libdump's -ffp-contract=off
// keeps AVX-512 from fusing a*b+c.
#include "channel_kernels.h"

#include <cmath>
#include <limits>

namespace sigdump::detail {
namespace {

constexpr double infinity = std::numeric_limits<double>::infinity();

namespace base {  // the baseline x86-64 (SSE2) or portable build
constexpr int W = 2;
#include "channel_kernels_body.inc"
}  // namespace base
constexpr channel_kernel_set base_set{kernel_isa::scalar, &base::add_rows, &base::next_group};

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SIGDUMP_CH_X86 1

#pragma GCC push_options
#pragma GCC target("avx2")
namespace avx2 {
constexpr int W = 4;
#include "channel_kernels_body.inc"
}  // namespace avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f")
namespace avx512 {
constexpr int W = 8;
#include "channel_kernels_body.inc"
}  // namespace avx512
#pragma GCC pop_options

constexpr channel_kernel_set avx2_set{kernel_isa::avx2, &avx2::add_rows, &avx2::next_group};
constexpr channel_kernel_set avx512_set{kernel_isa::avx512, &avx512::add_rows, &avx512::next_group};

#endif

}  // namespace

const channel_kernel_set& channel_kernels_for(kernel_isa v) noexcept {
#ifdef SIGDUMP_CH_X86
  switch (v) {
    case kernel_isa::avx512: return avx512_set;
    case kernel_isa::avx2: return avx2_set;
    case kernel_isa::sse2:  // the baseline x86-64 build is SSE2
    case kernel_isa::scalar: break;
  }
#else
  (void)v;
#endif
  return base_set;
}

}  // namespace sigdump::detail
