// Per-channel evidence summed with a layer's chunks (compare_dumps, when a
// layer's first elements already make it suspect) against the evidence of
// the layer read again on its own: the same bits whether the first
// elements predicted the layer right, wrongly either way, or the equal-shape
// retry read it through another layout, on every thread count.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "same_metrics.h"
#include "sigdump/channel_metrics.h"
#include "sigdump/compare.h"
#include "sigdump/dump_file.h"
#include "sigdump/dump_writer.h"
#include "sigdump/report/report_json.h"
#include "test_support.h"

namespace sigdump {
namespace {

using testing::temp_dir;

// Two chunks (1.25 of them), 128 channels.
const std::vector<std::int64_t> two_chunks{1, 40, 64, 128};
constexpr std::size_t two_chunk_elements = 40 * 64 * 128;
constexpr std::size_t chunk = std::size_t{1} << 18;  // compare_chunk_elements()

// Where a layer's sample is off its benchmark.
enum class kind {
  clean,          // nowhere: not suspect
  everywhere,     // two channels in every row: suspect from its first elements
  late,           // only in the second chunk: suspect, not from its first elements
  early,          // only in the first 64 elements: they look suspect, the layer is not
  early_and_late  // both: the first elements look suspect, the first chunk does not, the layer is
};
constexpr kind kinds[] = {kind::clean, kind::everywhere, kind::late, kind::early,
                          kind::early_and_late};

std::vector<float> values(std::size_t n, std::uint32_t seed) {
  std::vector<float> v(n);
  for (auto& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = static_cast<float>(seed >> 8) * (1.0f / 16777216.0f) - 0.5f;
  }
  return v;
}

std::vector<float> sample_of(const std::vector<float>& b, kind k, std::uint32_t seed) {
  std::vector<float> a = values(b.size(), seed);
  for (std::size_t i = 0; i < a.size(); ++i) {
    a[i] = b[i] + 1e-4f * a[i];
    const std::size_t c = i % 128;
    if (k == kind::everywhere && (c == 5 || c == 77)) a[i] += 2.0f;
    if ((k == kind::late || k == kind::early_and_late) && i >= chunk) a[i] += 1.0f;
    if ((k == kind::early || k == kind::early_and_late) && i < 64) a[i] += 1.0f;
  }
  return a;
}

// NHWC [1,S,S,S] values laid out as NCHW.
std::vector<float> to_nchw(const std::vector<float>& v, std::size_t s) {
  std::vector<float> out(v.size());
  for (std::size_t h = 0; h < s; ++h) {
    for (std::size_t w = 0; w < s; ++w) {
      for (std::size_t c = 0; c < s; ++c) out[(c * s + h) * s + w] = v[(h * s + w) * s + c];
    }
  }
  return out;
}

dump_file open_dump(const std::string& path) {
  auto f = dump_file::open(path);
  if (!f.has_value()) throw std::runtime_error(f.error().describe());
  return std::move(f).value();
}

void expect_same_evidence(const channel_evidence& x, const channel_evidence& y, std::size_t k) {
  ASSERT_EQ(x.per_channel.size(), y.per_channel.size()) << k;
  for (std::size_t c = 0; c < x.per_channel.size(); ++c) {
    EXPECT_EQ(std::memcmp(&x.per_channel[c].cos, &y.per_channel[c].cos, sizeof(double)), 0) << k;
    EXPECT_EQ(std::memcmp(&x.per_channel[c].mse, &y.per_channel[c].mse, sizeof(double)), 0) << k;
    EXPECT_EQ(std::memcmp(&x.per_channel[c].rmse, &y.per_channel[c].rmse, sizeof(double)), 0) << k;
  }
  EXPECT_EQ(channels_json(x), channels_json(y)) << k;
}

TEST(ChannelMetrics, EvidenceSummedWithTheChunksIsTheLayersOwn) {
  temp_dir t;
  constexpr std::size_t side = 64;  // the retried layer: [1,64,64,64], one chunk
  std::vector<kind> layer_kinds;
  {
    auto ws = dump_writer::create(t.file("s.bin"));
    auto wb = dump_writer::create(t.file("b.bin"));
    ASSERT_TRUE(ws && wb);
    for (int round = 0; round < 3; ++round) {
      for (kind k : kinds) {
        const auto l = static_cast<std::uint32_t>(layer_kinds.size());
        tensor_spec s;
        s.name = "layer" + std::to_string(l);
        s.shape = two_chunks;
        s.op_index = static_cast<std::int32_t>(l);
        const std::vector<float> b = values(two_chunk_elements, 100 + l);
        ASSERT_TRUE(ws->write(s, sample_of(b, k, 900 + l)).has_value());
        ASSERT_TRUE(wb->write(s, b).has_value());
        layer_kinds.push_back(k);
      }
    }
    // Suspect read `same` (unrelated values), still suspect but closer read
    // transposed: the retry changes the layout after the first elements
    // looked suspect read `same`.
    tensor_spec s;
    s.name = "transposed";
    s.shape = {1, side, side, side};
    s.op_index = 100;
    const std::vector<float> a = values(side * side * side, 7);
    std::vector<float> b = a, noise = values(a.size(), 8);
    for (std::size_t i = 0; i < b.size(); ++i) b[i] += 0.4f * noise[i];
    ASSERT_TRUE(ws->write(s, a).has_value());
    ASSERT_TRUE(wb->write(s, to_nchw(b, side)).has_value());
    ASSERT_TRUE(ws->close() && wb->close());
  }
  const dump_file sf = open_dump(t.file("s.bin")), bf = open_dump(t.file("b.bin"));
  std::string first_json;
  for (unsigned threads : {1u, 2u, 3u}) {
    compare_options o;
    o.threads = threads;
    o.channel_evidence = true;
    auto r = compare_dumps(sf, bf, o);
    ASSERT_TRUE(r.has_value()) << r.error().describe();
    ASSERT_EQ(r->layers.size(), layer_kinds.size() + 1);
    for (std::size_t k = 0; k < r->layers.size(); ++k) {
      const layer_result& l = r->layers[k];
      ASSERT_TRUE(l.error.empty()) << l.error;
      const layer_result alone =
          compare_layer(sf, l.sample_record, bf, static_cast<std::uint32_t>(l.bench_record), o);
      testing::expect_same_metrics(l.metrics, alone.metrics);
      EXPECT_EQ(l.layout, alone.layout) << k;
      EXPECT_EQ(l.suspect, alone.suspect) << k;
      if (k < layer_kinds.size()) {
        const kind want = layer_kinds[k];
        EXPECT_EQ(l.suspect, want != kind::clean && want != kind::early) << k;
      } else {
        EXPECT_TRUE(l.suspect);
        EXPECT_NE(l.layout, layout_choice::same);
      }
      ASSERT_EQ(l.channels.has_value(), l.suspect) << k;
      if (!l.suspect) continue;
      auto sv = sf.view(l.sample_record);
      auto bv = bf.view(static_cast<std::uint32_t>(l.bench_record));
      ASSERT_TRUE(sv && bv);
      auto own = compute_channel_evidence(*sv, *bv, l.layout);
      ASSERT_TRUE(own.has_value());
      expect_same_evidence(*l.channels, *own, k);
    }
    const std::string json = report_json(*r);
    if (first_json.empty()) first_json = json;
    EXPECT_EQ(json, first_json) << threads << " threads";
  }
}

}  // namespace
}  // namespace sigdump
