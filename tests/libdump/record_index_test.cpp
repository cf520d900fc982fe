// record_index: exact and sanitized lookups, duplicates, growth, suggestions.
#include "sigdump/record_index.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sigdump::testing {
namespace {

record make(std::uint32_t i, std::string name, record_kind kind = record_kind::out,
            std::uint32_t port = 0) {
  record r;
  r.index = i;
  r.name = std::move(name);
  r.kind = kind;
  r.port = port;
  return r;
}

TEST(RecordIndex, FindsExactNamesInFileOrder) {
  std::vector<record> recs = {make(0, "data", record_kind::in), make(1, "conv1/bn:0"),
                              make(2, "data"), make(3, "conv1/bn:0", record_kind::out, 1),
                              make(4, "conv1/bn:0")};
  record_index idx;
  idx.add(recs, 0);
  EXPECT_EQ(idx.size(), 5u);
  EXPECT_EQ(idx.find(recs, "data"), (std::vector<std::uint32_t>{0, 2}));
  EXPECT_EQ(idx.find(recs, "conv1/bn:0"), (std::vector<std::uint32_t>{1, 3, 4}));
  EXPECT_TRUE(idx.find(recs, "conv1_bn0").empty());
  EXPECT_TRUE(idx.find(recs, "").empty());
  EXPECT_EQ(idx.find_one(recs, "conv1/bn:0", record_kind::out, 0), 4);
  EXPECT_EQ(idx.find_one(recs, "conv1/bn:0", record_kind::out, 1), 3);
  EXPECT_EQ(idx.find_one(recs, "data", record_kind::in, 0), 0);
  EXPECT_EQ(idx.find_one(recs, "data", record_kind::in, 1), -1);
  EXPECT_EQ(idx.find_one(recs, "missing", record_kind::out, 0), -1);
}

TEST(RecordIndex, FindsSanitizedNames) {
  std::vector<record> recs = {make(0, "conv1/bn_xx:0"), make(1, "conv1_bn_xx0"), make(2, "other")};
  record_index idx;
  idx.add(recs, 0);
  EXPECT_EQ(idx.find_sanitized(recs, "conv1_bn_xx0"), (std::vector<std::uint32_t>{0, 1}));
  EXPECT_EQ(idx.find_sanitized(recs, "conv1/bn_xx:0"), (std::vector<std::uint32_t>{0, 1}));
  EXPECT_EQ(idx.find(recs, "conv1_bn_xx0"), (std::vector<std::uint32_t>{1}));
  EXPECT_TRUE(idx.find_sanitized(recs, "conv2").empty());
}

TEST(RecordIndex, FindsNameAfterGrowth) {
  std::vector<record> recs = {make(0, "a")};
  record_index idx;
  idx.add(recs, 0);
  recs.push_back(make(1, "b"));
  recs.push_back(make(2, "a"));
  idx.add(recs, 1);
  EXPECT_EQ(idx.size(), 3u);
  EXPECT_EQ(idx.find(recs, "a"), (std::vector<std::uint32_t>{0, 2}));
  EXPECT_EQ(idx.find(recs, "b"), (std::vector<std::uint32_t>{1}));
  idx.clear();
  EXPECT_EQ(idx.size(), 0u);
  EXPECT_TRUE(idx.find(recs, "a").empty());
}

TEST(RecordIndex, ManyNamesStayDistinct) {
  std::vector<record> recs;
  for (std::uint32_t i = 0; i < 5000; ++i)
    recs.push_back(make(i, "layer" + std::to_string(i) + "/out"));
  record_index idx;
  idx.add(recs, 0);
  for (std::uint32_t i = 0; i < 5000; i += 97) {
    auto ids = idx.find(recs, "layer" + std::to_string(i) + "/out");
    ASSERT_EQ(ids.size(), 1u);
    EXPECT_EQ(ids[0], i);
  }
}

TEST(RecordIndex, ClosestNamesSuggestNearMisses) {
  std::vector<record> recs = {make(0, "conv1/bn_xx_xx"), make(1, "conv2/bn_xx_xx"),
                              make(2, "conv1/bn_xx_xx"), make(3, "softmax"),
                              make(4, "pool5/7x7_s1")};
  auto c = closest_names(recs, "conv1/bn_xx_x");
  ASSERT_FALSE(c.empty());
  EXPECT_EQ(c[0], "conv1/bn_xx_xx");
  EXPECT_EQ(c.size(), 2u);  // duplicates once; softmax and pool5 too far
  EXPECT_EQ(closest_names(recs, "softmx"), (std::vector<std::string>{"softmax"}));
  EXPECT_EQ(closest_names(recs, "conv1_bn_xx_xx", 1), (std::vector<std::string>{"conv1/bn_xx_xx"}));
  EXPECT_TRUE(closest_names(recs, "completely_unrelated_name_here").empty());
}

}  // namespace
}  // namespace sigdump::testing
