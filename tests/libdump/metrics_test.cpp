// compute_metrics on hand-built tensor views: the vendor's formulas by hand,
// edge cases (zero norms, NaN, Inf, negative zero, one element), every
// stored integer type dequantized, padded rows, both transposes, chunking.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

#include "sigdump/compare.h"
#include "sigdump/isa.h"
#include "sigdump/tensor.h"

namespace sigdump {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double qnan = std::numeric_limits<double>::quiet_NaN();

// A view over floats owned by the test (no mapping needed).
tensor_view view_of(const std::vector<float>& v, std::vector<std::int64_t> shape = {}) {
  tensor_view t;
  t.data = reinterpret_cast<const std::byte*>(v.data());
  t.storage = dtype::f32;
  t.elements = v.size();
  t.inner = t.inner_stride = 1;
  t.shape = shape.empty() ? std::vector<std::int64_t>{static_cast<std::int64_t>(v.size())} : shape;
  return t;
}

layer_metrics metrics(const std::vector<float>& a, const std::vector<float>& b,
                      unsigned threads = 1) {
  auto m = compute_metrics(view_of(a), view_of(b), layout_choice::same, threads);
  EXPECT_TRUE(m.has_value());
  return m.value_or(layer_metrics{});
}

TEST(Metrics, HandComputedVendorFormulas) {
  const layer_metrics m = metrics({1, 2, 3, 4}, {1, 2, 3, 5});
  EXPECT_EQ(m.n, 4u);
  EXPECT_DOUBLE_EQ(m.mse, 0.25);
  EXPECT_DOUBLE_EQ(m.cos, 34.0 / (std::sqrt(30.0) * std::sqrt(39.0)));
  EXPECT_DOUBLE_EQ(m.rmse, 1.0 / 11.0);  // relative L1, not a root mean square
  EXPECT_DOUBLE_EQ(m.max_abs, 1.0);
  EXPECT_DOUBLE_EQ(m.sqnr_db, 10.0 * std::log10(39.0));
  EXPECT_DOUBLE_EQ(m.rel_l2, 1.0 / std::sqrt(39.0));
  EXPECT_FALSE(m.all_zero);
  EXPECT_EQ(m.sample_nan + m.sample_inf + m.bench_nan + m.bench_inf, 0u);
}

TEST(Metrics, SingleElement) {
  const layer_metrics m = metrics({2}, {3});
  EXPECT_DOUBLE_EQ(m.mse, 1.0);
  EXPECT_DOUBLE_EQ(m.cos, 1.0);
  EXPECT_DOUBLE_EQ(m.rmse, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.max_abs, 1.0);
}

TEST(Metrics, IdenticalIsPerfect) {
  const layer_metrics m = metrics({-1.5f, 0.25f, 7}, {-1.5f, 0.25f, 7});
  EXPECT_EQ(m.mse, 0.0);
  EXPECT_DOUBLE_EQ(m.cos, 1.0);
  EXPECT_EQ(m.rmse, 0.0);
  EXPECT_EQ(m.sqnr_db, inf);
  EXPECT_EQ(m.rel_l2, 0.0);
  EXPECT_FALSE(is_suspect(m, {}));
}

TEST(Metrics, ZeroSampleNorm) {
  const layer_metrics m = metrics({0, 0, 0}, {1, -2, 3});
  EXPECT_EQ(m.cos, 0.0);
  EXPECT_DOUBLE_EQ(m.rmse, 1.0);
  EXPECT_DOUBLE_EQ(m.mse, 14.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.sqnr_db, 0.0);
  EXPECT_TRUE(is_suspect(m, {}));
}

TEST(Metrics, ZeroBenchmarkNorm) {
  const layer_metrics m = metrics({1, 0}, {0, 0});
  EXPECT_EQ(m.cos, 0.0);
  EXPECT_EQ(m.rmse, inf);  // sum|a-b| / 0: reported as +inf, never hidden
  EXPECT_EQ(m.sqnr_db, -inf);
  EXPECT_EQ(m.rel_l2, inf);
  EXPECT_TRUE(is_suspect(m, {}));
}

TEST(Metrics, BothAllZeroAreIdenticalNotSuspect) {
  const layer_metrics m = metrics({0, -0.0f, 0}, {0, 0, -0.0f});
  EXPECT_TRUE(m.all_zero);
  EXPECT_EQ(m.cos, 0.0);  // the vendor's rule, kept
  EXPECT_EQ(m.rmse, 0.0);
  EXPECT_EQ(m.mse, 0.0);
  EXPECT_EQ(m.sqnr_db, inf);
  EXPECT_FALSE(is_suspect(m, {}));
}

TEST(Metrics, NegativeZeroEqualsZero) {
  const layer_metrics m = metrics({-0.0f, 1, 2}, {0.0f, 1, 2});
  EXPECT_EQ(m.mse, 0.0);
  EXPECT_DOUBLE_EQ(m.cos, 1.0);
  EXPECT_EQ(m.rmse, 0.0);
  EXPECT_EQ(m.max_abs, 0.0);
  EXPECT_FALSE(std::signbit(m.max_abs));
}

TEST(Metrics, NaNPropagatesAndIsCounted) {
  const float n = std::numeric_limits<float>::quiet_NaN();
  const layer_metrics m = metrics({1, n, 3, n}, {1, 2, 3, 4});
  EXPECT_TRUE(std::isnan(m.mse));
  EXPECT_TRUE(std::isnan(m.cos));
  EXPECT_TRUE(std::isnan(m.rmse));
  EXPECT_TRUE(std::isnan(m.max_abs));
  EXPECT_EQ(m.sample_nan, 2u);
  EXPECT_EQ(m.bench_nan, 0u);
  EXPECT_TRUE(is_suspect(m, {}));
}

TEST(Metrics, InfIsCountedPerSide) {
  const float i = std::numeric_limits<float>::infinity();
  const layer_metrics m = metrics({1, 2, 3}, {1, -i, 3});
  EXPECT_EQ(m.bench_inf, 1u);
  EXPECT_EQ(m.bench_nan, 0u);
  EXPECT_EQ(m.sample_inf + m.sample_nan, 0u);
  EXPECT_EQ(m.max_abs, inf);
  EXPECT_TRUE(is_suspect(m, {}));
}

TEST(Metrics, ThresholdsAreStrict) {
  layer_metrics m;
  m.cos = 0.99;
  m.rmse = 0.1;
  EXPECT_FALSE(is_suspect(m, {}));
  m.cos = std::nextafter(0.99, 0.0);
  EXPECT_TRUE(is_suspect(m, {}));
  m.cos = 1;
  m.rmse = std::nextafter(0.1, 1.0);
  EXPECT_TRUE(is_suspect(m, {}));
  m.rmse = qnan;
  EXPECT_TRUE(is_suspect(m, {}));
}

TEST(Metrics, ElementCountMismatchIsAnError) {
  std::vector<float> a{1, 2, 3}, b{1, 2};
  auto m = compute_metrics(view_of(a), view_of(b), layout_choice::same, 1);
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().code, errc::mismatch);
}

template <class T>
void check_dequantized(dtype type, std::vector<T> q, double scale, std::int64_t zero) {
  SCOPED_TRACE(dtype_vendor_name(type));
  tensor_view v;
  v.data = reinterpret_cast<const std::byte*>(q.data());
  v.storage = type;
  v.dequantize = true;
  v.scale = scale;
  v.zero_point = zero;
  v.elements = q.size();
  v.shape = {static_cast<std::int64_t>(q.size())};
  std::vector<float> real;
  for (T x : q)
    real.push_back(
        static_cast<float>((static_cast<double>(x) - static_cast<double>(zero)) * scale));
  // The integer side as sample against the exact real values as benchmark.
  auto m = compute_metrics(v, view_of(real), layout_choice::same, 1);
  ASSERT_TRUE(m.has_value());
  // The float benchmark rounds the real values; the integer side is exact.
  EXPECT_NEAR(m->rmse, 0.0, 1e-7);
  EXPECT_NEAR(m->cos, 1.0, 1e-12);
  // And read_values agrees with tensor_view::at.
  std::vector<double> got(q.size());
  read_values(v, layout_choice::same, 0, got);
  for (std::size_t i = 0; i < q.size(); ++i) EXPECT_EQ(got[i], v.at(i)) << i;
}

TEST(Metrics, DequantizesEveryIntegerType) {
  check_dequantized<std::uint8_t>(dtype::u8, {0, 1, 128, 255, 7}, 0.5, 3);
  check_dequantized<std::int8_t>(dtype::s8, {-128, -1, 0, 1, 127}, 0.25, -2);
  check_dequantized<std::uint16_t>(dtype::u16, {0, 1, 40000, 65535, 9}, 0.125, 100);
  check_dequantized<std::int16_t>(dtype::s16, {-32768, -5, 0, 5, 32767}, 0.000239, 0);
  check_dequantized<std::int32_t>(dtype::s32, {-2147483647, -1, 0, 1, 2147483647}, 1e-6, 4);
  check_dequantized<std::uint8_t>(dtype::boolean, {0, 1, 1, 0, 1}, 1.0, 0);
}

TEST(Metrics, PaddedRowsSkipThePadding) {
  // 2 rows of 3 values, each padded to 4 in the file.
  std::vector<float> padded{1, 2, 3, 99, 4, 5, 6, 99};
  tensor_view p = view_of(padded, {2, 3});
  p.elements = 6;
  p.inner = 3;
  p.inner_stride = 4;
  std::vector<float> plain{1, 2, 3, 4, 5, 6};
  auto m = compute_metrics(p, view_of(plain, {2, 3}), layout_choice::same, 1);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->mse, 0.0);
  EXPECT_DOUBLE_EQ(m->cos, 1.0);
}

// NCHW values with n=2, c=3, h=4, w=5 and the same tensor in NHWC.
struct layouts {
  std::vector<float> nchw, nhwc;
};
layouts make_layouts() {
  constexpr int N = 2, C = 3, H = 4, W = 5;
  layouts l;
  l.nchw.resize(N * C * H * W);
  l.nhwc.resize(N * C * H * W);
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c)
      for (int h = 0; h < H; ++h)
        for (int w = 0; w < W; ++w) {
          const float v = static_cast<float>(std::sin(1.0 + n * 100 + c * 17 + h * 5 + w));
          l.nchw[((n * C + c) * H + h) * W + w] = v;
          l.nhwc[((n * H + h) * W + w) * C + c] = v;
        }
  return l;
}

TEST(Metrics, TransposedReadNchwToNhwc) {
  const layouts l = make_layouts();
  auto m = compute_metrics(view_of(l.nhwc, {2, 4, 5, 3}), view_of(l.nchw, {2, 3, 4, 5}),
                           layout_choice::benchmark_nchw_to_nhwc, 1);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->mse, 0.0);
  EXPECT_DOUBLE_EQ(m->cos, 1.0);
  std::vector<double> got(l.nhwc.size());
  read_values(view_of(l.nchw, {2, 3, 4, 5}), layout_choice::benchmark_nchw_to_nhwc, 0, got);
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], l.nhwc[i]) << i;
  // Reading from the middle starts the index walk at the right place.
  std::vector<double> mid(7);
  read_values(view_of(l.nchw, {2, 3, 4, 5}), layout_choice::benchmark_nchw_to_nhwc, 53, mid);
  for (std::size_t i = 0; i < mid.size(); ++i) ASSERT_EQ(mid[i], l.nhwc[53 + i]) << i;
  EXPECT_EQ(layout_shape({2, 3, 4, 5}, layout_choice::benchmark_nchw_to_nhwc),
            (std::vector<std::int64_t>{2, 4, 5, 3}));
}

TEST(Metrics, TransposedReadNhwcToNchw) {
  const layouts l = make_layouts();
  auto m = compute_metrics(view_of(l.nchw, {2, 3, 4, 5}), view_of(l.nhwc, {2, 4, 5, 3}),
                           layout_choice::benchmark_nhwc_to_nchw, 1);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->mse, 0.0);
  EXPECT_DOUBLE_EQ(m->cos, 1.0);
  auto wrong = compute_metrics(view_of(l.nchw, {2, 3, 4, 5}), view_of(l.nhwc, {2, 4, 5, 3}),
                               layout_choice::same, 1);
  ASSERT_TRUE(wrong.has_value());
  EXPECT_LT(wrong->cos, 0.9);
  EXPECT_EQ(layout_shape({2, 4, 5, 3}, layout_choice::benchmark_nhwc_to_nchw),
            (std::vector<std::int64_t>{2, 3, 4, 5}));
}

void expect_same_bits(const layer_metrics& x, const layer_metrics& y) {
  const double xs[] = {x.mse, x.cos, x.rmse, x.max_abs, x.sqnr_db, x.rel_l2};
  const double ys[] = {y.mse, y.cos, y.rmse, y.max_abs, y.sqnr_db, y.rel_l2};
  EXPECT_EQ(std::memcmp(xs, ys, sizeof xs), 0);
  EXPECT_EQ(x.n, y.n);
}

// Several chunks: the answer matches a plain double loop and does not
// depend on the thread count, bit for bit.
TEST(Metrics, ChunkedLayerIsDeterministicAndCorrect) {
  const std::size_t n = (std::size_t{1} << 20) * 2 + 12345;
  std::vector<float> a(n), b(n);
  for (std::size_t i = 0; i < n; ++i) {
    a[i] = static_cast<float>(std::sin(static_cast<double>(i) * 0.001));
    b[i] = a[i] + static_cast<float>(static_cast<double>((i * 2654435761u) % 1000) * 1e-5);
  }
  const layer_metrics m1 = metrics(a, b, 1), m2 = metrics(a, b, 2), m3 = metrics(a, b, 3);
  expect_same_bits(m1, m2);
  expect_same_bits(m1, m3);
  double ab = 0, aa = 0, bb = 0, dd = 0, ad = 0, abs_b = 0, mx = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double x = a[i], y = b[i], d = x - y;
    ab += x * y, aa += x * x, bb += y * y, dd += d * d, ad += std::fabs(d), abs_b += std::fabs(y);
    mx = std::max(mx, std::fabs(d));
  }
  EXPECT_NEAR(m1.mse, dd / static_cast<double>(n), 1e-12 * dd);
  EXPECT_NEAR(m1.cos, ab / (std::sqrt(aa) * std::sqrt(bb)), 1e-12);
  EXPECT_NEAR(m1.rmse, ad / abs_b, 1e-12);
  EXPECT_EQ(m1.max_abs, mx);
}

// The summation order is part of the contract: every machine (whichever
// kernel clone it picks: AVX-512, AVX2 or plain) and every thread count
// must give the same bits, or live and offline results, and results from
// two machines, could disagree in the last digit. This is that order
// written out plainly: per chunk, eight lanes (element i of the chunk
// into lane i % 8), lanes added pairwise, chunks added in order, no fused
// multiply-add.
// The order written out plainly, for values a, b (as doubles).
layer_metrics in_the_fixed_order(const std::vector<double>& a, const std::vector<double>& b) {
  const std::size_t chunk = static_cast<std::size_t>(compare_chunk_elements());
  const std::size_t n = a.size();
  double ab = 0, aa = 0, bb = 0, dd = 0, sad = 0, sab = 0;
  for (std::size_t first = 0; first < n; first += chunk) {
    double lab[8] = {}, laa[8] = {}, lbb[8] = {}, ldd[8] = {}, lad[8] = {}, lsb[8] = {};
    const std::size_t end = std::min(n, first + chunk);
    for (std::size_t i = first; i < end; ++i) {
      const std::size_t l = (i - first) % 8;
      const double x = a[i], y = b[i];
      const double d = x - y;
      const volatile double xy = x * y, xx = x * x, yy = y * y, d2 = d * d;  // no fusing
      lab[l] += xy, laa[l] += xx, lbb[l] += yy, ldd[l] += d2;
      lad[l] += std::fabs(d), lsb[l] += std::fabs(y);
    }
    auto tree = [](const double* v) {
      return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
    };
    ab += tree(lab), aa += tree(laa), bb += tree(lbb), dd += tree(ldd);
    sad += tree(lad), sab += tree(lsb);
  }
  layer_metrics m;
  m.mse = dd / static_cast<double>(n);
  m.cos = ab / (std::sqrt(aa) * std::sqrt(bb));
  m.rmse = sad / sab;
  return m;
}

void expect_bits(const layer_metrics& got, const layer_metrics& want) {
  EXPECT_EQ(std::memcmp(&got.mse, &want.mse, sizeof want.mse), 0) << got.mse << " vs " << want.mse;
  EXPECT_EQ(std::memcmp(&got.cos, &want.cos, sizeof want.cos), 0) << got.cos << " vs " << want.cos;
  EXPECT_EQ(std::memcmp(&got.rmse, &want.rmse, sizeof want.rmse), 0)
      << got.rmse << " vs " << want.rmse;
}

// The summation order is part of the contract: every machine (whichever
// kernel clone it picks: AVX-512, AVX2 or plain) and every thread count
// must give the same bits, or live and offline results, and results from
// two machines, could disagree in the last digit. Per chunk, eight lanes
// (element i of the chunk into lane i % 8), lanes added pairwise, chunks
// added in order, no fused multiply-add. Both kernels: float32 read in
// place, and values made first (dequantized INT16 here, whose products are
// not exact in double, so a fused multiply-add would show).
TEST(Metrics, SummationOrderIsFixedToTheBit) {
  const std::size_t n = static_cast<std::size_t>(compare_chunk_elements()) * 2 + 1237;
  std::vector<float> a(n), b(n);
  std::vector<std::int16_t> qa(n), qb(n);
  std::vector<double> da(n), db(n), ra(n), rb(n);
  const double sa = 0.0123, sb = 0.0071;
  const std::int64_t za = 3, zb = -5;
  for (std::size_t i = 0; i < n; ++i) {
    a[i] = static_cast<float>(std::sin(static_cast<double>(i) * 0.0013) * 3.0);
    b[i] = static_cast<float>(std::cos(static_cast<double>(i) * 0.0007) * 2.5);
    da[i] = a[i], db[i] = b[i];
    qa[i] = static_cast<std::int16_t>(std::lround(a[i] * 1000.0f));
    qb[i] = static_cast<std::int16_t>(std::lround(b[i] * 1000.0f));
    ra[i] = (static_cast<double>(qa[i]) - static_cast<double>(za)) * sa;
    rb[i] = (static_cast<double>(qb[i]) - static_cast<double>(zb)) * sb;
  }
  auto quantized = [&](const std::vector<std::int16_t>& q, double scale, std::int64_t zero) {
    tensor_view t;
    t.data = reinterpret_cast<const std::byte*>(q.data());
    t.storage = dtype::s16;
    t.dequantize = true;
    t.scale = scale;
    t.zero_point = zero;
    t.elements = q.size();
    t.inner = t.inner_stride = 1;
    t.shape = {static_cast<std::int64_t>(q.size())};
    return t;
  };
  const layer_metrics want_f32 = in_the_fixed_order(da, db), want_q = in_the_fixed_order(ra, rb);
  for (unsigned threads : {1u, 2u, 3u}) {
    expect_bits(metrics(a, b, threads), want_f32);
    auto q =
        compute_metrics(quantized(qa, sa, za), quantized(qb, sb, zb), layout_choice::same, threads);
    ASSERT_TRUE(q);
    expect_bits(*q, want_q);
  }
}

// The same order, checked under each kernel variant this CPU runs (the
// test above checks whichever variant is active), on every raw sum of each
// chunk: compute_chunk's partial sums against the lanes written out.
partial_sums chunk_in_the_fixed_order(const std::vector<double>& a, const std::vector<double>& b,
                                      std::size_t chunk) {
  const std::size_t size = static_cast<std::size_t>(compare_chunk_elements());
  const std::size_t first = chunk * size, end = std::min(a.size(), first + size);
  double lab[8] = {}, laa[8] = {}, lbb[8] = {}, ldd[8] = {}, lad[8] = {}, lsb[8] = {};
  partial_sums s;
  for (std::size_t i = first; i < end; ++i) {
    const std::size_t l = (i - first) % 8;
    const double x = a[i], y = b[i];
    const double d = x - y;
    const volatile double xy = x * y, xx = x * x, yy = y * y, d2 = d * d;  // no fusing
    lab[l] += xy, laa[l] += xx, lbb[l] += yy, ldd[l] += d2;
    lad[l] += std::fabs(d), lsb[l] += std::fabs(y);
    s.max_d = std::max(s.max_d, std::fabs(d));
  }
  auto tree = [](const double* v) {
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
  };
  s.ab = tree(lab), s.aa = tree(laa), s.bb = tree(lbb), s.dd = tree(ldd);
  s.abs_d = tree(lad), s.abs_b = tree(lsb);
  return s;
}

void expect_bits(const partial_sums& got, const partial_sums& want) {
  const double g[] = {got.ab, got.aa, got.bb, got.dd, got.abs_d, got.abs_b, got.max_d};
  const double w[] = {want.ab, want.aa, want.bb, want.dd, want.abs_d, want.abs_b, want.max_d};
  const char* names[] = {"ab", "aa", "bb", "dd", "abs_d", "abs_b", "max_d"};
  for (std::size_t k = 0; k < std::size(g); ++k) {
    EXPECT_EQ(std::memcmp(&g[k], &w[k], sizeof g[k]), 0)
        << names[k] << ": " << g[k] << " vs " << w[k];
  }
}

TEST(Metrics, SummationOrderIsFixedToTheBitInEveryVariant) {
  const std::size_t n = static_cast<std::size_t>(compare_chunk_elements()) + 1237;
  std::vector<float> a(n), b(n);
  std::vector<std::uint8_t> qa(n);
  std::vector<double> da(n), db(n), ra(n);
  const double scale = 0.0173;
  const std::int64_t zero = 121;
  for (std::size_t i = 0; i < n; ++i) {
    a[i] = static_cast<float>(std::sin(static_cast<double>(i) * 0.0011) * 7.0);
    b[i] = static_cast<float>(std::cos(static_cast<double>(i) * 0.0017) * 0.3);
    da[i] = a[i], db[i] = b[i];
    qa[i] = static_cast<std::uint8_t>((i * 37) % 256);
    ra[i] = (static_cast<double>(qa[i]) - static_cast<double>(zero)) * scale;
  }
  tensor_view q;
  q.data = reinterpret_cast<const std::byte*>(qa.data());
  q.storage = dtype::u8;
  q.dequantize = true;
  q.scale = scale;
  q.zero_point = zero;
  q.elements = n;
  q.shape = {static_cast<std::int64_t>(n)};
  const auto before = active_isa();
  for (kernel_isa v : supported_isas()) {
    SCOPED_TRACE(isa_name(v));
    ASSERT_TRUE(use_isa(v));
    for (std::size_t chunk : {0u, 1u}) {
      SCOPED_TRACE(chunk);
      auto f = compute_chunk(view_of(a), view_of(b), chunk);
      ASSERT_TRUE(f);
      expect_bits(*f, chunk_in_the_fixed_order(da, db, chunk));
      auto m = compute_chunk(q, view_of(b), chunk);
      ASSERT_TRUE(m);
      expect_bits(*m, chunk_in_the_fixed_order(ra, db, chunk));
    }
  }
  if (before) (void)use_isa(*before);
}

// Floats near the ends of float's range (products near 2^-230 and 2^+200,
// subnormals among them) whose differences a double does not hold
// exactly: the AVX2 kernels fuse the products of widened floats with their
// adds (a double holds such a product exactly, so the same bits as
// multiplying then adding, where a fused d*d would not be); every variant
// must give the plain loop's sums.
TEST(Metrics, FloatProductsAtTheEndsOfTheRangeSumToTheSameBits) {
  const std::size_t n = 4099;
  for (float scale : {0x1p-100f, 0x1p+100f}) {
    SCOPED_TRACE(scale);
    std::vector<float> a(n), b(n);
    std::vector<double> da(n), db(n);
    for (std::size_t i = 0; i < n; ++i) {
      a[i] = static_cast<float>(std::sin(static_cast<double>(i) * 0.0011) * 7.0) * scale;
      b[i] = static_cast<float>(std::cos(static_cast<double>(i) * 0.0017) * 3e-11) * scale;
      da[i] = a[i], db[i] = b[i];
    }
    const auto before = active_isa();
    for (kernel_isa v : supported_isas()) {
      SCOPED_TRACE(isa_name(v));
      ASSERT_TRUE(use_isa(v));
      auto f = compute_chunk(view_of(a), view_of(b), 0);
      ASSERT_TRUE(f);
      ASSERT_TRUE(std::isfinite(f->aa) && std::isfinite(f->dd) && f->bb > 0);
      expect_bits(*f, chunk_in_the_fixed_order(da, db, 0));
    }
    if (before) (void)use_isa(*before);
  }
}

}  // namespace
}  // namespace sigdump
