// Per-channel evidence on hand-made tensors whose two outlier channels and
// largest differences are known: NHWC, a transposed benchmark either way,
// determinism over thread counts, and what the report renderings say.
#include "sigdump/channel_metrics.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "sigdump/compare.h"
#include "sigdump/dump_file.h"
#include "sigdump/dump_writer.h"
#include "sigdump/report/report_json.h"
#include "sigdump/report/report_text.h"
#include "test_support.h"

namespace sigdump {
namespace {

using testing::temp_dir;

constexpr std::int64_t H = 4, W = 5, C = 8;

std::size_t nhwc(std::int64_t h, std::int64_t w, std::int64_t c) {
  return static_cast<std::size_t>((h * W + w) * C + c);
}

// The benchmark, NHWC [1, 4, 5, 8]: away from zero in every channel.
std::vector<float> bench_nhwc() {
  std::vector<float> v(static_cast<std::size_t>(H * W * C));
  for (std::size_t i = 0; i < v.size(); ++i) {
    v[i] = static_cast<float>(1.5 + std::sin(static_cast<double>(i) * 0.37));
  }
  return v;
}

// The sample: the benchmark plus tiny noise, except channels 2 and 6, which
// are off everywhere, most of all at (0,1,2,6) (+4) and (0,3,4,2) (+3.5).
std::vector<float> sample_nhwc() {
  std::vector<float> v = bench_nhwc();
  for (std::int64_t h = 0; h < H; ++h) {
    for (std::int64_t w = 0; w < W; ++w) {
      for (std::int64_t c = 0; c < C; ++c) {
        float& x = v[nhwc(h, w, c)];
        if (c == 2) {
          x += (h + w) % 2 ? 0.6f : -0.6f;
        } else if (c == 6) {
          x += 0.7f * static_cast<float>((h * W + w) % 3 - 1);
        } else {
          x += 0.001f * static_cast<float>(std::cos(static_cast<double>(nhwc(h, w, c))));
        }
      }
    }
  }
  v[nhwc(1, 2, 6)] = bench_nhwc()[nhwc(1, 2, 6)] + 4.0f;
  v[nhwc(3, 4, 2)] = bench_nhwc()[nhwc(3, 4, 2)] + 3.5f;
  return v;
}

// NHWC [1,H,W,C] values laid out as NCHW [1,C,H,W].
std::vector<float> to_nchw(const std::vector<float>& v) {
  std::vector<float> out(v.size());
  for (std::int64_t h = 0; h < H; ++h) {
    for (std::int64_t w = 0; w < W; ++w) {
      for (std::int64_t c = 0; c < C; ++c) {
        out[static_cast<std::size_t>((c * H + h) * W + w)] = v[nhwc(h, w, c)];
      }
    }
  }
  return out;
}

void write_one(const std::string& path, const std::vector<std::int64_t>& shape,
               const std::vector<float>& values, const std::string& name = "conv/out") {
  auto w = dump_writer::create(path);
  ASSERT_TRUE(w.has_value()) << w.error().describe();
  tensor_spec s;
  s.name = name;
  s.shape = shape;
  ASSERT_TRUE(w->write(s, values).has_value());
  ASSERT_TRUE(w->close().has_value());
}

dump_file open_dump(const std::string& path) {
  auto f = dump_file::open(path);
  if (!f.has_value()) throw std::runtime_error(f.error().describe());
  return std::move(f).value();
}

compare_report compare(const std::string& a, const std::string& b, compare_options o = {}) {
  o.channel_evidence = true;
  const dump_file fa = open_dump(a), fb = open_dump(b);
  auto r = compare_dumps(fa, fb, o);
  if (!r) throw std::runtime_error(r.error().describe());
  return std::move(*r);
}

// What every layout must find in the hand-made pair.
void expect_outliers_found(const channel_evidence& ev) {
  EXPECT_EQ(ev.channels, static_cast<std::uint64_t>(C));
  EXPECT_EQ(ev.order, "n,h,w,c");
  ASSERT_EQ(ev.per_channel.size(), static_cast<std::size_t>(C));
  ASSERT_GE(ev.worst.size(), 2u);
  // Channel 2 flips sign against a positive benchmark less than channel 6
  // spreads; both are far below the clean channels.
  const std::uint32_t w0 = ev.worst[0].channel, w1 = ev.worst[1].channel;
  EXPECT_TRUE((w0 == 2 && w1 == 6) || (w0 == 6 && w1 == 2)) << w0 << ", " << w1;
  EXPECT_LT(ev.worst[1].cos, 0.99);
  for (std::size_t i = 2; i < ev.worst.size(); ++i) EXPECT_GT(ev.worst[i].cos, 0.99999);
  ASSERT_GE(ev.top.size(), 3u);
  EXPECT_EQ(ev.top[0].at, (std::vector<std::int64_t>{0, 1, 2, 6}));
  EXPECT_EQ(ev.top[0].channel, 6u);
  EXPECT_NEAR(ev.top[0].abs_diff, 4.0, 1e-6);
  EXPECT_DOUBLE_EQ(ev.top[0].benchmark, static_cast<double>(bench_nhwc()[nhwc(1, 2, 6)]));
  EXPECT_DOUBLE_EQ(ev.top[0].sample, static_cast<double>(sample_nhwc()[nhwc(1, 2, 6)]));
  EXPECT_EQ(ev.top[1].at, (std::vector<std::int64_t>{0, 3, 4, 2}));
  EXPECT_EQ(ev.top[1].channel, 2u);
  EXPECT_NEAR(ev.top[1].abs_diff, 3.5, 1e-6);
  EXPECT_LT(ev.top[2].abs_diff, 1.0);
  EXPECT_TRUE(ev.outliers.empty());
}

TEST(ChannelMetrics, NhwcTwoOutlierChannelsAreTheWorst) {
  temp_dir t;
  write_one(t.file("s.bin"), {1, H, W, C}, sample_nhwc());
  write_one(t.file("b.bin"), {1, H, W, C}, bench_nhwc());
  const dump_file s = open_dump(t.file("s.bin")), b = open_dump(t.file("b.bin"));
  auto sv = s.view(0);
  auto bv = b.view(0);
  ASSERT_TRUE(sv && bv);
  auto ev = compute_channel_evidence(*sv, *bv, layout_choice::same);
  ASSERT_TRUE(ev.has_value()) << ev.error().describe();
  EXPECT_EQ(ev->axis, 3);
  expect_outliers_found(*ev);

  // Channel 6 against the vendor's formulas over its own elements.
  const auto a = sample_nhwc(), bb = bench_nhwc();
  double ab = 0, aa = 0, b2 = 0, dd = 0, ad = 0, abs_b = 0, mx = 0;
  for (std::int64_t h = 0; h < H; ++h) {
    for (std::int64_t w = 0; w < W; ++w) {
      const double x = a[nhwc(h, w, 6)], y = bb[nhwc(h, w, 6)];
      ab += x * y, aa += x * x, b2 += y * y, dd += (x - y) * (x - y);
      ad += std::fabs(x - y), abs_b += std::fabs(y), mx = std::max(mx, std::fabs(x - y));
    }
  }
  const channel_stat& c6 = ev->per_channel[6];
  EXPECT_EQ(c6.n, static_cast<std::uint64_t>(H * W));
  EXPECT_NEAR(c6.cos, ab / (std::sqrt(aa) * std::sqrt(b2)), 1e-12);
  EXPECT_NEAR(c6.mse, dd / static_cast<double>(H * W), 1e-12);
  EXPECT_NEAR(c6.rmse, ad / abs_b, 1e-12);
  EXPECT_NEAR(c6.max_abs, mx, 1e-12);
}

TEST(ChannelMetrics, TransposedNchwBenchmark) {
  temp_dir t;
  write_one(t.file("s.bin"), {1, H, W, C}, sample_nhwc());
  write_one(t.file("b.bin"), {1, C, H, W}, to_nchw(bench_nhwc()));
  const compare_report r = compare(t.file("s.bin"), t.file("b.bin"));
  ASSERT_EQ(r.layers.size(), 1u);
  const layer_result& l = r.layers[0];
  EXPECT_EQ(l.layout, layout_choice::benchmark_nchw_to_nhwc);
  ASSERT_TRUE(l.suspect);
  ASSERT_TRUE(l.channels.has_value());
  EXPECT_EQ(l.channels->axis, 3);
  expect_outliers_found(*l.channels);
}

TEST(ChannelMetrics, NchwSampleAgainstNhwcBenchmark) {
  temp_dir t;
  write_one(t.file("s.bin"), {1, C, H, W}, to_nchw(sample_nhwc()));
  write_one(t.file("b.bin"), {1, H, W, C}, bench_nhwc());
  const compare_report r = compare(t.file("s.bin"), t.file("b.bin"));
  ASSERT_EQ(r.layers.size(), 1u);
  const layer_result& l = r.layers[0];
  EXPECT_EQ(l.layout, layout_choice::benchmark_nhwc_to_nchw);
  ASSERT_TRUE(l.channels.has_value());
  EXPECT_EQ(l.channels->axis, 1);  // C of the sample's NCHW
  expect_outliers_found(*l.channels);
  // The flat index is the sample's own (NCHW): (c*H + h)*W + w.
  EXPECT_EQ(l.channels->top[0].index, static_cast<std::uint64_t>((6 * H + 1) * W + 2));
}

TEST(ChannelMetrics, SameNumbersForEveryThreadCount) {
  temp_dir t;
  // Several suspect layers so the second pass really spreads over threads.
  {
    auto ws = dump_writer::create(t.file("s.bin"));
    auto wb = dump_writer::create(t.file("b.bin"));
    ASSERT_TRUE(ws && wb);
    for (int k = 0; k < 6; ++k) {
      tensor_spec s;
      s.name = "layer" + std::to_string(k);
      s.shape = {1, H, W, C};
      s.op_index = k;
      // Each layer its own scale, so evidence given to the wrong layer shows.
      auto a = sample_nhwc(), b = bench_nhwc();
      for (auto& x : a) x *= static_cast<float>(k + 1);
      for (auto& x : b) x *= static_cast<float>(k + 1);
      ASSERT_TRUE(ws->write(s, a).has_value());
      ASSERT_TRUE(wb->write(s, b).has_value());
    }
    ASSERT_TRUE(ws->close() && wb->close());
  }
  compare_options one, many;
  one.threads = 1;
  many.threads = 7;
  const compare_report a = compare(t.file("s.bin"), t.file("b.bin"), one);
  const compare_report b = compare(t.file("s.bin"), t.file("b.bin"), many);
  ASSERT_EQ(a.layers.size(), 6u);
  for (std::size_t k = 0; k < a.layers.size(); ++k) {
    ASSERT_TRUE(a.layers[k].channels && b.layers[k].channels);
    const auto &x = *a.layers[k].channels, &y = *b.layers[k].channels;
    ASSERT_EQ(x.per_channel.size(), y.per_channel.size());
    for (std::size_t c = 0; c < x.per_channel.size(); ++c) {
      EXPECT_EQ(std::memcmp(&x.per_channel[c].cos, &y.per_channel[c].cos, sizeof(double)), 0);
      EXPECT_EQ(std::memcmp(&x.per_channel[c].rmse, &y.per_channel[c].rmse, sizeof(double)), 0);
      EXPECT_EQ(std::memcmp(&x.per_channel[c].mse, &y.per_channel[c].mse, sizeof(double)), 0);
    }
    EXPECT_EQ(channels_json(x), channels_json(y));
    EXPECT_NEAR(x.top.at(0).abs_diff, 4.0 * static_cast<double>(k + 1), 1e-5);
  }
}

// A layer that is not compared (no elements) between two suspect layers:
// each of those is finished from its own chunks, with its evidence.
TEST(ChannelMetrics, EmptyLayerBetweenSuspectOnes) {
  temp_dir t;
  {
    auto ws = dump_writer::create(t.file("s.bin"));
    auto wb = dump_writer::create(t.file("b.bin"));
    ASSERT_TRUE(ws && wb);
    for (int k = 0; k < 3; ++k) {
      tensor_spec s;
      s.name = "layer" + std::to_string(k);
      s.shape =
          k == 1 ? std::vector<std::int64_t>{1, 0, W, C} : std::vector<std::int64_t>{1, H, W, C};
      s.op_index = k;
      const std::vector<float> none;
      ASSERT_TRUE(ws->write(s, k == 1 ? none : sample_nhwc()).has_value());
      ASSERT_TRUE(wb->write(s, k == 1 ? none : bench_nhwc()).has_value());
    }
    ASSERT_TRUE(ws->close() && wb->close());
  }
  for (unsigned threads : {1u, 2u}) {
    compare_options o;
    o.threads = threads;
    const compare_report r = compare(t.file("s.bin"), t.file("b.bin"), o);
    ASSERT_EQ(r.layers.size(), 3u);
    const layer_result& empty = r.layers[1];
    EXPECT_EQ(empty.error, "no elements to compare") << threads;
    EXPECT_FALSE(empty.channels);
    for (std::size_t k : {0u, 2u}) {
      ASSERT_TRUE(r.layers[k].suspect && r.layers[k].channels) << k;
      expect_outliers_found(*r.layers[k].channels);
    }
  }
}

TEST(ChannelMetrics, OnlySuspectLayersUnlessAsked) {
  temp_dir t;
  {
    auto ws = dump_writer::create(t.file("s.bin"));
    auto wb = dump_writer::create(t.file("b.bin"));
    ASSERT_TRUE(ws && wb);
    tensor_spec clean;
    clean.name = "clean";
    clean.shape = {1, H, W, C};
    ASSERT_TRUE(ws->write(clean, bench_nhwc()).has_value());
    ASSERT_TRUE(wb->write(clean, bench_nhwc()).has_value());
    tensor_spec bad = clean;
    bad.name = "bad";
    bad.op_index = 1;
    ASSERT_TRUE(ws->write(bad, sample_nhwc()).has_value());
    ASSERT_TRUE(wb->write(bad, bench_nhwc()).has_value());
    ASSERT_TRUE(ws->close() && wb->close());
  }
  const dump_file s = open_dump(t.file("s.bin")), b = open_dump(t.file("b.bin"));
  compare_options on;
  on.channel_evidence = true;
  auto r = compare_dumps(s, b, on);
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->layers.size(), 2u);
  EXPECT_FALSE(r->layers[0].suspect);
  EXPECT_FALSE(r->layers[0].channels.has_value());
  EXPECT_TRUE(r->layers[1].channels.has_value());

  auto r2 = compare_dumps(s, b, {});  // off by default
  ASSERT_TRUE(r2.has_value());
  EXPECT_FALSE(r2->layers[1].channels.has_value());

  add_channel_evidence(*r2, s, b, true, 2);
  EXPECT_TRUE(r2->layers[0].channels.has_value());
  EXPECT_TRUE(r2->layers[1].channels.has_value());
  EXPECT_EQ(channels_json(*r2->layers[1].channels), channels_json(*r->layers[1].channels));

  // JSON: a "channels" object on the suspect layer only, existing keys intact.
  const std::string json = report_json(*r);
  simdjson::dom::parser p;
  simdjson::dom::element doc = p.parse(json).value();
  simdjson::dom::element l0 = doc["layers"].at(0).value(), l1 = doc["layers"].at(1).value();
  EXPECT_TRUE(l0["channels"].error() == simdjson::NO_SUCH_FIELD);
  EXPECT_TRUE(l1["suspect"].get_bool().value());
  simdjson::dom::element ch = l1["channels"].value();
  EXPECT_EQ(ch["axis"].get_int64().value(), 3);
  EXPECT_EQ(ch["count"].get_uint64().value(), static_cast<std::uint64_t>(C));
  EXPECT_EQ(ch["per_channel"].get_array().value().size(), static_cast<std::size_t>(C));
  const std::uint64_t w0 = ch["worst"].at(0)["c"].get_uint64().value();
  EXPECT_TRUE(w0 == 2 || w0 == 6) << json;
  EXPECT_EQ(ch["top"].at(0)["c"].get_uint64().value(), 6u);
  EXPECT_EQ(ch["top"].at(0)["at"].at(3).get_int64().value(), 6);
  EXPECT_EQ(ch["top"].at(0)["at"].at(1).get_int64().value(), 1);

  // Text: in the summary, before the verdict and the diagnosis (the advice's
  // [CONV_CONFIG] block stays last), two lines for the suspect layer.
  const std::string text = report_text(*r, false);
  const auto at = text.find("\nchannels:");
  ASSERT_NE(at, std::string::npos) << text;
  EXPECT_GT(at, text.find("first bad layer:"));
  EXPECT_LT(at, text.find("diagnosis:"));
  EXPECT_NE(text.find("  1) bad: C=8 (axis 3 of [1, 4, 5, 8]); worst c", at), std::string::npos)
      << text;
  EXPECT_NE(text.find("largest |a-b| at n,h,w,c: [0,1,2,6] 4", at), std::string::npos) << text;
  EXPECT_EQ(text.find("0) clean: C="), std::string::npos);
}

TEST(ChannelMetrics, WideChannelsAreOutliers) {
  // Two channels 100x wider than the rest: named as outliers by their peak.
  std::vector<float> b(static_cast<std::size_t>(H * W * C)), a;
  for (std::size_t i = 0; i < b.size(); ++i) {
    const auto c = static_cast<std::int64_t>(i % C);
    b[i] = static_cast<float>((c == 1 || c == 5 ? 100.0 : 1.0) *
                              (1.0 + 0.5 * std::sin(static_cast<double>(i))));
  }
  a = b;
  temp_dir t;
  write_one(t.file("s.bin"), {1, H, W, C}, a);
  write_one(t.file("b.bin"), {1, H, W, C}, b);
  const dump_file s = open_dump(t.file("s.bin")), f = open_dump(t.file("b.bin"));
  auto ev = compute_channel_evidence(*s.view(0), *f.view(0), layout_choice::same);
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->outliers, (std::vector<std::uint32_t>{1, 5}));
  EXPECT_NEAR(ev->per_channel[5].peak, 150.0, 1.0);
}

// The per-channel sums of a reference pass, one element at a time in index
// order, as compute_channel_evidence documents them.
std::vector<channel_stat> reference_channels(const std::vector<float>& a,
                                             const std::vector<float>& b, std::uint64_t channels,
                                             std::uint64_t stride) {
  struct sums {
    double ab = 0, aa = 0, bb = 0, dd = 0, abs_d = 0, abs_b = 0, max_d = 0, peak = 0;
    std::uint64_t n = 0;
    bool nan = false;
  };
  std::vector<sums> s(channels);
  for (std::size_t i = 0; i < a.size(); ++i) {
    sums& c = s[(i / stride) % channels];
    const double x = a[i], y = b[i], d = x - y, ad = std::fabs(d), ay = std::fabs(y);
    c.ab += x * y, c.aa += x * x, c.bb += y * y, c.dd += d * d, c.abs_d += ad, c.abs_b += ay;
    if (ay > c.peak && std::isfinite(ay)) c.peak = ay;
    if (ad > c.max_d) c.max_d = ad;
    if (std::isnan(ad)) c.nan = true;
    ++c.n;
  }
  std::vector<channel_stat> out;
  for (const sums& c : s) {
    channel_stat m;
    m.n = c.n;
    m.mse = c.dd / static_cast<double>(c.n);
    m.cos = (c.aa == 0 || c.bb == 0) ? 0.0 : c.ab / (std::sqrt(c.aa) * std::sqrt(c.bb));
    m.rmse = c.abs_b == 0 ? (c.abs_d == 0 ? 0.0 : INFINITY) : c.abs_d / c.abs_b;
    m.max_abs = c.nan ? NAN : c.max_d;
    m.peak = c.peak;
    out.push_back(m);
  }
  return out;
}

void expect_same_bits(const channel_stat& x, const channel_stat& y, std::size_t c) {
  EXPECT_EQ(x.n, y.n) << "channel " << c;
  for (auto f : {&channel_stat::mse, &channel_stat::cos, &channel_stat::rmse,
                 &channel_stat::max_abs, &channel_stat::peak}) {
    EXPECT_EQ(std::memcmp(&(x.*f), &(y.*f), sizeof(double)), 0)
        << "channel " << c << ": " << x.*f << " vs " << y.*f;
  }
}

// Many channels (rows of channels cross the pass's 16 Ki-element blocks),
// NaN, infinities, -0, equal and unequal elements: every channel's numbers
// equal the reference to the bit, with the channel axis last (NHWC) and
// with the benchmark read NHWC -> NCHW (axis 1: runs of one channel).
TEST(ChannelMetrics, SumsEqualAnElementAtATimePassToTheBit) {
  constexpr std::int64_t h = 13, w = 11, c = 131;
  const auto n = static_cast<std::size_t>(h * w * c);
  std::vector<float> a(n), b(n);
  for (std::size_t i = 0; i < n; ++i) {
    b[i] = static_cast<float>(std::sin(static_cast<double>(i) * 0.731) * 3.0);
    a[i] = i % 3 == 0 ? b[i] : b[i] + static_cast<float>(std::cos(static_cast<double>(i))) * 0.01f;
  }
  a[5] = NAN, b[200] = NAN, a[777] = INFINITY, b[778] = -INFINITY, a[901] = -0.0f;
  b[1000] = INFINITY, a[1000] = INFINITY, a[17000] = 40.0f;
  for (std::size_t i = 3 * static_cast<std::size_t>(c); i < n; i += static_cast<std::size_t>(c)) {
    a[i] = b[i] = 0.0f;  // channel 0 all zero past its third row
  }
  temp_dir t;
  write_one(t.file("s.bin"), {1, h, w, c}, a);
  write_one(t.file("b.bin"), {1, h, w, c}, b);
  // The same values as the sample's NCHW [1,c,h,w] against an NHWC benchmark.
  std::vector<float> b_nhwc(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t ch = i / static_cast<std::size_t>(h * w),
                      hw = i % static_cast<std::size_t>(h * w);
    b_nhwc[hw * static_cast<std::size_t>(c) + ch] = b[i];
  }
  write_one(t.file("nchw.bin"), {1, c, h, w}, a);
  write_one(t.file("nhwc.bin"), {1, h, w, c}, b_nhwc);
  const struct {
    std::string sample, bench;
    layout_choice layout;
    std::uint64_t stride;
  } cases[] = {{"s.bin", "b.bin", layout_choice::same, 1},
               {"nchw.bin", "nhwc.bin", layout_choice::benchmark_nhwc_to_nchw,
                static_cast<std::uint64_t>(h * w)}};
  for (const auto& k : cases) {
    SCOPED_TRACE(k.sample);
    const dump_file fs = open_dump(t.file(k.sample)), fb = open_dump(t.file(k.bench));
    auto ev = compute_channel_evidence(*fs.view(0), *fb.view(0), k.layout);
    ASSERT_TRUE(ev.has_value()) << ev.error().describe();
    const auto want = reference_channels(a, b, static_cast<std::uint64_t>(c), k.stride);
    ASSERT_EQ(ev->per_channel.size(), want.size());
    for (std::size_t ch = 0; ch < want.size(); ++ch)
      expect_same_bits(ev->per_channel[ch], want[ch], ch);
    ASSERT_EQ(ev->top.size(), 8u);
    EXPECT_TRUE(std::isnan(ev->top[0].abs_diff));  // NaN first, lowest index first
    EXPECT_EQ(ev->top[0].index, 5u);
    EXPECT_EQ(ev->top[1].index, 200u);
    EXPECT_EQ(ev->top[2].index, 1000u);  // inf - inf
    EXPECT_EQ(ev->top[3].index, 777u);   // then the infinities, by index
    EXPECT_EQ(ev->top[4].index, 778u);
    EXPECT_EQ(ev->top[5].index, 17000u);
  }
}

TEST(ChannelMetrics, LastAxisAndTooManyChannels) {
  temp_dir t;
  std::vector<float> b(40), a;
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i % 7) + 1.0f;
  a = b;
  a[37] += 2.0f;  // [3, 7] of a [4, 10] tensor: channel 7
  write_one(t.file("s.bin"), {4, 10}, a);
  write_one(t.file("b.bin"), {4, 10}, b);
  const dump_file s = open_dump(t.file("s.bin")), f = open_dump(t.file("b.bin"));
  auto ev = compute_channel_evidence(*s.view(0), *f.view(0), layout_choice::same);
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->axis, 1);
  EXPECT_EQ(ev->channels, 10u);
  EXPECT_EQ(ev->order, "d0,d1");
  EXPECT_EQ(ev->worst.at(0).channel, 7u);
  EXPECT_EQ(ev->top.at(0).at, (std::vector<std::int64_t>{3, 7}));

  channel_options few;
  few.max_channels = 4;
  auto ev2 = compute_channel_evidence(*s.view(0), *f.view(0), layout_choice::same, few);
  ASSERT_TRUE(ev2.has_value());
  EXPECT_TRUE(ev2->per_channel.empty());
  EXPECT_TRUE(ev2->worst.empty());
  EXPECT_EQ(ev2->top.at(0).index, 37u);
  EXPECT_EQ(ev2->top.at(0).channel, 7u);
}

// The search for the largest differences skips the rows the sums found no
// candidate in: spikes over four of the pass's blocks, in whole vectors
// and in the channels past them, one NaN late, noise below them all. The
// elements kept are the ones a full sort ranks first, read in place from
// floats at an odd address or widened first (the same values as a text
// payload), to the same bits.
TEST(ChannelMetrics, TopElementsAreThoseOfAFullSortWhereverTheyLie) {
  const std::vector<std::int64_t> shape{1, 40, 20, 67};
  const std::size_t n = 40 * 20 * 67;  // 3.3 blocks of 16 Ki elements
  std::vector<float> a(n), b(n);
  std::uint32_t st = 99;
  for (std::size_t i = 0; i < n; ++i) {
    st = st * 1664525u + 1013904223u;
    b[i] = static_cast<float>(st >> 8) * (1.0f / 16777216.0f) - 0.5f;
    a[i] = i % 5 == 0 ? b[i] : b[i] + static_cast<float>(st % 1000) * 1e-6f;
  }
  // Spikes growing along the tensor (a later block holds a larger one than
  // any before it), in channels 0-66, including 64-66 (past the vectors).
  for (std::size_t k = 0; k < 48; ++k) {
    const std::size_t i = (k * 1117 + 5) % n;
    a[i] = b[i] + 0.01f * static_cast<float>(1 + (i * 7) % 97);
  }
  a[n - 70] = NAN;                               // a NaN in the last block ranks first
  a[3 * 16384 + 66] = b[3 * 16384 + 66] + 5.0f;  // a channel past the vectors
  struct ranked {
    double diff;
    std::uint64_t index;
  };
  std::vector<ranked> all;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    if (d != 0) all.push_back({d, i});
  }
  std::sort(all.begin(), all.end(), [](const ranked& x, const ranked& y) {
    if (std::isnan(x.diff) != std::isnan(y.diff)) return std::isnan(x.diff);
    if (x.diff != y.diff) return x.diff > y.diff;
    return x.index < y.index;
  });
  // The floats one byte past an aligned address, and the same values as text.
  std::vector<std::byte> bytes_a(n * 4 + 1), bytes_b(n * 4 + 1);
  std::memcpy(bytes_a.data() + 1, a.data(), n * 4);
  std::memcpy(bytes_b.data() + 1, b.data(), n * 4);
  auto in_place = [&](const std::vector<std::byte>& bytes) {
    tensor_view v;
    v.data = bytes.data() + 1;
    v.storage = dtype::f32;
    v.elements = n;
    v.shape = shape;
    return v;
  };
  auto as_text = [&](const std::vector<float>& values) {
    tensor_view v = in_place(bytes_a);
    v.data = nullptr;
    v.text = std::make_shared<const std::vector<float>>(values);
    return v;
  };
  for (std::uint32_t keep : {8u, 40u}) {
    channel_options o;
    o.top_elements = keep;
    auto read =
        compute_channel_evidence(in_place(bytes_a), in_place(bytes_b), layout_choice::same, o);
    auto widened = compute_channel_evidence(as_text(a), as_text(b), layout_choice::same, o);
    ASSERT_TRUE(read && widened);
    ASSERT_EQ(read->top.size(), keep);
    for (std::size_t k = 0; k < keep; ++k) {
      SCOPED_TRACE("keep " + std::to_string(keep) + ", element " + std::to_string(k));
      EXPECT_EQ(read->top[k].index, all[k].index);
      EXPECT_EQ(std::memcmp(&read->top[k].abs_diff, &all[k].diff, sizeof(double)), 0);
      EXPECT_EQ(read->top[k].index, widened->top[k].index);
    }
    EXPECT_EQ(channels_json(*read), channels_json(*widened));
  }
}

}  // namespace
}  // namespace sigdump
