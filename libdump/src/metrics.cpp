// The per-layer metrics: the vendor's MSE / COS / RMSE plus max_abs, SQNR,
// relative L2 and NaN/Inf counts, over mapped payloads without copying them:
// the sums of one chunk (chunk_sums) and the metrics made of them
// (finish_metrics).
//
// The element readers (source, the layout odometer and transposes,
// dequantizing widening) exist only to feed chunk_sums, and staying in this
// translation unit's anonymous namespace lets the compiler inline them into
// the chunk loops and keeps them out of every other file. The kernels they
// feed are apart (metric_kernels.cpp, per instruction set); running a
// layer's chunks on threads under the SIGBUS guard is metrics_chunks.cpp.
#include "sigdump/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "metrics_kernel.h"

namespace sigdump {

const char* layout_name(layout_choice l) noexcept {
  switch (l) {
    case layout_choice::same: return "same";
    case layout_choice::benchmark_nchw_to_nhwc: return "benchmark_nchw_to_nhwc";
    case layout_choice::benchmark_nhwc_to_nchw: return "benchmark_nhwc_to_nchw";
  }
  return "same";
}

bool is_suspect(const layer_metrics& m, const thresholds& t) noexcept {
  if (m.all_zero) return false;
  return !(m.cos >= t.cos_min) || !(m.rmse <= t.rmse_max);
}

namespace detail {
namespace {

// Where element values come from: the mapping (binary) or the parsed text.
struct source {
  const std::byte* base = nullptr;
  dtype storage = dtype::f32;
  bool dequantize = false;
  double scale = 1.0, zero = 0.0;
  std::uint64_t inner = 1, stride = 1;
  bool contiguous = true;
};

source make_source(const tensor_view& v) noexcept {
  source s;
  if (v.data == nullptr && v.text) {
    s.base = reinterpret_cast<const std::byte*>(v.text->data());
    s.storage = dtype::f32;  // text values are parsed to float, one per element
  } else if (v.data == nullptr && v.text_ints) {
    s.base = reinterpret_cast<const std::byte*>(v.text_ints->data());
    s.storage = dtype::s32;  // stored integers, one per element
  } else {
    s.base = v.data;
    s.storage = v.storage == dtype::boolean ? dtype::u8 : v.storage;
    s.inner = v.inner ? v.inner : 1;
    s.stride = std::max(v.inner_stride, s.inner);
    s.contiguous = s.inner == s.stride;
  }
  s.dequantize = v.dequantize;
  s.scale = v.scale;
  s.zero = static_cast<double>(v.zero_point);
  return s;
}

bool fast_f32(const source& s) noexcept {
  return s.storage == dtype::f32 && s.contiguous && !s.dequantize;
}

// Logical (read-order) dimensions and the benchmark's index stride for each.
struct odometer_spec {
  std::uint64_t dim[4] = {1, 1, 1, 1};
  std::uint64_t stride[4] = {0, 0, 0, 0};
};

odometer_spec make_odometer(const std::vector<std::int64_t>& shape, layout_choice layout) noexcept {
  odometer_spec o;
  if (shape.size() != 4) return o;
  const auto d0 = static_cast<std::uint64_t>(shape[0]), d1 = static_cast<std::uint64_t>(shape[1]),
             d2 = static_cast<std::uint64_t>(shape[2]), d3 = static_cast<std::uint64_t>(shape[3]);
  if (layout == layout_choice::benchmark_nchw_to_nhwc) {
    // bench [N,C,H,W] read as [N,H,W,C]
    const std::uint64_t n = d0, c = d1, h = d2, w = d3;
    o.dim[0] = n, o.dim[1] = h, o.dim[2] = w, o.dim[3] = c;
    o.stride[0] = c * h * w, o.stride[1] = w, o.stride[2] = 1, o.stride[3] = h * w;
  } else {
    // bench [N,H,W,C] read as [N,C,H,W]
    const std::uint64_t n = d0, h = d1, w = d2, c = d3;
    o.dim[0] = n, o.dim[1] = c, o.dim[2] = h, o.dim[3] = w;
    o.stride[0] = h * w * c, o.stride[1] = 1, o.stride[2] = w * c, o.stride[3] = c;
  }
  return o;
}

template <class T>
inline double raw(const std::byte* base, std::uint64_t p) noexcept {
  T v;
  std::memcpy(&v, base + p * sizeof(T), sizeof(T));
  return static_cast<double>(v);
}

inline std::uint64_t physical(const source& s, std::uint64_t j) noexcept {
  return s.contiguous ? j : (j / s.inner) * s.stride + j % s.inner;
}

// Element p of stored type T as Out: its real value (double), or its bits
// (an unsigned integer of T's size).
template <class T, class Out>
inline Out stored(const std::byte* base, std::uint64_t p) noexcept {
  if constexpr (std::is_same_v<Out, double>) {
    return raw<T>(base, p);
  } else {
    static_assert(sizeof(Out) == sizeof(T));
    Out v;
    std::memcpy(&v, base + p * sizeof(T), sizeof(T));
    return v;
  }
}

// A transposing read of a 4-D benchmark is a transpose of N matrices:
// element i of the read order is (n, r, k) over (N, R, K) and lies at
// n*R*K + k*R + r in the benchmark (R: its innermost run, K: the sample's).
struct transpose_spec {
  std::uint64_t rows = 1, cols = 1;  // R, K
};

transpose_spec make_transpose(const std::vector<std::int64_t>& shape,
                              layout_choice layout) noexcept {
  const auto d1 = static_cast<std::uint64_t>(shape[1]), d2 = static_cast<std::uint64_t>(shape[2]),
             d3 = static_cast<std::uint64_t>(shape[3]);
  if (layout == layout_choice::benchmark_nchw_to_nhwc) return {d2 * d3, d1};  // [N,C,H,W]
  return {d3, d1 * d2};                                                       // [N,H,W,C]
}

// Values [first, first+len) of the read order, from a contiguous benchmark.
// Whole rows of the read order are gathered a tile at a time: each
// benchmark row gives a run of consecutive elements to every row of the
// tile, so every cache line read is used whole.
template <class T, class Out>
void gather_transposed(const std::byte* base, transpose_spec t, std::uint64_t first,
                       std::uint64_t len, Out* out) noexcept {
  const std::uint64_t R = t.rows, K = t.cols, plane = R * K;
  while (len > 0) {
    const std::uint64_t n = first / plane, rem = first % plane, r = rem / K, k = rem % K;
    const std::byte* p = base + n * plane * sizeof(T);
    std::uint64_t step;
    if (k == 0 && len >= K) {
      const std::uint64_t rows = std::min(R - r, len / K);
      const std::uint64_t next = std::min(rows, R - r - rows) * sizeof(T);  // the next tile's run
      std::uint64_t c = 0;
#ifdef __SSE2__
      // Four-byte values four rows by four at a time, transposed in registers.
      if constexpr (std::is_same_v<Out, std::uint32_t>) {
        for (; c + 4 <= K; c += 4) {
          const std::byte* run = p + (c * R + r) * sizeof(T);
          for (std::uint64_t q = 0; q < 4; ++q) {
            for (std::uint64_t a = 0; a < next; a += 64) {
              __builtin_prefetch(run + (q * R + rows) * sizeof(T) + a);
            }
          }
          std::uint64_t j = 0;
          for (; j + 4 <= rows; j += 4) {
            __m128 r0 = _mm_loadu_ps(reinterpret_cast<const float*>(run + j * 4));
            __m128 r1 = _mm_loadu_ps(reinterpret_cast<const float*>(run + (R + j) * 4));
            __m128 r2 = _mm_loadu_ps(reinterpret_cast<const float*>(run + (2 * R + j) * 4));
            __m128 r3 = _mm_loadu_ps(reinterpret_cast<const float*>(run + (3 * R + j) * 4));
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            _mm_storeu_ps(reinterpret_cast<float*>(out + j * K + c), r0);
            _mm_storeu_ps(reinterpret_cast<float*>(out + (j + 1) * K + c), r1);
            _mm_storeu_ps(reinterpret_cast<float*>(out + (j + 2) * K + c), r2);
            _mm_storeu_ps(reinterpret_cast<float*>(out + (j + 3) * K + c), r3);
          }
          for (; j < rows; ++j) {
            for (std::uint64_t q = 0; q < 4; ++q)
              out[j * K + c + q] = stored<T, Out>(run, q * R + j);
          }
        }
      }
#endif
      for (; c < K; ++c) {
        const std::byte* run = p + (c * R + r) * sizeof(T);
        for (std::uint64_t a = 0; a < next; a += 64) __builtin_prefetch(run + rows * sizeof(T) + a);
        for (std::uint64_t j = 0; j < rows; ++j) out[j * K + c] = stored<T, Out>(run, j);
      }
      step = rows * K;
    } else {  // part of one row
      step = std::min(K - k, len);
      for (std::uint64_t j = 0; j < step; ++j) out[j] = stored<T, Out>(p, (k + j) * R + r);
    }
    out += step, first += step, len -= step;
  }
}

template <class T>
void fill_typed(const source& s, layout_choice layout, const std::vector<std::int64_t>& shape,
                std::uint64_t first, std::uint64_t len, double* out) noexcept {
  if (layout != layout_choice::same && s.contiguous && shape.size() == 4) {
    gather_transposed<T, double>(s.base, make_transpose(shape, layout), first, len, out);
  } else if (layout == layout_choice::same) {
    if (s.contiguous) {
      for (std::uint64_t i = 0; i < len; ++i) out[i] = raw<T>(s.base, first + i);
    } else {
      std::uint64_t r = first / s.inner, c = first % s.inner;
      for (std::uint64_t i = 0; i < len; ++i) {
        out[i] = raw<T>(s.base, r * s.stride + c);
        if (++c == s.inner) c = 0, ++r;
      }
    }
  } else {
    const odometer_spec o = make_odometer(shape, layout);
    std::uint64_t x[4];
    std::uint64_t rest = first;
    for (int k = 3; k >= 0; --k) {
      x[k] = o.dim[k] ? rest % o.dim[k] : 0;
      rest = o.dim[k] ? rest / o.dim[k] : 0;
    }
    for (std::uint64_t i = 0; i < len; ++i) {
      const std::uint64_t j =
          x[0] * o.stride[0] + x[1] * o.stride[1] + x[2] * o.stride[2] + x[3] * o.stride[3];
      out[i] = raw<T>(s.base, physical(s, j));
      for (int k = 3; k >= 0; --k) {
        if (++x[k] < o.dim[k]) break;
        x[k] = 0;
      }
    }
  }
  if (s.dequantize) {
    for (std::uint64_t i = 0; i < len; ++i) out[i] = (out[i] - s.zero) * s.scale;
  }
}

void fill(const source& s, layout_choice layout, const std::vector<std::int64_t>& shape,
          std::uint64_t first, std::uint64_t len, double* out) noexcept {
  switch (s.storage) {
    case dtype::f32: return fill_typed<float>(s, layout, shape, first, len, out);
    case dtype::u8:
    case dtype::boolean: return fill_typed<std::uint8_t>(s, layout, shape, first, len, out);
    case dtype::s8: return fill_typed<std::int8_t>(s, layout, shape, first, len, out);
    case dtype::u16: return fill_typed<std::uint16_t>(s, layout, shape, first, len, out);
    case dtype::s16: return fill_typed<std::int16_t>(s, layout, shape, first, len, out);
    case dtype::s32: return fill_typed<std::int32_t>(s, layout, shape, first, len, out);
    case dtype::unknown: break;
  }
  std::fill(out, out + len, std::numeric_limits<double>::quiet_NaN());
}

constexpr std::uint64_t block = 1024, max_block = 8192;  // elements, multiples of sum_lanes

struct side_counts {
  std::uint64_t nan = 0, inf = 0;
};

void count_nonfinite_into(const tensor_view& v, side_counts& c) noexcept {
  const source s = make_source(v);
  double buf[block];
  for (std::uint64_t first = 0; first < v.elements; first += block) {
    const std::uint64_t len = std::min(block, v.elements - first);
    fill(s, layout_choice::same, v.shape, first, len, buf);
    for (std::uint64_t i = 0; i < len; ++i) {
      c.nan += std::isnan(buf[i]) ? 1 : 0;
      c.inf += std::isinf(buf[i]) ? 1 : 0;
    }
  }
}

// The counting pass reads the mapping again, after the guarded chunks: a
// file cut in between leaves the counts of what was still there.
side_counts count_nonfinite(const tensor_view& v) noexcept {
  struct call {
    const tensor_view* v;
    side_counts c;
  } k{&v, {}};
  guarded_read(
      {v.mapped()},
      [](void* p) {
        auto* x = static_cast<call*>(p);
        count_nonfinite_into(*x->v, x->c);
      },
      &k);
  return k.c;
}

}  // namespace

namespace {

widen_spec widening(const source& s) noexcept { return {s.storage, s.dequantize, s.zero, s.scale}; }

// Whether kernel_set::sum_stored reads s: contiguous float32 as it is, or
// contiguous integers.
bool stored_run(const source& s) noexcept {
  if (!s.contiguous) return false;
  if (s.storage == dtype::f32) return !s.dequantize;
  return s.storage != dtype::unknown;
}

// Real values [first, first+len) of s in the `same` layout, through the
// variant's widening kernel (row by row when rows are padded).
void widen_values(const kernel_set& k, const source& s, std::uint64_t first, std::uint64_t len,
                  double* out) noexcept {
  const widen_spec w = widening(s);
  const std::uint64_t size = dtype_size(s.storage);
  if (s.contiguous) return k.widen(w, s.base + first * size, len, out);
  std::uint64_t r = first / s.inner, c = first % s.inner;
  while (len > 0) {
    const std::uint64_t run = std::min(len, s.inner - c);
    k.widen(w, s.base + (r * s.stride + c) * size, run, out);
    out += run, len -= run, c = 0, ++r;
  }
}

}  // namespace

namespace {

// Sums of sample values [fa, fa+len) of a against [fb, fb+len) of b, both
// read in the `same` layout; fa - (the chunk's first) is a multiple of
// sum_lanes.
void sum_same_layout(const kernel_set& k, const source& a, std::uint64_t fa, const source& b,
                     std::uint64_t fb, std::uint64_t len, lane_sums& acc) noexcept {
  if (fast_f32(a) && fast_f32(b)) {
    return k.sum_f32(reinterpret_cast<const float*>(a.base) + fa,
                     reinterpret_cast<const float*>(b.base) + fb, len, acc);
  }
  if (k.sum_stored != nullptr && stored_run(a) && stored_run(b)) {
    return k.sum_stored(widening(a), a.base + fa * dtype_size(a.storage), widening(b),
                        b.base + fb * dtype_size(b.storage), len, acc);
  }
  alignas(64) double x[block], y[block];
  for (std::uint64_t off = 0; off < len; off += block) {
    const std::uint64_t n = std::min(block, len - off);
    widen_values(k, a, fa + off, n, x);
    widen_values(k, b, fb + off, n, y);
    k.sum_f64(x, y, n, acc);
  }
}

// Copies the stored bits of benchmark values [first, first+len) in the
// read order of a transposing layout into out.
void gather_stored(const source& s, transpose_spec t, std::uint64_t first, std::uint64_t len,
                   std::byte* out) noexcept {
  switch (dtype_size(s.storage)) {
    case 1:
      return gather_transposed<std::uint8_t>(s.base, t, first, len,
                                             reinterpret_cast<std::uint8_t*>(out));
    case 2:
      return gather_transposed<std::uint16_t>(s.base, t, first, len,
                                              reinterpret_cast<std::uint16_t*>(out));
    case 4:
      return gather_transposed<std::uint32_t>(s.base, t, first, len,
                                              reinterpret_cast<std::uint32_t*>(out));
    default: break;
  }
}

}  // namespace

metric_sums chunk_sums(const tensor_view& sample, const tensor_view& bench, layout_choice layout,
                       std::uint64_t chunk) noexcept {
  const std::uint64_t first = chunk * chunk_elements;
  if (first >= sample.elements) return {};
  const std::uint64_t len = std::min(chunk_elements, sample.elements - first);
  const source sa = make_source(sample), sb = make_source(bench);
  const kernel_set& k = active_kernels();
  lane_sums acc;
  if (layout == layout_choice::same) {
    sum_same_layout(k, sa, first, sb, first, len, acc);
  } else if (sb.contiguous && bench.shape.size() == 4 && dtype_size(sb.storage) != 0) {
    // The benchmark's stored values are gathered into the read order (a
    // block of about eight rows of it at a time: see gather_transposed),
    // then summed as a `same`-layout pair.
    const transpose_spec t = make_transpose(bench.shape, layout);
    const std::uint64_t step = std::clamp(t.cols * 8, block, max_block);
    alignas(64) std::byte gathered[max_block * 4];
    source in_order = sb;
    in_order.base = gathered;
    for (std::uint64_t off = 0; off < len; off += step) {
      const std::uint64_t n = std::min(step, len - off);
      gather_stored(sb, t, first + off, n, gathered);
      sum_same_layout(k, sa, first + off, in_order, 0, n, acc);
    }
  } else {
    alignas(64) double a[block], b[block];
    for (std::uint64_t off = 0; off < len; off += block) {
      const std::uint64_t n = std::min(block, len - off);
      widen_values(k, sa, first + off, n, a);
      fill(sb, layout, bench.shape, first + off, n, b);
      k.sum_f64(a, b, n, acc);
    }
  }
  return reduce_lanes(acc);
}

void add_same_layout(const tensor_view& sample, const tensor_view& bench, std::uint64_t first,
                     std::uint64_t len, lane_sums& acc) noexcept {
  sum_same_layout(active_kernels(), make_source(sample), first, make_source(bench), first, len,
                  acc);
}

layer_metrics sums_metrics(const metric_sums& s, std::uint64_t elements) noexcept {
  constexpr double inf = std::numeric_limits<double>::infinity();
  layer_metrics m;
  m.n = elements;
  const auto n = static_cast<double>(m.n);
  m.mse = s.dd / n;
  m.cos = (s.aa == 0 || s.bb == 0) ? 0.0 : s.ab / (std::sqrt(s.aa) * std::sqrt(s.bb));
  // sum|b| == 0: the vendor divides by zero (nan or inf). Two all-zero
  // tensors are identical, so 0; otherwise an honest +inf.
  m.rmse = s.abs_b == 0 ? (s.abs_d == 0 ? 0.0 : inf) : s.abs_d / s.abs_b;
  m.max_abs = s.max_nan ? std::numeric_limits<double>::quiet_NaN() : s.max_d;
  m.sqnr_db = s.dd == 0 ? inf : (s.bb == 0 ? -inf : 10.0 * std::log10(s.bb / s.dd));
  m.rel_l2 = s.bb == 0 ? (s.dd == 0 ? 0.0 : inf) : std::sqrt(s.dd) / std::sqrt(s.bb);
  m.all_zero = s.aa == 0 && s.bb == 0;
  return m;
}

layer_metrics finish_metrics(const metric_sums& s, const tensor_view& sample,
                             const tensor_view& bench, layout_choice /*layout*/) {
  layer_metrics m = sums_metrics(s, sample.elements);
  // A non-finite element makes its side's sum of squares non-finite (finite
  // float32 or dequantized values cannot overflow a double square sum), so
  // only then is a counting pass needed.
  if (!std::isfinite(s.aa)) {
    const side_counts c = count_nonfinite(sample);
    m.sample_nan = c.nan;
    m.sample_inf = c.inf;
  }
  if (!std::isfinite(s.bb)) {
    const side_counts c = count_nonfinite(bench);
    m.bench_nan = c.nan;
    m.bench_inf = c.inf;
  }
  return m;
}

}  // namespace detail

std::vector<std::int64_t> layout_shape(const std::vector<std::int64_t>& s, layout_choice layout) {
  if (s.size() != 4 || layout == layout_choice::same) return s;
  if (layout == layout_choice::benchmark_nchw_to_nhwc) return {s[0], s[2], s[3], s[1]};
  return {s[0], s[3], s[1], s[2]};
}

void read_values(const tensor_view& v, layout_choice layout, std::uint64_t first,
                 std::span<double> out) noexcept {
  if (layout != layout_choice::same && v.shape.size() != 4) layout = layout_choice::same;
  const detail::source s = detail::make_source(v);
  if (layout == layout_choice::same) {
    // The variant's widening kernel: the same values as fill's loop.
    return detail::widen_values(detail::active_kernels(), s, first, out.size(), out.data());
  }
  detail::fill(s, layout, v.shape, first, out.size(), out.data());
}

}  // namespace sigdump
