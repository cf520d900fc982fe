// The per-channel evidence's hot loops, compiled once per instruction-set
// variant from one body (target attributes, picked at run time like the
// metric kernels): the loops are vertical across channels or a test of a
// fixed group, so the compiler vectorizes them at each width without
// changing any channel's order of additions; libdump's -ffp-contract=off
// keeps AVX-512 from fusing a*b+c. On x86 each variant names its float
// widening and its maximum (x86's max is `a > b ? a : b`, the second
// operand on a NaN: the body's definition) with intrinsics, which GCC 12
// does not find from the generic code at every width.
#include "channel_kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "x86_intrinsics.h"

namespace sigdump::detail {
namespace {

constexpr double infinity = std::numeric_limits<double>::infinity();

namespace base {  // the baseline x86-64 (SSE2) or portable build
constexpr int W = 2;
#ifdef SIGDUMP_X86
#define SIGDUMP_CH_WIDEN(p) \
  _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))))
#define SIGDUMP_CH_MAX(a, b) _mm_max_pd(a, b)
#define SIGDUMP_CH_ANY(m) (_mm_movemask_pd(_mm_castsi128_pd(m)) != 0)
#endif
#include "channel_kernels_body.inc"
}  // namespace base
constexpr channel_kernel_set base_set{kernel_isa::scalar,
                                      {&base::add_rows<double>, &base::next_group<double>},
                                      {&base::add_rows<float>, &base::next_group<float>}};

#ifdef SIGDUMP_X86

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
constexpr int W = 4;
#define SIGDUMP_CH_FMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define SIGDUMP_CH_WIDEN(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#define SIGDUMP_CH_MAX(a, b) _mm256_max_pd(a, b)
#define SIGDUMP_CH_ANY(m) (_mm256_testz_si256(m, m) == 0)
#include "channel_kernels_body.inc"
}  // namespace avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f")
namespace avx512 {
constexpr int W = 8;
#define SIGDUMP_CH_FMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define SIGDUMP_CH_WIDEN(p) _mm512_cvtps_pd(_mm256_loadu_ps(p))
#define SIGDUMP_CH_MAX(a, b) _mm512_max_pd(a, b)
#define SIGDUMP_CH_ANY(m) (_mm512_test_epi64_mask(m, m) != 0)
#include "channel_kernels_body.inc"
}  // namespace avx512
#pragma GCC pop_options

constexpr channel_kernel_set avx2_set{kernel_isa::avx2,
                                      {&avx2::add_rows<double>, &avx2::next_group<double>},
                                      {&avx2::add_rows<float>, &avx2::next_group<float>}};
constexpr channel_kernel_set avx512_set{kernel_isa::avx512,
                                        {&avx512::add_rows<double>, &avx512::next_group<double>},
                                        {&avx512::add_rows<float>, &avx512::next_group<float>}};

#endif

}  // namespace

const channel_kernel_set& channel_kernels_for(kernel_isa v) noexcept {
#ifdef SIGDUMP_X86
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
