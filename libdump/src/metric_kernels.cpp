// The metric kernels, one set per instruction-set variant, hand-written
// with intrinsics and picked at run time (isa.cpp). Every set keeps the
// fixed summation order of metrics_kernel.h: eight double lanes per sum
// (one AVX-512 register, two AVX2 ones, four SSE2 ones, an array in the
// portable code), each lane adding its elements in element order, and no
// fused multiply-add that rounds differently (libdump is built with
// -ffp-contract=off; the AVX2 and AVX-512 kernels fuse only the products
// of two floats, which a double holds exactly: see avx2_step). Only the
// speed differs.
// Over 600 lines on purpose: every variant's kernels stand side by side so
// that a change to the summation order is made to all of them at once (the
// variants must agree to the bit).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "metrics_kernel.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SIGDUMP_X86_KERNELS 1
// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_pd
// initialises a variable with itself, on purpose).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

namespace sigdump::detail {
namespace {

constexpr unsigned lanes = sum_lanes;

template <class T>
T load_one(const std::byte* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// ---- portable ------------------------------------------------------------

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

template <class T>
void widen_portable_typed(const widen_spec& w, const std::byte* p, std::uint64_t n,
                          double* out) noexcept {
  for (std::uint64_t i = 0; i < n; ++i) out[i] = load_one<T>(p + i * sizeof(T));
  if (w.dequantize) {
    for (std::uint64_t i = 0; i < n; ++i) out[i] = (out[i] - w.zero) * w.scale;
  }
}

// Unknown types read as NaN, in every variant.
void widen_unknown(std::uint64_t n, double* out) noexcept {
  std::fill(out, out + n, std::numeric_limits<double>::quiet_NaN());
}

void widen_portable(const widen_spec& w, const std::byte* p, std::uint64_t n,
                    double* out) noexcept {
  switch (w.storage) {
    case dtype::f32: return widen_portable_typed<float>(w, p, n, out);
    case dtype::u8:
    case dtype::boolean: return widen_portable_typed<std::uint8_t>(w, p, n, out);
    case dtype::s8: return widen_portable_typed<std::int8_t>(w, p, n, out);
    case dtype::u16: return widen_portable_typed<std::uint16_t>(w, p, n, out);
    case dtype::s16: return widen_portable_typed<std::int16_t>(w, p, n, out);
    case dtype::s32: return widen_portable_typed<std::int32_t>(w, p, n, out);
    case dtype::unknown: break;
  }
  widen_unknown(n, out);
}

// sum_stored: one function per pair of stored types, from a table.
using stored_sum = void (*)(const widen_spec&, const std::byte*, const widen_spec&,
                            const std::byte*, std::uint64_t, lane_sums&) noexcept;

constexpr int stored_index(dtype t) noexcept {
  switch (t) {
    case dtype::f32: return 0;
    case dtype::u8:
    case dtype::boolean: return 1;
    case dtype::s8: return 2;
    case dtype::u16: return 3;
    case dtype::s16: return 4;
    case dtype::s32: return 5;
    case dtype::unknown: break;
  }
  return -1;
}

template <template <class, class> class K, class Ta>
constexpr std::array<stored_sum, 6> stored_row() {
  return {&K<Ta, float>::run,         &K<Ta, std::uint8_t>::run, &K<Ta, std::int8_t>::run,
          &K<Ta, std::uint16_t>::run, &K<Ta, std::int16_t>::run, &K<Ta, std::int32_t>::run};
}

template <template <class, class> class K>
constexpr std::array<std::array<stored_sum, 6>, 6> stored_table() {
  return {stored_row<K, float>(),        stored_row<K, std::uint8_t>(),
          stored_row<K, std::int8_t>(),  stored_row<K, std::uint16_t>(),
          stored_row<K, std::int16_t>(), stored_row<K, std::int32_t>()};
}

// The zero point and scale a stored side is read with: integers are always
// dequantized, as (q - 0) * 1 when not asked to, which gives q exactly.
struct affine {
  double zero, scale;
};
inline affine affine_of(const widen_spec& w) noexcept {
  return w.dequantize ? affine{w.zero, w.scale} : affine{0.0, 1.0};
}

constexpr kernel_set portable_set{kernel_isa::scalar, &sum_f32_portable, &sum_f64_portable,
                                  &widen_portable, nullptr};

#ifdef SIGDUMP_X86_KERNELS

#define SIGDUMP_INLINE inline __attribute__((always_inline))
#define SIGDUMP_AVX2 __attribute__((target("avx2,fma")))
#define SIGDUMP_AVX512 __attribute__((target("avx512f")))

constexpr long long abs_bits = 0x7fffffffffffffffLL;

// ---- SSE2 ------------------------------------------------------------------
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

constexpr kernel_set sse2_set{kernel_isa::sse2, &sum_f32_sse2, &sum_f64_sse2, &widen_sse2, nullptr};

// ---- AVX2 ------------------------------------------------------------------
// Eight lanes are two registers per sum: twelve accumulators and one
// running maximum (a maximum needs no fixed lanes), three temporaries.

struct avx2_half {
  __m256d ab, aa, bb, dd, sad, sab;
};

SIGDUMP_AVX2 SIGDUMP_INLINE __m256d load4(const float* p) noexcept {
  return _mm256_cvtps_pd(_mm_loadu_ps(p));
}
SIGDUMP_AVX2 SIGDUMP_INLINE __m256d load4(const double* p) noexcept { return _mm256_loadu_pd(p); }

// floats: x and y are widened floats. A double holds the product of two
// floats exactly (24-bit significands make at most 48 bits of its 53, and
// no such product leaves its exponent range), so a fused multiply-add of
// them rounds once where the add after the product rounds once: the same
// bits, one instruction fewer (and on the multiplier's ports, not the
// adder's, which bound the loop). The difference d is not exact: d*d is
// multiplied, then added.
template <bool floats>
SIGDUMP_AVX2 SIGDUMP_INLINE void avx2_step(__m256d x, __m256d y, avx2_half& h, __m256d& mx,
                                           __m256d mask) noexcept {
  const __m256d d = _mm256_sub_pd(x, y);
  if constexpr (floats) {
    h.ab = _mm256_fmadd_pd(x, y, h.ab);
    h.aa = _mm256_fmadd_pd(x, x, h.aa);
    h.bb = _mm256_fmadd_pd(y, y, h.bb);
  } else {
    h.ab = _mm256_add_pd(h.ab, _mm256_mul_pd(x, y));
    h.aa = _mm256_add_pd(h.aa, _mm256_mul_pd(x, x));
    h.bb = _mm256_add_pd(h.bb, _mm256_mul_pd(y, y));
  }
  h.sab = _mm256_add_pd(h.sab, _mm256_and_pd(y, mask));
  const __m256d ad = _mm256_and_pd(d, mask);
  h.sad = _mm256_add_pd(h.sad, ad);
  mx = _mm256_max_pd(ad, mx);  // NaN: keeps mx
  h.dd = _mm256_add_pd(h.dd, _mm256_mul_pd(d, d));
}

SIGDUMP_AVX2 SIGDUMP_INLINE avx2_half avx2_load(const lane_sums& s, unsigned at) noexcept {
  return {_mm256_loadu_pd(s.ab + at), _mm256_loadu_pd(s.aa + at),    _mm256_loadu_pd(s.bb + at),
          _mm256_loadu_pd(s.dd + at), _mm256_loadu_pd(s.abs_d + at), _mm256_loadu_pd(s.abs_b + at)};
}

SIGDUMP_AVX2 SIGDUMP_INLINE void avx2_store(const avx2_half& h, lane_sums& s,
                                            unsigned at) noexcept {
  _mm256_storeu_pd(s.ab + at, h.ab), _mm256_storeu_pd(s.aa + at, h.aa);
  _mm256_storeu_pd(s.bb + at, h.bb), _mm256_storeu_pd(s.dd + at, h.dd);
  _mm256_storeu_pd(s.abs_d + at, h.sad), _mm256_storeu_pd(s.abs_b + at, h.sab);
}

// Four stored values as four doubles (T: float, double or an integer).
template <class T>
SIGDUMP_AVX2 SIGDUMP_INLINE __m256d avx2_widen4(const std::byte* p) noexcept {
  if constexpr (std::is_same_v<T, double>) {
    return _mm256_loadu_pd(reinterpret_cast<const double*>(p));
  } else if constexpr (std::is_same_v<T, float>) {
    return _mm256_cvtps_pd(_mm_loadu_ps(reinterpret_cast<const float*>(p)));
  } else if constexpr (std::is_same_v<T, std::int32_t>) {
    return _mm256_cvtepi32_pd(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  } else if constexpr (sizeof(T) == 2) {
    const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    if constexpr (std::is_signed_v<T>) return _mm256_cvtepi32_pd(_mm_cvtepi16_epi32(v));
    return _mm256_cvtepi32_pd(_mm_cvtepu16_epi32(v));
  } else {
    const __m128i v = _mm_cvtsi32_si128(load_one<int>(p));
    if constexpr (std::is_signed_v<T>) return _mm256_cvtepi32_pd(_mm_cvtepi8_epi32(v));
    return _mm256_cvtepi32_pd(_mm_cvtepu8_epi32(v));
  }
}

// Four stored values as their four real values.
template <class T>
SIGDUMP_AVX2 SIGDUMP_INLINE __m256d avx2_real4(const std::byte* p, __m256d zero,
                                               __m256d scale) noexcept {
  if constexpr (std::is_floating_point_v<T>) {
    return avx2_widen4<T>(p);
  } else {
    return _mm256_mul_pd(_mm256_sub_pd(avx2_widen4<T>(p), zero), scale);
  }
}

// Lanes 0-3 of a block (elements 8m to 8m+3) and lanes 4-7 (8m+4 to 8m+7)
// in two passes, the second finding the block in the L1 cache: one pass
// holds six sums, the maximum and the mask, with room for temporaries.
// Both halves at once needed thirteen registers of sixteen for the sums
// alone: GCC kept half of them on the stack, and the store-to-load round
// trip of a sum bounded the loop. n: a multiple of eight.
template <class Ta, class Tb>
SIGDUMP_AVX2 SIGDUMP_INLINE void avx2_blocks(const std::byte* a, const std::byte* b,
                                             std::uint64_t n, avx2_half& lo, avx2_half& hi,
                                             __m256d& mx, __m256d mask, const affine& fa,
                                             const affine& fb) noexcept {
  const __m256d za = _mm256_set1_pd(fa.zero), sa = _mm256_set1_pd(fa.scale);
  const __m256d zb = _mm256_set1_pd(fb.zero), sb = _mm256_set1_pd(fb.scale);
  constexpr std::uint64_t block = 1024;
  constexpr bool floats = std::is_same_v<Ta, float> && std::is_same_v<Tb, float>;
  for (std::uint64_t i = 0; i < n; i += block) {
    const std::uint64_t end = std::min(n, i + block);
    for (unsigned half = 0; half < 2; ++half) {
      avx2_half& h = half ? hi : lo;
      for (std::uint64_t k = i + 4 * half; k < end; k += lanes) {
        avx2_step<floats>(avx2_real4<Ta>(a + k * sizeof(Ta), za, sa),
                          avx2_real4<Tb>(b + k * sizeof(Tb), zb, sb), h, mx, mask);
      }
    }
  }
}

template <class T>
SIGDUMP_AVX2 void sum_avx2(const T* a, const T* b, std::uint64_t n, lane_sums& s) noexcept {
  const __m256d mask = _mm256_castsi256_pd(_mm256_set1_epi64x(abs_bits));
  avx2_half lo = avx2_load(s, 0), hi = avx2_load(s, 4);
  __m256d mx = _mm256_set1_pd(s.max_d);
  const std::uint64_t whole = n - n % lanes;
  avx2_blocks<T, T>(reinterpret_cast<const std::byte*>(a), reinterpret_cast<const std::byte*>(b),
                    whole, lo, hi, mx, mask, affine{0.0, 1.0}, affine{0.0, 1.0});
  if (whole < n) {  // zero padding adds nothing to any sum
    T ta[lanes] = {}, tb[lanes] = {};
    std::memcpy(ta, a + whole, (n - whole) * sizeof(T));
    std::memcpy(tb, b + whole, (n - whole) * sizeof(T));
    avx2_step<std::is_same_v<T, float>>(load4(ta), load4(tb), lo, mx, mask);
    avx2_step<std::is_same_v<T, float>>(load4(ta + 4), load4(tb + 4), hi, mx, mask);
  }
  avx2_store(lo, s, 0);
  avx2_store(hi, s, 4);
  double m[4];
  _mm256_storeu_pd(m, mx);
  for (double v : m) s.max_d = v > s.max_d ? v : s.max_d;
}

SIGDUMP_AVX2 void sum_f32_avx2(const float* a, const float* b, std::uint64_t n,
                               lane_sums& s) noexcept {
  sum_avx2(a, b, n, s);
}

SIGDUMP_AVX2 void sum_f64_avx2(const double* a, const double* b, std::uint64_t n,
                               lane_sums& s) noexcept {
  sum_avx2(a, b, n, s);
}

template <class T>
SIGDUMP_AVX2 void widen_avx2_typed(const widen_spec& w, const std::byte* p, std::uint64_t n,
                                   double* out) noexcept {
  const __m256d zero = _mm256_set1_pd(w.zero), scale = _mm256_set1_pd(w.scale);
  std::uint64_t i = 0;
  if (w.dequantize) {
    for (; i + 4 <= n; i += 4) {
      const __m256d x = avx2_widen4<T>(p + i * sizeof(T));
      _mm256_storeu_pd(out + i, _mm256_mul_pd(_mm256_sub_pd(x, zero), scale));
    }
  } else {
    for (; i + 4 <= n; i += 4) _mm256_storeu_pd(out + i, avx2_widen4<T>(p + i * sizeof(T)));
  }
  if (i < n) widen_portable_typed<T>(w, p + i * sizeof(T), n - i, out + i);
}

SIGDUMP_AVX2 void widen_avx2(const widen_spec& w, const std::byte* p, std::uint64_t n,
                             double* out) noexcept {
  switch (w.storage) {
    case dtype::f32: return widen_avx2_typed<float>(w, p, n, out);
    case dtype::u8:
    case dtype::boolean: return widen_avx2_typed<std::uint8_t>(w, p, n, out);
    case dtype::s8: return widen_avx2_typed<std::int8_t>(w, p, n, out);
    case dtype::u16: return widen_avx2_typed<std::uint16_t>(w, p, n, out);
    case dtype::s16: return widen_avx2_typed<std::int16_t>(w, p, n, out);
    case dtype::s32: return widen_avx2_typed<std::int32_t>(w, p, n, out);
    case dtype::unknown: break;
  }
  widen_unknown(n, out);
}

template <class Ta, class Tb>
struct avx2_stored {
  SIGDUMP_AVX2 static void run(const widen_spec& wa, const std::byte* a, const widen_spec& wb,
                               const std::byte* b, std::uint64_t n, lane_sums& s) noexcept {
    const __m256d mask = _mm256_castsi256_pd(_mm256_set1_epi64x(abs_bits));
    const affine fa = affine_of(wa), fb = affine_of(wb);
    avx2_half lo = avx2_load(s, 0), hi = avx2_load(s, 4);
    __m256d mx = _mm256_set1_pd(s.max_d);
    const std::uint64_t i = n - n % lanes;
    avx2_blocks<Ta, Tb>(a, b, i, lo, hi, mx, mask, fa, fb);
    if (i < n) {  // zero padding adds nothing to any sum
      double ta[lanes] = {}, tb[lanes] = {};
      widen_portable(wa, a + i * sizeof(Ta), n - i, ta);
      widen_portable(wb, b + i * sizeof(Tb), n - i, tb);
      avx2_step<false>(load4(ta), load4(tb), lo, mx, mask);
      avx2_step<false>(load4(ta + 4), load4(tb + 4), hi, mx, mask);
    }
    avx2_store(lo, s, 0);
    avx2_store(hi, s, 4);
    double m[4];
    _mm256_storeu_pd(m, mx);
    for (double v : m) s.max_d = v > s.max_d ? v : s.max_d;
  }
};

void sum_stored_avx2(const widen_spec& wa, const std::byte* a, const widen_spec& wb,
                     const std::byte* b, std::uint64_t n, lane_sums& s) noexcept {
  static constexpr auto table = stored_table<avx2_stored>();
  table[stored_index(wa.storage)][stored_index(wb.storage)](wa, a, wb, b, n, s);
}

constexpr kernel_set avx2_set{kernel_isa::avx2, &sum_f32_avx2, &sum_f64_avx2, &widen_avx2,
                              &sum_stored_avx2};

// ---- AVX-512 ---------------------------------------------------------------
// Eight lanes are one register per sum.

SIGDUMP_AVX512 SIGDUMP_INLINE __m512d load8(const float* p) noexcept {
  return _mm512_cvtps_pd(_mm256_loadu_ps(p));
}
SIGDUMP_AVX512 SIGDUMP_INLINE __m512d load8(const double* p) noexcept { return _mm512_loadu_pd(p); }

SIGDUMP_AVX512 SIGDUMP_INLINE __m512d abs8(__m512d x, __m512i mask) noexcept {
  return _mm512_castsi512_pd(_mm512_and_si512(_mm512_castpd_si512(x), mask));
}

struct avx512_sums {
  __m512d ab, aa, bb, dd, sad, sab, mx;
};

// floats: x and y are widened floats, whose products fuse with their adds
// to the same bits (see avx2_step).
template <bool floats>
SIGDUMP_AVX512 SIGDUMP_INLINE void avx512_step(__m512d x, __m512d y, avx512_sums& r,
                                               __m512i mask) noexcept {
  const __m512d d = _mm512_sub_pd(x, y);
  if constexpr (floats) {
    r.ab = _mm512_fmadd_pd(x, y, r.ab);
    r.aa = _mm512_fmadd_pd(x, x, r.aa);
    r.bb = _mm512_fmadd_pd(y, y, r.bb);
  } else {
    r.ab = _mm512_add_pd(r.ab, _mm512_mul_pd(x, y));
    r.aa = _mm512_add_pd(r.aa, _mm512_mul_pd(x, x));
    r.bb = _mm512_add_pd(r.bb, _mm512_mul_pd(y, y));
  }
  r.dd = _mm512_add_pd(r.dd, _mm512_mul_pd(d, d));
  const __m512d ad = abs8(d, mask);
  r.sad = _mm512_add_pd(r.sad, ad);
  r.sab = _mm512_add_pd(r.sab, abs8(y, mask));
  r.mx = _mm512_max_pd(ad, r.mx);  // NaN: keeps mx
}

template <class T>
SIGDUMP_AVX512 void sum_avx512(const T* a, const T* b, std::uint64_t n, lane_sums& s) noexcept {
  const __m512i mask = _mm512_set1_epi64(abs_bits);
  avx512_sums r{_mm512_loadu_pd(s.ab),  _mm512_loadu_pd(s.aa),    _mm512_loadu_pd(s.bb),
                _mm512_loadu_pd(s.dd),  _mm512_loadu_pd(s.abs_d), _mm512_loadu_pd(s.abs_b),
                _mm512_set1_pd(s.max_d)};
  std::uint64_t i = 0;
  constexpr bool floats = std::is_same_v<T, float>;
  for (; i + lanes <= n; i += lanes) avx512_step<floats>(load8(a + i), load8(b + i), r, mask);
  if (i < n) {  // zero padding adds nothing to any sum
    T ta[lanes] = {}, tb[lanes] = {};
    std::memcpy(ta, a + i, (n - i) * sizeof(T));
    std::memcpy(tb, b + i, (n - i) * sizeof(T));
    avx512_step<floats>(load8(ta), load8(tb), r, mask);
  }
  _mm512_storeu_pd(s.ab, r.ab), _mm512_storeu_pd(s.aa, r.aa), _mm512_storeu_pd(s.bb, r.bb);
  _mm512_storeu_pd(s.dd, r.dd), _mm512_storeu_pd(s.abs_d, r.sad), _mm512_storeu_pd(s.abs_b, r.sab);
  double m[lanes];
  _mm512_storeu_pd(m, r.mx);
  for (double v : m) s.max_d = v > s.max_d ? v : s.max_d;
}

SIGDUMP_AVX512 void sum_f32_avx512(const float* a, const float* b, std::uint64_t n,
                                   lane_sums& s) noexcept {
  sum_avx512(a, b, n, s);
}

SIGDUMP_AVX512 void sum_f64_avx512(const double* a, const double* b, std::uint64_t n,
                                   lane_sums& s) noexcept {
  sum_avx512(a, b, n, s);
}

// Eight stored values as eight doubles.
template <class T>
SIGDUMP_AVX512 SIGDUMP_INLINE __m512d avx512_widen8(const std::byte* p) noexcept {
  if constexpr (std::is_same_v<T, float>) {
    return _mm512_cvtps_pd(_mm256_loadu_ps(reinterpret_cast<const float*>(p)));
  } else if constexpr (std::is_same_v<T, std::int32_t>) {
    return _mm512_cvtepi32_pd(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  } else if constexpr (sizeof(T) == 2) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    if constexpr (std::is_signed_v<T>) return _mm512_cvtepi32_pd(_mm256_cvtepi16_epi32(v));
    return _mm512_cvtepi32_pd(_mm256_cvtepu16_epi32(v));
  } else {
    const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    if constexpr (std::is_signed_v<T>) return _mm512_cvtepi32_pd(_mm256_cvtepi8_epi32(v));
    return _mm512_cvtepi32_pd(_mm256_cvtepu8_epi32(v));
  }
}

template <class T>
SIGDUMP_AVX512 void widen_avx512_typed(const widen_spec& w, const std::byte* p, std::uint64_t n,
                                       double* out) noexcept {
  const __m512d zero = _mm512_set1_pd(w.zero), scale = _mm512_set1_pd(w.scale);
  std::uint64_t i = 0;
  if (w.dequantize) {
    for (; i + 8 <= n; i += 8) {
      const __m512d x = avx512_widen8<T>(p + i * sizeof(T));
      _mm512_storeu_pd(out + i, _mm512_mul_pd(_mm512_sub_pd(x, zero), scale));
    }
  } else {
    for (; i + 8 <= n; i += 8) _mm512_storeu_pd(out + i, avx512_widen8<T>(p + i * sizeof(T)));
  }
  if (i < n) widen_portable_typed<T>(w, p + i * sizeof(T), n - i, out + i);
}

SIGDUMP_AVX512 void widen_avx512(const widen_spec& w, const std::byte* p, std::uint64_t n,
                                 double* out) noexcept {
  switch (w.storage) {
    case dtype::f32: return widen_avx512_typed<float>(w, p, n, out);
    case dtype::u8:
    case dtype::boolean: return widen_avx512_typed<std::uint8_t>(w, p, n, out);
    case dtype::s8: return widen_avx512_typed<std::int8_t>(w, p, n, out);
    case dtype::u16: return widen_avx512_typed<std::uint16_t>(w, p, n, out);
    case dtype::s16: return widen_avx512_typed<std::int16_t>(w, p, n, out);
    case dtype::s32: return widen_avx512_typed<std::int32_t>(w, p, n, out);
    case dtype::unknown: break;
  }
  widen_unknown(n, out);
}

// Eight stored values as their eight real values.
template <class T>
SIGDUMP_AVX512 SIGDUMP_INLINE __m512d avx512_real8(const std::byte* p, __m512d zero,
                                                   __m512d scale) noexcept {
  if constexpr (std::is_same_v<T, float>) {
    return avx512_widen8<float>(p);
  } else {
    return _mm512_mul_pd(_mm512_sub_pd(avx512_widen8<T>(p), zero), scale);
  }
}

template <class Ta, class Tb>
struct avx512_stored {
  SIGDUMP_AVX512 static void run(const widen_spec& wa, const std::byte* a, const widen_spec& wb,
                                 const std::byte* b, std::uint64_t n, lane_sums& s) noexcept {
    const __m512i mask = _mm512_set1_epi64(abs_bits);
    const affine fa = affine_of(wa), fb = affine_of(wb);
    const __m512d za = _mm512_set1_pd(fa.zero), sa = _mm512_set1_pd(fa.scale);
    const __m512d zb = _mm512_set1_pd(fb.zero), sb = _mm512_set1_pd(fb.scale);
    avx512_sums r{_mm512_loadu_pd(s.ab),  _mm512_loadu_pd(s.aa),    _mm512_loadu_pd(s.bb),
                  _mm512_loadu_pd(s.dd),  _mm512_loadu_pd(s.abs_d), _mm512_loadu_pd(s.abs_b),
                  _mm512_set1_pd(s.max_d)};
    std::uint64_t i = 0;
    for (; i + lanes <= n; i += lanes) {
      avx512_step<false>(avx512_real8<Ta>(a + i * sizeof(Ta), za, sa),
                         avx512_real8<Tb>(b + i * sizeof(Tb), zb, sb), r, mask);
    }
    if (i < n) {  // zero padding adds nothing to any sum
      double ta[lanes] = {}, tb[lanes] = {};
      widen_portable(wa, a + i * sizeof(Ta), n - i, ta);
      widen_portable(wb, b + i * sizeof(Tb), n - i, tb);
      avx512_step<false>(load8(ta), load8(tb), r, mask);
    }
    _mm512_storeu_pd(s.ab, r.ab), _mm512_storeu_pd(s.aa, r.aa), _mm512_storeu_pd(s.bb, r.bb);
    _mm512_storeu_pd(s.dd, r.dd), _mm512_storeu_pd(s.abs_d, r.sad);
    _mm512_storeu_pd(s.abs_b, r.sab);
    double m[lanes];
    _mm512_storeu_pd(m, r.mx);
    for (double v : m) s.max_d = v > s.max_d ? v : s.max_d;
  }
};

void sum_stored_avx512(const widen_spec& wa, const std::byte* a, const widen_spec& wb,
                       const std::byte* b, std::uint64_t n, lane_sums& s) noexcept {
  static constexpr auto table = stored_table<avx512_stored>();
  table[stored_index(wa.storage)][stored_index(wb.storage)](wa, a, wb, b, n, s);
}

constexpr kernel_set avx512_set{kernel_isa::avx512, &sum_f32_avx512, &sum_f64_avx512, &widen_avx512,
                                &sum_stored_avx512};

#endif  // SIGDUMP_X86_KERNELS

}  // namespace

const kernel_set& kernels_for(kernel_isa v) noexcept {
#ifdef SIGDUMP_X86_KERNELS
  switch (v) {
    case kernel_isa::avx512: return avx512_set;
    case kernel_isa::avx2: return avx2_set;
    case kernel_isa::sse2: return sse2_set;
    case kernel_isa::scalar: break;
  }
#else
  (void)v;
#endif
  return portable_set;
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
