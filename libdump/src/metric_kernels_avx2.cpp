// The AVX2 metric kernels (kernel_isa::avx2): eight double lanes per sum
// as two registers, in the fixed summation order of metrics_kernel.h,
// with a stored sum per pair of stored types. Every function carries the
// avx2,fma target attribute, so the file itself builds for baseline x86-64
// and nothing here runs unless isa.cpp found AVX2 and FMA on the CPU. The
// only fused multiply-adds are of the products of two floats, which a
// double holds exactly (see avx2_step): the bits are the other variants'.
#include <type_traits>

#include "metric_kernels_shared.h"

#ifdef SIGDUMP_X86

#define SIGDUMP_AVX2 __attribute__((target("avx2,fma")))

namespace sigdump::detail {
namespace {

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

}  // namespace

constinit const kernel_set avx2_kernels{kernel_isa::avx2, &sum_f32_avx2, &sum_f64_avx2, &widen_avx2,
                                        &sum_stored_avx2};

}  // namespace sigdump::detail

#endif  // SIGDUMP_X86
