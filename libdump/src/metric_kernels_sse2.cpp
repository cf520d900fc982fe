// The SSE2 metric kernels (kernel_isa::sse2, the baseline of every x86-64
// CPU, so no target attribute): eight double lanes per sum as four
// registers, in the fixed summation order of metrics_kernel.h; no stored
// sums (callers widen blocks and use sum_f64). Picked at run time (isa.cpp).
#include <type_traits>

#include "metric_kernels_shared.h"

#ifdef SIGDUMP_X86

namespace sigdump::detail {
namespace {

// Eight lanes are four registers per sum: the six sums need 24 of the 16
// registers, so a block is summed in two passes from the L1 cache, three
// sums each. Every lane still adds its elements in order.

SIGDUMP_INLINE __m128d load2(const float* p) noexcept {
  return _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
SIGDUMP_INLINE __m128d load2(const double* p) noexcept { return _mm_loadu_pd(p); }

struct sse2_products {
  __m128d ab[4], aa[4], bb[4];
};
struct sse2_differences {
  __m128d dd[4], sad[4], sab[4];
};

// n: a multiple of eight.
template <class T>
void sse2_products_pass(const T* a, const T* b, std::uint64_t n, sse2_products& r) noexcept {
  __m128d ab0 = r.ab[0], ab1 = r.ab[1], ab2 = r.ab[2], ab3 = r.ab[3];
  __m128d aa0 = r.aa[0], aa1 = r.aa[1], aa2 = r.aa[2], aa3 = r.aa[3];
  __m128d bb0 = r.bb[0], bb1 = r.bb[1], bb2 = r.bb[2], bb3 = r.bb[3];
  for (std::uint64_t i = 0; i < n; i += lanes) {
#define SIGDUMP_SSE2_PRODUCTS(q)                 \
  {                                              \
    const __m128d x = load2(a + i + 2 * (q));    \
    const __m128d y = load2(b + i + 2 * (q));    \
    ab##q = _mm_add_pd(ab##q, _mm_mul_pd(x, y)); \
    aa##q = _mm_add_pd(aa##q, _mm_mul_pd(x, x)); \
    bb##q = _mm_add_pd(bb##q, _mm_mul_pd(y, y)); \
  }
    SIGDUMP_SSE2_PRODUCTS(0)
    SIGDUMP_SSE2_PRODUCTS(1)
    SIGDUMP_SSE2_PRODUCTS(2)
    SIGDUMP_SSE2_PRODUCTS(3)
#undef SIGDUMP_SSE2_PRODUCTS
  }
  r.ab[0] = ab0, r.ab[1] = ab1, r.ab[2] = ab2, r.ab[3] = ab3;
  r.aa[0] = aa0, r.aa[1] = aa1, r.aa[2] = aa2, r.aa[3] = aa3;
  r.bb[0] = bb0, r.bb[1] = bb1, r.bb[2] = bb2, r.bb[3] = bb3;
}

template <class T>
void sse2_differences_pass(const T* a, const T* b, std::uint64_t n, sse2_differences& r,
                           __m128d& max) noexcept {
  const __m128d mask = _mm_castsi128_pd(_mm_set1_epi64x(abs_bits));
  __m128d dd0 = r.dd[0], dd1 = r.dd[1], dd2 = r.dd[2], dd3 = r.dd[3];
  __m128d sad0 = r.sad[0], sad1 = r.sad[1], sad2 = r.sad[2], sad3 = r.sad[3];
  __m128d sab0 = r.sab[0], sab1 = r.sab[1], sab2 = r.sab[2], sab3 = r.sab[3];
  __m128d mx = max;
  for (std::uint64_t i = 0; i < n; i += lanes) {
#define SIGDUMP_SSE2_DIFFERENCES(q)                   \
  {                                                   \
    const __m128d x = load2(a + i + 2 * (q));         \
    const __m128d y = load2(b + i + 2 * (q));         \
    const __m128d d = _mm_sub_pd(x, y);               \
    sab##q = _mm_add_pd(sab##q, _mm_and_pd(y, mask)); \
    const __m128d ad = _mm_and_pd(d, mask);           \
    sad##q = _mm_add_pd(sad##q, ad);                  \
    mx = _mm_max_pd(ad, mx); /* NaN: keeps mx */      \
    dd##q = _mm_add_pd(dd##q, _mm_mul_pd(d, d));      \
  }
    SIGDUMP_SSE2_DIFFERENCES(0)
    SIGDUMP_SSE2_DIFFERENCES(1)
    SIGDUMP_SSE2_DIFFERENCES(2)
    SIGDUMP_SSE2_DIFFERENCES(3)
#undef SIGDUMP_SSE2_DIFFERENCES
  }
  r.dd[0] = dd0, r.dd[1] = dd1, r.dd[2] = dd2, r.dd[3] = dd3;
  r.sad[0] = sad0, r.sad[1] = sad1, r.sad[2] = sad2, r.sad[3] = sad3;
  r.sab[0] = sab0, r.sab[1] = sab1, r.sab[2] = sab2, r.sab[3] = sab3;
  max = mx;
}

template <class T>
void sum_sse2(const T* a, const T* b, std::uint64_t n, lane_sums& s) noexcept {
  sse2_products p;
  sse2_differences q;
  for (unsigned k = 0; k < 4; ++k) {
    p.ab[k] = _mm_loadu_pd(s.ab + 2 * k), p.aa[k] = _mm_loadu_pd(s.aa + 2 * k);
    p.bb[k] = _mm_loadu_pd(s.bb + 2 * k), q.dd[k] = _mm_loadu_pd(s.dd + 2 * k);
    q.sad[k] = _mm_loadu_pd(s.abs_d + 2 * k), q.sab[k] = _mm_loadu_pd(s.abs_b + 2 * k);
  }
  __m128d mx = _mm_set1_pd(s.max_d);
  // Blocks of 8 KiB of float pairs: the second pass finds them in L1.
  constexpr std::uint64_t block = 1024;
  const std::uint64_t whole = n - n % lanes;
  for (std::uint64_t i = 0; i < whole; i += block) {
    const std::uint64_t len = std::min(block, whole - i);
    sse2_products_pass(a + i, b + i, len, p);
    sse2_differences_pass(a + i, b + i, len, q, mx);
  }
  if (whole < n) {  // zero padding adds nothing to any sum
    T ta[lanes] = {}, tb[lanes] = {};
    std::memcpy(ta, a + whole, (n - whole) * sizeof(T));
    std::memcpy(tb, b + whole, (n - whole) * sizeof(T));
    sse2_products_pass(ta, tb, lanes, p);
    sse2_differences_pass(ta, tb, lanes, q, mx);
  }
  for (unsigned k = 0; k < 4; ++k) {
    _mm_storeu_pd(s.ab + 2 * k, p.ab[k]), _mm_storeu_pd(s.aa + 2 * k, p.aa[k]);
    _mm_storeu_pd(s.bb + 2 * k, p.bb[k]), _mm_storeu_pd(s.dd + 2 * k, q.dd[k]);
    _mm_storeu_pd(s.abs_d + 2 * k, q.sad[k]), _mm_storeu_pd(s.abs_b + 2 * k, q.sab[k]);
  }
  double m[2];
  _mm_storeu_pd(m, mx);
  s.max_d = m[1] > m[0] ? m[1] : m[0];
}

void sum_f32_sse2(const float* a, const float* b, std::uint64_t n, lane_sums& s) noexcept {
  sum_sse2(a, b, n, s);
}

void sum_f64_sse2(const double* a, const double* b, std::uint64_t n, lane_sums& s) noexcept {
  sum_sse2(a, b, n, s);
}

// Two stored values as two int32s.
template <class T>
SIGDUMP_INLINE __m128i sse2_int2(const std::byte* p) noexcept {
  if constexpr (sizeof(T) == 4) {
    return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  } else if constexpr (sizeof(T) == 2) {
    const __m128i v = _mm_cvtsi32_si128(load_one<int>(p));
    if constexpr (std::is_signed_v<T>) return _mm_srai_epi32(_mm_unpacklo_epi16(v, v), 16);
    return _mm_unpacklo_epi16(v, _mm_setzero_si128());
  } else {
    const __m128i v = _mm_cvtsi32_si128(load_one<std::uint16_t>(p));
    if constexpr (std::is_signed_v<T>) {
      const __m128i w = _mm_unpacklo_epi8(v, v);
      return _mm_srai_epi32(_mm_unpacklo_epi16(w, w), 24);
    }
    const __m128i w = _mm_unpacklo_epi8(v, _mm_setzero_si128());
    return _mm_unpacklo_epi16(w, _mm_setzero_si128());
  }
}

template <class T>
void widen_sse2_typed(const widen_spec& w, const std::byte* p, std::uint64_t n,
                      double* out) noexcept {
  const __m128d zero = _mm_set1_pd(w.zero), scale = _mm_set1_pd(w.scale);
  std::uint64_t i = 0;
  for (; i + 2 <= n; i += 2) {
    __m128d x;
    if constexpr (std::is_same_v<T, float>) {
      x = load2(reinterpret_cast<const float*>(p + i * sizeof(T)));
    } else {
      x = _mm_cvtepi32_pd(sse2_int2<T>(p + i * sizeof(T)));
    }
    if (w.dequantize) x = _mm_mul_pd(_mm_sub_pd(x, zero), scale);
    _mm_storeu_pd(out + i, x);
  }
  if (i < n) widen_portable_typed<T>(w, p + i * sizeof(T), n - i, out + i);
}

void widen_sse2(const widen_spec& w, const std::byte* p, std::uint64_t n, double* out) noexcept {
  switch (w.storage) {
    case dtype::f32: return widen_sse2_typed<float>(w, p, n, out);
    case dtype::u8:
    case dtype::boolean: return widen_sse2_typed<std::uint8_t>(w, p, n, out);
    case dtype::s8: return widen_sse2_typed<std::int8_t>(w, p, n, out);
    case dtype::u16: return widen_sse2_typed<std::uint16_t>(w, p, n, out);
    case dtype::s16: return widen_sse2_typed<std::int16_t>(w, p, n, out);
    case dtype::s32: return widen_sse2_typed<std::int32_t>(w, p, n, out);
    case dtype::unknown: break;
  }
  widen_unknown(n, out);
}

}  // namespace

constinit const kernel_set sse2_kernels{kernel_isa::sse2, &sum_f32_sse2, &sum_f64_sse2, &widen_sse2,
                                        nullptr};

}  // namespace sigdump::detail

#endif  // SIGDUMP_X86
