// The kernel variants (sigdump/isa.h): picking one, refusing one the CPU
// lacks, and every variant this CPU runs giving the same metrics, chunk
// sums and reports to the bit on float, dequantized, padded, transposed
// and non-finite inputs, whatever the thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "sigdump/channel_metrics.h"
#include "sigdump/compare.h"
#include "sigdump/dump_file.h"
#include "sigdump/dump_writer.h"
#include "sigdump/isa.h"
#include "sigdump/report/report_json.h"
#include "test_support.h"

namespace sigdump {
namespace {

// When CTest runs the metric and compare suites once per variant through
// SIGDUMP_ISA, a variant this CPU lacks is skipped, not failed.
class variant_from_environment : public ::testing::Environment {
 public:
  void SetUp() override {
    const char* v = std::getenv("SIGDUMP_ISA");
    if (v == nullptr || *v == '\0') return;
    const auto named = parse_isa_name(v);
    if (named && !isa_supported(*named)) {
      GTEST_SKIP() << "SKIP: SIGDUMP_ISA=" << v << ": this CPU cannot run that variant";
    }
  }
};
[[maybe_unused]] ::testing::Environment* const skip_unsupported =
    ::testing::AddGlobalTestEnvironment(new variant_from_environment);

// Restores the variant in force before the test.
class variant_scope {
 public:
  variant_scope() : before_(active_isa()) {}
  ~variant_scope() {
    if (before_) (void)use_isa(*before_);
  }
  variant_scope(const variant_scope&) = delete;
  variant_scope& operator=(const variant_scope&) = delete;

 private:
  result<kernel_isa> before_;
};

constexpr float fnan = std::numeric_limits<float>::quiet_NaN();
constexpr float finf = std::numeric_limits<float>::infinity();

// Same bits, or NaN on both sides (a NaN's payload is not part of the contract).
bool same(double x, double y) {
  return std::memcmp(&x, &y, sizeof x) == 0 || (std::isnan(x) && std::isnan(y));
}

std::string differences(const layer_metrics& x, const layer_metrics& y) {
  std::string out;
  auto field = [&](const char* name, double a, double b) {
    if (!same(a, b)) {
      char line[160];
      std::snprintf(line, sizeof line, " %s %.17g vs %.17g;", name, a, b);
      out += line;
    }
  };
  field("mse", x.mse, y.mse);
  field("cos", x.cos, y.cos);
  field("rmse", x.rmse, y.rmse);
  field("max_abs", x.max_abs, y.max_abs);
  field("sqnr_db", x.sqnr_db, y.sqnr_db);
  field("rel_l2", x.rel_l2, y.rel_l2);
  if (x.n != y.n || x.sample_nan != y.sample_nan || x.sample_inf != y.sample_inf ||
      x.bench_nan != y.bench_nan || x.bench_inf != y.bench_inf || x.all_zero != y.all_zero) {
    out += " counts differ;";
  }
  return out;
}

std::string differences(const partial_sums& x, const partial_sums& y) {
  std::string out;
  const double xs[] = {x.ab, x.aa, x.bb, x.dd, x.abs_d, x.abs_b, x.max_d};
  const double ys[] = {y.ab, y.aa, y.bb, y.dd, y.abs_d, y.abs_b, y.max_d};
  for (std::size_t i = 0; i < std::size(xs); ++i) {
    if (!same(xs[i], ys[i])) out += " sum " + std::to_string(i) + " differs;";
  }
  if (x.max_nan != y.max_nan) out += " max_nan differs;";
  return out;
}

// Runs `make` under every variant this CPU runs; every answer must equal
// the first (the fastest variant's) per `diff`, which describes a difference.
template <class T>
void expect_every_variant_agrees(const std::string& what, const std::function<T()>& make,
                                 const std::function<std::string(const T&, const T&)>& diff) {
  variant_scope keep;
  const std::vector<kernel_isa> variants = supported_isas();
  ASSERT_FALSE(variants.empty());
  ASSERT_TRUE(use_isa(variants.front()));
  const T first = make();
  for (std::size_t k = 1; k < variants.size(); ++k) {
    ASSERT_TRUE(use_isa(variants[k]));
    const std::string d = diff(make(), first);
    EXPECT_TRUE(d.empty()) << what << ": " << isa_name(variants[k]) << " vs "
                           << isa_name(variants.front()) << ":" << d;
  }
}

// Values of every sign and size, exact zeros of both signs among them.
std::vector<float> mixed_values(std::size_t n, std::uint32_t seed) {
  std::vector<float> v(n);
  std::uint32_t s = seed;
  for (std::size_t i = 0; i < n; ++i) {
    s = s * 1664525u + 1013904223u;
    const float unit = static_cast<float>(s >> 8) * (2.0f / 16777216.0f) - 1.0f;
    const float scale = std::pow(10.0f, static_cast<float>(static_cast<int>(s % 7) - 3));
    v[i] = (s % 29 == 0) ? ((s & 64) ? -0.0f : 0.0f) : unit * scale;
  }
  return v;
}

template <class T>
tensor_view view_of(const std::vector<T>& v, dtype type, std::vector<std::int64_t> shape = {}) {
  tensor_view t;
  t.data = reinterpret_cast<const std::byte*>(v.data());
  t.storage = type;
  t.elements = v.size();
  t.inner = t.inner_stride = 1;
  t.shape = shape.empty() ? std::vector<std::int64_t>{static_cast<std::int64_t>(v.size())} : shape;
  return t;
}

template <class T>
tensor_view quantized(const std::vector<T>& q, dtype type, double scale, std::int64_t zero,
                      std::vector<std::int64_t> shape = {}) {
  tensor_view t = view_of(q, type, std::move(shape));
  t.dequantize = true;
  t.scale = scale;
  t.zero_point = zero;
  return t;
}

template <class T>
std::vector<T> integers(std::size_t n, std::uint32_t seed) {
  std::vector<T> v(n);
  std::uint32_t s = seed;
  for (auto& x : v) {
    s = s * 22695477u + 1u;
    x = static_cast<T>(s >> 7);  // wraps over the whole range of T
  }
  return v;
}

void expect_metrics_agree(const std::string& what, const tensor_view& a, const tensor_view& b,
                          layout_choice layout = layout_choice::same) {
  for (unsigned threads : {1u, 3u}) {
    expect_every_variant_agrees<layer_metrics>(
        what + ", " + std::to_string(threads) + " thread(s)",
        [&] {
          auto m = compute_metrics(a, b, layout, threads);
          EXPECT_TRUE(m.has_value()) << what;
          return m.value_or(layer_metrics{});
        },
        [](const layer_metrics& x, const layer_metrics& y) { return differences(x, y); });
  }
}

TEST(KernelVariants, NamesRoundTrip) {
  for (kernel_isa v :
       {kernel_isa::avx512, kernel_isa::avx2, kernel_isa::sse2, kernel_isa::scalar}) {
    EXPECT_EQ(parse_isa_name(isa_name(v)), v);
  }
  EXPECT_FALSE(parse_isa_name("AVX2").has_value());
  EXPECT_FALSE(parse_isa_name("").has_value());
}

TEST(KernelVariants, ChoiceFollowsTheVariableAndTheCpu) {
  const kernel_isa avx2_cpu[] = {kernel_isa::avx2, kernel_isa::sse2, kernel_isa::scalar};
  EXPECT_EQ(choose_isa(nullptr, avx2_cpu), kernel_isa::avx2);
  EXPECT_EQ(choose_isa("", avx2_cpu), kernel_isa::avx2);
  EXPECT_EQ(choose_isa("sse2", avx2_cpu), kernel_isa::sse2);
  EXPECT_EQ(choose_isa("scalar", avx2_cpu), kernel_isa::scalar);

  auto lacking = choose_isa("avx512", avx2_cpu);
  ASSERT_FALSE(lacking.has_value());
  EXPECT_EQ(lacking.error().code, errc::usage);
  EXPECT_EQ(lacking.error().describe(),
            "SIGDUMP_ISA=avx512: this CPU lacks AVX-512F, which the avx512 kernels need (it runs: "
            "avx2, sse2, scalar)");

  auto unknown = choose_isa("neon", avx2_cpu);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, errc::usage);
  EXPECT_NE(unknown.error().message.find("SIGDUMP_ISA=neon: unknown kernel variant"),
            std::string::npos)
      << unknown.error().message;

  const kernel_isa portable_cpu[] = {kernel_isa::scalar};
  auto no_sse2 = choose_isa("sse2", portable_cpu);
  ASSERT_FALSE(no_sse2.has_value());
  EXPECT_NE(no_sse2.error().message.find("lacks SSE2"), std::string::npos);
}

TEST(KernelVariants, UseIsaTakesExactlyWhatTheCpuRuns) {
  variant_scope keep;
  const std::vector<kernel_isa> runs = supported_isas();
  ASSERT_FALSE(runs.empty());
  EXPECT_EQ(runs.back(), kernel_isa::scalar);  // the portable code runs anywhere
  for (kernel_isa v :
       {kernel_isa::avx512, kernel_isa::avx2, kernel_isa::sse2, kernel_isa::scalar}) {
    const bool listed = std::find(runs.begin(), runs.end(), v) != runs.end();
    EXPECT_EQ(isa_supported(v), listed) << isa_name(v);
    auto r = use_isa(v);
    EXPECT_EQ(r.has_value(), listed) << isa_name(v);
    if (r) {
      EXPECT_EQ(active_isa(), v);
    } else {
      EXPECT_NE(r.error().message.find("this CPU lacks"), std::string::npos);
    }
  }
}

// Under CTest's per-variant runs, SIGDUMP_ISA decides what runs.
TEST(KernelVariants, ActiveVariantIsTheEnvironmentsWhenSet) {
  const char* v = std::getenv("SIGDUMP_ISA");
  auto active = active_isa();
  ASSERT_TRUE(active.has_value()) << active.error().describe();
  if (v == nullptr || *v == '\0') {
    EXPECT_EQ(*active, supported_isas().front());
  } else {
    EXPECT_EQ(isa_name(*active), std::string(v));
  }
}

TEST(KernelVariants, Float32EveryLengthAndTail) {
  for (std::size_t n : {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 1023, 1024, 1025, 4099}) {
    const auto a = mixed_values(n, 11u + static_cast<std::uint32_t>(n));
    const auto b = mixed_values(n, 97u + static_cast<std::uint32_t>(n));
    expect_metrics_agree("f32 n=" + std::to_string(n), view_of(a, dtype::f32),
                         view_of(b, dtype::f32));
  }
}

TEST(KernelVariants, Float32SeveralChunks) {
  const std::size_t n = static_cast<std::size_t>(compare_chunk_elements()) * 2 + 4093;
  const auto a = mixed_values(n, 5), b = mixed_values(n, 6);
  expect_metrics_agree("f32, three chunks", view_of(a, dtype::f32), view_of(b, dtype::f32));
}

TEST(KernelVariants, NonFiniteValuesAnywhere) {
  // NaN and infinities in the first lanes, the last full group and the tail.
  for (std::size_t at : {0, 3, 7, 8, 12, 16, 21, 22}) {
    auto a = mixed_values(23, 1), b = mixed_values(23, 2);
    a[at] = fnan;
    expect_metrics_agree("sample NaN at " + std::to_string(at), view_of(a, dtype::f32),
                         view_of(b, dtype::f32));
    a[at] = finf;
    b[(at + 5) % 23] = -finf;
    expect_metrics_agree("infinities at " + std::to_string(at), view_of(a, dtype::f32),
                         view_of(b, dtype::f32));
    b[at] = finf;  // inf - inf
    expect_metrics_agree("inf - inf at " + std::to_string(at), view_of(a, dtype::f32),
                         view_of(b, dtype::f32));
  }
  const std::vector<float> zeros(19, 0.0f), negative_zeros(19, -0.0f);
  expect_metrics_agree("all zero", view_of(zeros, dtype::f32), view_of(negative_zeros, dtype::f32));
}

TEST(KernelVariants, DequantizedEveryTypeOnEitherSide) {
  const std::size_t n = 5000 + 13;
  const auto u8 = integers<std::uint8_t>(n, 1);
  const auto s8 = integers<std::int8_t>(n, 2);
  const auto u16 = integers<std::uint16_t>(n, 3);
  const auto s16 = integers<std::int16_t>(n, 4);
  const auto s32 = integers<std::int32_t>(n, 5);
  const auto f = mixed_values(n, 6);
  const std::vector<std::pair<std::string, tensor_view>> sides = {
      {"u8", quantized(u8, dtype::u8, 0.0123, 128)},
      {"s8", quantized(s8, dtype::s8, 0.031, -3)},
      {"u16", quantized(u16, dtype::u16, 1.0 / 3000, 32768)},
      {"s16", quantized(s16, dtype::s16, 0.000239, 7)},
      {"s32", quantized(s32, dtype::s32, 1e-9, -100000)},
      {"bool", quantized(u8, dtype::boolean, 1.0, 0)},
      {"f32", view_of(f, dtype::f32)},
  };
  for (const auto& [sname, sample] : sides) {
    for (const auto& [bname, bench] : sides) {
      expect_metrics_agree(sname + " vs " + bname, sample, bench);
    }
  }
  // Integers read as they are (no scale): a text or a float file's integer view.
  tensor_view raw = view_of(s16, dtype::s16);
  expect_metrics_agree("raw s16 vs f32", raw, view_of(f, dtype::f32));
}

TEST(KernelVariants, PaddedRows) {
  // 41 rows of 37 values, each padded to 40 in the file.
  const std::size_t rows = 41, inner = 37, stride = 40;
  auto padded = mixed_values(rows * stride, 9);
  auto padded_q = integers<std::int8_t>(rows * stride, 10);
  const auto plain = mixed_values(rows * inner, 11);
  tensor_view p = view_of(padded, dtype::f32, {41, 37});
  p.elements = rows * inner;
  p.inner = inner;
  p.inner_stride = stride;
  tensor_view q = quantized(padded_q, dtype::s8, 0.01, 1, {41, 37});
  q.elements = rows * inner;
  q.inner = inner;
  q.inner_stride = stride;
  expect_metrics_agree("padded f32", p, view_of(plain, dtype::f32, {41, 37}));
  expect_metrics_agree("padded s8", view_of(plain, dtype::f32, {41, 37}), q);
}

TEST(KernelVariants, TransposedBothWaysAcrossChunks) {
  // [N,C,H,W] = [2,37,41,53] fits one chunk; [1,300,30,40] crosses a chunk
  // boundary in the middle of a row.
  for (const std::vector<std::int64_t>& nchw :
       {std::vector<std::int64_t>{2, 37, 41, 53}, std::vector<std::int64_t>{1, 300, 30, 40}}) {
    const std::vector<std::int64_t> nhwc{nchw[0], nchw[2], nchw[3], nchw[1]};
    const std::size_t n = static_cast<std::size_t>(nchw[0] * nchw[1] * nchw[2] * nchw[3]);
    const auto a = mixed_values(n, 21), b = mixed_values(n, 22);
    const auto qb = integers<std::int16_t>(n, 23);
    const std::string shape = format_shape(nchw);
    expect_metrics_agree("nchw->nhwc " + shape, view_of(a, dtype::f32, nhwc),
                         view_of(b, dtype::f32, nchw), layout_choice::benchmark_nchw_to_nhwc);
    expect_metrics_agree("nhwc->nchw " + shape, view_of(a, dtype::f32, nchw),
                         view_of(b, dtype::f32, nhwc), layout_choice::benchmark_nhwc_to_nchw);
    expect_metrics_agree("nchw->nhwc s16 " + shape, view_of(a, dtype::f32, nhwc),
                         quantized(qb, dtype::s16, 0.001, 5, nchw),
                         layout_choice::benchmark_nchw_to_nhwc);
  }
}

// NCHW [n,c,h,w] of v as NHWC (or back, with `back`).
template <class T>
std::vector<T> transposed_copy(const std::vector<T>& v, std::vector<std::int64_t> nchw, bool back) {
  const auto N = static_cast<std::size_t>(nchw[0]), C = static_cast<std::size_t>(nchw[1]),
             H = static_cast<std::size_t>(nchw[2]), W = static_cast<std::size_t>(nchw[3]);
  std::vector<T> out(v.size());
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t c = 0; c < C; ++c)
      for (std::size_t h = 0; h < H; ++h)
        for (std::size_t w = 0; w < W; ++w) {
          const std::size_t in_nchw = ((n * C + c) * H + h) * W + w;
          const std::size_t in_nhwc = ((n * H + h) * W + w) * C + c;
          if (back) {
            out[in_nchw] = v[in_nhwc];
          } else {
            out[in_nhwc] = v[in_nchw];
          }
        }
  return out;
}

// A transposing read gives the values of a transposed copy read plainly,
// in the same order, so the same bits: shapes with channel counts and
// pixel counts that are and are not multiples of four, tiles cut by block
// and chunk boundaries, four-, two- and one-byte values.
TEST(KernelVariants, TransposedReadEqualsReadingATransposedCopy) {
  variant_scope keep;
  for (const std::vector<std::int64_t>& nchw :
       {std::vector<std::int64_t>{1, 300, 30, 40}, std::vector<std::int64_t>{2, 37, 41, 53},
        std::vector<std::int64_t>{1, 3, 7, 2001}, std::vector<std::int64_t>{1, 2051, 3, 5}}) {
    const std::vector<std::int64_t> nhwc{nchw[0], nchw[2], nchw[3], nchw[1]};
    const std::size_t n = static_cast<std::size_t>(nchw[0] * nchw[1] * nchw[2] * nchw[3]);
    const auto sample = mixed_values(n, 41);
    const auto f = mixed_values(n, 42);
    const auto u8 = integers<std::uint8_t>(n, 43);
    const auto s16 = integers<std::int16_t>(n, 44);
    for (bool back : {false, true}) {
      // back: the benchmark is NHWC, read as NCHW.
      const auto& bench_shape = back ? nhwc : nchw;
      const auto& read_shape = back ? nchw : nhwc;
      const layout_choice layout =
          back ? layout_choice::benchmark_nhwc_to_nchw : layout_choice::benchmark_nchw_to_nhwc;
      const auto ff = transposed_copy(f, nchw, back);
      const auto uu = transposed_copy(u8, nchw, back);
      const auto ss = transposed_copy(s16, nchw, back);
      const std::vector<std::pair<tensor_view, tensor_view>> benches = {
          {view_of(f, dtype::f32, bench_shape), view_of(ff, dtype::f32, read_shape)},
          {quantized(u8, dtype::u8, 0.5, 3, bench_shape),
           quantized(uu, dtype::u8, 0.5, 3, read_shape)},
          {quantized(s16, dtype::s16, 0.001, -7, bench_shape),
           quantized(ss, dtype::s16, 0.001, -7, read_shape)},
      };
      for (kernel_isa v : supported_isas()) {
        ASSERT_TRUE(use_isa(v));
        for (std::size_t k = 0; k < benches.size(); ++k) {
          const auto& [stored, copy] = benches[k];
          auto got = compute_metrics(view_of(sample, dtype::f32, read_shape), stored, layout, 2);
          auto want = compute_metrics(view_of(sample, dtype::f32, read_shape), copy,
                                      layout_choice::same, 2);
          ASSERT_TRUE(got && want);
          EXPECT_EQ(differences(*got, *want), "")
              << isa_name(v) << " " << format_shape(bench_shape) << " type " << k
              << (back ? " nhwc->nchw" : " nchw->nhwc");
        }
      }
    }
  }
}

TEST(KernelVariants, ChunkSumsAgree) {
  const std::size_t n = static_cast<std::size_t>(compare_chunk_elements()) + 777;
  const auto a = mixed_values(n, 31), b = mixed_values(n, 32);
  const auto q = integers<std::uint8_t>(n, 33);
  for (std::uint64_t chunk : {0u, 1u}) {
    expect_every_variant_agrees<partial_sums>(
        "f32 chunk " + std::to_string(chunk),
        [&] {
          auto s = compute_chunk(view_of(a, dtype::f32), view_of(b, dtype::f32), chunk);
          EXPECT_TRUE(s.has_value());
          return s.value_or(partial_sums{});
        },
        [](const partial_sums& x, const partial_sums& y) { return differences(x, y); });
    expect_every_variant_agrees<partial_sums>(
        "u8 chunk " + std::to_string(chunk),
        [&] {
          auto s = compute_chunk(quantized(q, dtype::u8, 0.02, 100), view_of(b, dtype::f32), chunk);
          EXPECT_TRUE(s.has_value());
          return s.value_or(partial_sums{});
        },
        [](const partial_sums& x, const partial_sums& y) { return differences(x, y); });
  }
}

// Every number of a channel_evidence, in order.
std::vector<double> evidence_bits(const channel_evidence& e) {
  std::vector<double> out;
  for (const auto& c : e.per_channel) {
    out.insert(out.end(), {static_cast<double>(c.n), c.mse, c.cos, c.rmse, c.max_abs, c.peak,
                           static_cast<double>(c.all_zero)});
  }
  for (const auto& c : e.worst) out.push_back(c.channel);
  for (const auto& t : e.top) {
    out.insert(out.end(), {static_cast<double>(t.index), t.sample, t.benchmark, t.abs_diff});
  }
  for (auto c : e.outliers) out.push_back(c);
  return out;
}

std::string bits_differences(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size()) return " the counts differ";
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!same(x[i], y[i])) return " number " + std::to_string(i) + " differs";
  }
  return std::string();
}

// Per-channel evidence (the row-of-channels sums and the search for the
// largest differences have a kernel per variant): 67 channels (whole
// vectors and a rest) in rows that cross the pass's blocks, NaN, infinities,
// equal elements; both layouts, and a dequantized sample (not widened by
// the kernel). Every number the same bits.
TEST(KernelVariants, ChannelEvidenceIsTheSameBits) {
  const std::vector<std::int64_t> shape{1, 9, 37, 67};
  const std::size_t n = 9 * 37 * 67;
  std::vector<float> a = mixed_values(n, 7), b = mixed_values(n, 8);
  for (std::size_t i = 0; i < n; i += 3) a[i] = b[i];  // equal elements: no evidence
  a[70] = fnan, b[9000] = fnan, a[300] = finf, b[301] = -finf, a[17000] = b[17000] = finf;
  a[20001] = 1e30f;
  const std::vector<std::int16_t> q = integers<std::int16_t>(n, 9);
  const struct {
    tensor_view sample, bench;
    layout_choice layout;
  } cases[] = {{view_of(a, dtype::f32, shape), view_of(b, dtype::f32, shape), layout_choice::same},
               {quantized(q, dtype::s16, 1e-4, 3, shape), view_of(b, dtype::f32, shape),
                layout_choice::same},
               {view_of(a, dtype::f32, {1, 67, 9, 37}), view_of(b, dtype::f32, shape),
                layout_choice::benchmark_nhwc_to_nchw}};
  channel_options o;
  o.top_elements = 40;
  for (const auto& k : cases) {
    expect_every_variant_agrees<std::vector<double>>(
        "channel evidence",
        [&] {
          auto e = compute_channel_evidence(k.sample, k.bench, k.layout, o);
          EXPECT_TRUE(e.has_value());
          return e ? evidence_bits(*e) : std::vector<double>{};
        },
        &bits_differences);
  }
}

// A dequantized layer's evidence (its values widened by the variant's
// kernel a block at a time) is that of the same real values stored as
// floats (read in place), to the bit, under every variant: scales of a
// power of two make every real value a float.
TEST(KernelVariants, DequantizedEvidenceIsThatOfTheSameFloats) {
  const std::vector<std::int64_t> shape{1, 9, 40, 67};  // rows across the pass's blocks
  const std::size_t n = 9 * 40 * 67;
  const auto qa = integers<std::int8_t>(n, 21);
  const auto qb = integers<std::uint16_t>(n, 22);
  std::vector<float> fa(n), fb(n);
  for (std::size_t i = 0; i < n; ++i) {
    fa[i] = static_cast<float>((qa[i] - 3) * 0.25);
    fb[i] = static_cast<float>((qb[i] - 1000) * 0.0078125);
  }
  channel_options o;
  o.top_elements = 40;
  variant_scope keep;
  for (kernel_isa v : supported_isas()) {
    ASSERT_TRUE(use_isa(v));
    const auto want = compute_channel_evidence(
        view_of(fa, dtype::f32, shape), view_of(fb, dtype::f32, shape), layout_choice::same, o);
    const auto got = compute_channel_evidence(quantized(qa, dtype::s8, 0.25, 3, shape),
                                              quantized(qb, dtype::u16, 0.0078125, 1000, shape),
                                              layout_choice::same, o);
    ASSERT_TRUE(want.has_value() && got.has_value());
    const std::string d = bits_differences(evidence_bits(*got), evidence_bits(*want));
    EXPECT_TRUE(d.empty()) << isa_name(v) << ":" << d;
  }
}

// Whole reports from dump files: float, isFloat: 0 and transposed layers,
// one with a NaN; the JSON must be the same text under every variant.
TEST(KernelVariants, ReportsAreTheSameJson) {
  testing::temp_dir dir;
  const std::size_t big = static_cast<std::size_t>(compare_chunk_elements()) + 1000;
  auto write = [&](const std::string& path, bool is_float, std::uint32_t seed) {
    writer_options o;
    o.is_float = is_float;
    auto w = dump_writer::create(path, o);
    ASSERT_TRUE(w.has_value());
    const dtype types[] = {dtype::u8, dtype::s8, dtype::s16, dtype::s32};
    for (int l = 0; l < 6; ++l) {
      tensor_spec t;
      t.name = "layer" + std::to_string(l);
      t.op_index = l;
      t.shape = {static_cast<std::int64_t>(l == 0 ? big : 3000 + l)};
      auto v = mixed_values(static_cast<std::size_t>(t.shape[0]), seed + static_cast<unsigned>(l));
      if (l == 2 && seed == 1) v[17] = fnan;
      if (!is_float) {
        t.type = types[l % 4];
        t.scale = 0.01;
        t.zero_point = t.type == dtype::u8 ? 128 : 0;
      }
      ASSERT_TRUE(w->write(t, v).has_value());
    }
    // A transposed pair: sample [1,5,6,7] NHWC, benchmark [1,7,5,6] NCHW.
    tensor_spec t;
    t.name = "transposed";
    t.op_index = 6;
    t.shape =
        seed == 1 ? std::vector<std::int64_t>{1, 5, 6, 7} : std::vector<std::int64_t>{1, 7, 5, 6};
    if (!is_float) t.type = dtype::s16, t.scale = 0.001;
    ASSERT_TRUE(w->write(t, mixed_values(210, seed + 50)).has_value());
    ASSERT_TRUE(w->close().has_value());
  };
  for (bool is_float : {true, false}) {
    const std::string s = dir.file(is_float ? "s.bin" : "qs.bin");
    const std::string b = dir.file(is_float ? "b.bin" : "qb.bin");
    write(s, is_float, 1);
    write(b, is_float, 2);
    auto sf = dump_file::open(s);
    auto bf = dump_file::open(b);
    ASSERT_TRUE(sf && bf);
    expect_every_variant_agrees<std::string>(
        is_float ? "float dumps" : "isFloat: 0 dumps",
        [&] {
          compare_options o;
          o.threads = 2;
          auto r = compare_dumps(*sf, *bf, o);
          EXPECT_TRUE(r.has_value());
          return r ? report_json(*r) : std::string();
        },
        [](const std::string& x, const std::string& y) {
          return x == y ? std::string() : std::string(" the JSON differs");
        });
  }
}

}  // namespace
}  // namespace sigdump
