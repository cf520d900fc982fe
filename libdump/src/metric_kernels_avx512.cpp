// The AVX-512 metric kernels (kernel_isa::avx512): eight double lanes per
// sum as one register, in the fixed summation order of metrics_kernel.h,
// with a stored sum per pair of stored types. Every function carries the
// avx512f target attribute, so the file itself builds for baseline x86-64
// and nothing here runs unless isa.cpp found AVX-512F on the CPU. The
// step keeps the AVX2 one's shape (metric_kernels_avx2.cpp) on purpose: a
// change to the summation order is made to both.
#include <type_traits>

#include "metric_kernels_shared.h"

#ifdef SIGDUMP_X86

#define SIGDUMP_AVX512 __attribute__((target("avx512f")))

namespace sigdump::detail {
namespace {

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

}  // namespace

constinit const kernel_set avx512_kernels{kernel_isa::avx512, &sum_f32_avx512, &sum_f64_avx512,
                                          &widen_avx512, &sum_stored_avx512};

}  // namespace sigdump::detail

#endif  // SIGDUMP_X86
