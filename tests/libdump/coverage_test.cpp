// Coverage and verdict: the rule as a table, the coverage line, and what
// compare_dumps counts (sample-only layers inside and at the end, errors,
// benchmark-only layers, constants left out).
#include "sigdump/coverage.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "sigdump/compare.h"
#include "sigdump/dump_file.h"
#include "sigdump/dump_writer.h"
#include "test_support.h"

namespace sigdump {
namespace {

using testing::temp_dir;

coverage cov(std::uint64_t layers, std::uint64_t compared, std::uint64_t errors,
             std::uint64_t sample_only, std::uint64_t pending) {
  coverage c;
  c.sample_layers = layers;
  c.compared = compared;
  c.not_comparable = errors;
  c.sample_only = sample_only;
  c.pending = pending;
  return c;
}

TEST(Coverage, VerdictRuleTable) {
  struct row {
    coverage c;
    std::uint64_t suspect;
    verdict want;
    bool ok, ok_partial;
  };
  const std::vector<row> rows = {
      {cov(30, 30, 0, 0, 0), 0, verdict::pass, true, true},
      {cov(30, 30, 0, 0, 0), 2, verdict::fail, false, false},
      {cov(30, 29, 1, 0, 0), 0, verdict::fail, false, false},
      {cov(30, 6, 0, 24, 0), 0, verdict::incomplete, false, true},
      {cov(30, 6, 0, 24, 0), 1, verdict::fail, false, false},
      {cov(30, 6, 0, 0, 24), 0, verdict::incomplete, false, true},
      {cov(30, 0, 0, 0, 30), 0, verdict::nothing_compared, false, false},
      {cov(30, 0, 0, 30, 0), 0, verdict::nothing_compared, false, false},
      {cov(0, 0, 0, 0, 0), 0, verdict::nothing_compared, false, false},
      {cov(3, 0, 3, 0, 0), 0, verdict::fail, false, false},
  };
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const row& r = rows[i];
    const verdict v = judge(r.c, r.suspect);
    EXPECT_EQ(v, r.want) << "row " << i << ": " << verdict_name(v);
    EXPECT_EQ(verdict_ok(v, false), r.ok) << "row " << i;
    EXPECT_EQ(verdict_ok(v, true), r.ok_partial) << "row " << i;
  }
  EXPECT_STREQ(verdict_name(verdict::nothing_compared), "nothing_compared");
}

TEST(Coverage, OneLine) {
  coverage c = cov(30, 30, 0, 0, 0);
  EXPECT_EQ(coverage_text(c), "30 of 30 sample layers compared");
  c = cov(30, 6, 0, 24, 0);
  c.benchmark_ends_at = 5;
  c.benchmark_ends_name = "conv2_1";
  EXPECT_EQ(coverage_text(c),
            "6 of 30 sample layers compared, 24 have no benchmark layer (benchmark ends at 5) "
            "conv2_1)");
  c = cov(5, 2, 1, 2, 0);
  c.sample_only_layers = {{1, "a"}, {3, "b"}};
  c.benchmark_only = 1;
  EXPECT_EQ(coverage_text(c),
            "2 of 5 sample layers compared, 1 not comparable, 2 have no benchmark layer (a, b); "
            "1 benchmark layer has no sample layer");
  c = cov(8, 1, 0, 4, 3);
  c.sample_only_layers = {{1, "a"}, {2, "b"}, {3, "c"}, {4, "d"}};
  EXPECT_EQ(coverage_text(c),
            "1 of 8 sample layers compared, 4 have no benchmark layer (a, b, c, ...), 3 waiting "
            "for a benchmark layer");
  EXPECT_EQ(coverage_text(cov(0, 0, 0, 0, 0)), "the sample has no layer to compare");
}

void write_dump(const std::string& path, const std::vector<std::pair<std::string, int>>& layers,
                bool constant_last = false) {
  auto w = dump_writer::create(path);
  ASSERT_TRUE(w.has_value());
  for (std::size_t i = 0; i < layers.size(); ++i) {
    tensor_spec s;
    s.name = layers[i].first;
    s.shape = {layers[i].second};
    s.op_index = static_cast<std::int64_t>(i);
    s.constant = constant_last && i + 1 == layers.size();
    std::vector<float> v(static_cast<std::size_t>(layers[i].second), 1.5f);
    ASSERT_TRUE(w->write(s, v).has_value());
  }
  ASSERT_TRUE(w->close().has_value());
}

compare_report compare(const temp_dir& t) {
  auto a = dump_file::open(t.file("s.bin"));
  auto b = dump_file::open(t.file("b.bin"));
  if (!a || !b) throw std::runtime_error("open");
  auto r = compare_dumps(*a, *b, {});
  if (!r) throw std::runtime_error("compare");
  return std::move(*r);
}

TEST(Coverage, CompareDumpsCountsEverySampleLayer) {
  temp_dir t;
  // "fused" has no benchmark layer but later ones do; "x" differs in size;
  // the constant takes no part; "extra" is on the benchmark side only.
  write_dump(t.file("s.bin"), {{"a", 4}, {"fused", 4}, {"x", 4}, {"c", 4}, {"w", 2}}, true);
  write_dump(t.file("b.bin"), {{"a", 4}, {"x", 3}, {"c", 4}, {"extra", 4}});
  compare_report r = compare(t);
  const coverage& c = r.coverage;
  EXPECT_EQ(c.sample_layers, 4u);
  EXPECT_EQ(c.compared, 2u);
  EXPECT_EQ(c.not_comparable, 1u);
  EXPECT_EQ(c.sample_only, 1u);
  ASSERT_EQ(c.sample_only_layers.size(), 1u);
  EXPECT_EQ(c.sample_only_layers[0].name, "fused");
  EXPECT_EQ(c.sample_only_layers[0].record, 1u);
  EXPECT_EQ(c.benchmark_only, 1u);
  EXPECT_EQ(c.pending, 0u);
  EXPECT_EQ(c.benchmark_ends_at, -1);  // not a tail
  EXPECT_EQ(r.verdict(), verdict::fail);

  // A benchmark cut after two layers: the rest is a tail.
  write_dump(t.file("s.bin"), {{"a", 4}, {"b", 4}, {"c", 4}, {"d", 4}});
  write_dump(t.file("b.bin"), {{"a", 4}, {"b", 4}});
  r = compare(t);
  EXPECT_EQ(r.coverage.compared, 2u);
  EXPECT_EQ(r.coverage.sample_only, 2u);
  EXPECT_EQ(r.coverage.benchmark_ends_at, 1);
  EXPECT_EQ(r.coverage.benchmark_ends_name, "b");
  EXPECT_EQ(r.verdict(), verdict::incomplete);
}

TEST(Coverage, SummarizeLeavesTheUnsettledPending) {
  // The daemon's way: it sets sample_layers and the sample-only layers as
  // records arrive and are settled; summarize counts the rest.
  compare_report r;
  r.coverage.sample_layers = 5;
  r.coverage.sample_only_layers = {{4, "tail"}};
  layer_result l;
  l.name = "a";
  l.metrics.cos = 1;
  r.layers.push_back(l);
  temp_dir t;
  write_dump(t.file("s.bin"), {{"a", 4}});
  auto s = dump_file::open(t.file("s.bin"));
  ASSERT_TRUE(s.has_value());
  summarize(r, *s);
  EXPECT_EQ(r.coverage.compared, 1u);
  EXPECT_EQ(r.coverage.sample_only, 1u);
  EXPECT_EQ(r.coverage.pending, 3u);
  EXPECT_EQ(r.verdict(), verdict::incomplete);
  // Read back without its layer count: what it holds is all there is.
  r.coverage.sample_layers = 0;
  summarize(r, *s);
  EXPECT_EQ(r.coverage.sample_layers, 2u);
  EXPECT_EQ(r.coverage.pending, 0u);
}

}  // namespace
}  // namespace sigdump
