// Private: what the metric kernels' variant files (metric_kernels_*.cpp)
// share: the unaligned one-value load, the portable widening every variant
// finishes its tail with, the table of stored-type pairs, and each
// variant's kernel_set for kernels_for (metric_kernels.cpp). Everything
// here is compiled for the baseline target: only the variant files' own
// functions carry the target attributes of their instruction set.
#pragma once

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include "metrics_kernel.h"
#include "x86_intrinsics.h"

namespace sigdump::detail {
// Internal linkage in each variant's file, as when all stood in one file:
// each file gets its own copy, which GCC inlines, or calls knowing which
// registers it clobbers (no vector accumulator is spilled around a tail).
// maybe_unused: not every file calls every one.
namespace {

constexpr unsigned lanes = sum_lanes;

template <class T>
T load_one(const std::byte* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
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
[[maybe_unused]] void widen_unknown(std::uint64_t n, double* out) noexcept {
  std::fill(out, out + n, std::numeric_limits<double>::quiet_NaN());
}

// The portable set's widening, and every variant's for its sums' tails.
[[maybe_unused]] void widen_portable(const widen_spec& w, const std::byte* p, std::uint64_t n,
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

#ifdef SIGDUMP_X86
#define SIGDUMP_INLINE inline __attribute__((always_inline))
constexpr long long abs_bits = 0x7fffffffffffffffLL;
#endif

}  // namespace

// Each variant's kernels, defined in its own file.
extern const kernel_set portable_kernels;
#ifdef SIGDUMP_X86
extern const kernel_set sse2_kernels;
extern const kernel_set avx2_kernels;
extern const kernel_set avx512_kernels;
#endif  // SIGDUMP_X86

}  // namespace sigdump::detail
