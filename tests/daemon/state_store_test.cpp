// Crash-safe run logs: torn tails, numbering across restarts, pruning.
#include "state/state_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "test_support.h"

namespace sigdump::daemon {
namespace {

using sigdump::testing::read_file;
using sigdump::testing::temp_dir;
using sigdump::testing::write_file;

run_info make_run(std::uint64_t n) {
  run_info r;
  r.number = n;
  r.id = std::string("r") + std::to_string(n);
  r.path = "/data/fixed.bin";
  r.pair = "fx";
  r.started = 1764183000;
  r.start_reason = "created";
  r.report.sample_path = r.path;
  r.report.benchmark_path = "/data/float.bin";
  return r;
}

layer_result make_layer(std::uint32_t i, double cos) {
  layer_result l;
  l.index = i;
  l.sample_record = i * 3;
  l.bench_record = i * 3 + 1;
  l.name = std::string("conv") + std::to_string(i) + "/bn_xx";
  l.benchmark_name = l.name;
  l.op = "CONV_2D";
  l.shape = {1, 8, 8, 16};
  l.rule = match_rule::sanitized;
  l.layout = layout_choice::benchmark_nchw_to_nhwc;
  l.metrics.n = 1024;
  l.metrics.mse = 1.0 / 3.0;
  l.metrics.cos = cos;
  l.metrics.rmse = 0.123456789012345;
  l.metrics.max_abs = 2.5;
  l.metrics.sqnr_db = 40.25;
  l.metrics.rel_l2 = 0.01;
  l.suspect = cos < 0.99;
  return l;
}

TEST(StateStore, RoundTripsRunsAndContinuesNumbering) {
  temp_dir dir;
  {
    auto s = state_store::open(dir.file("state"));
    ASSERT_TRUE(s) << s.error().describe();
    ASSERT_TRUE(s->write_index(8));
    run_info r = make_run(7);
    s->run_started(r);
    EXPECT_TRUE(r.persisted);
    for (std::uint32_t i = 0; i < 3; ++i) {
      r.report.layers.push_back(make_layer(i, i == 2 ? 0.9 : 0.999));
      if (i == 2) r.report.first_bad = first_bad_layer{2, "conv2/bn_xx", "COS 0.9 < 0.99"};
      s->layer_added(r, r.report.layers.back());
    }
    r.state = run_state::ended;
    r.end_reason = "closed";
    r.ended = 1764183010;
    r.records = 9;
    r.bytes = 4096;
    s->run_ended(r);
  }
  auto s = state_store::open(dir.file("state"));
  ASSERT_TRUE(s);
  std::map<std::uint64_t, std::shared_ptr<run_info>> runs;
  auto next = s->load(runs);
  ASSERT_TRUE(next) << next.error().describe();
  EXPECT_EQ(*next, 8u);
  ASSERT_EQ(runs.size(), 1u);
  const run_info& r = *runs.at(7);
  EXPECT_EQ(r.id, "r7");
  EXPECT_EQ(r.pair, "fx");
  EXPECT_EQ(r.path, "/data/fixed.bin");
  EXPECT_EQ(r.state, run_state::ended);
  EXPECT_EQ(r.end_reason, "closed");
  EXPECT_EQ(r.records, 9u);
  EXPECT_TRUE(r.persisted);
  ASSERT_EQ(r.report.layers.size(), 3u);
  EXPECT_EQ(layer_record_json(r.report.layers[1]), layer_record_json(make_layer(1, 0.999)));
  ASSERT_TRUE(r.report.first_bad);
  EXPECT_EQ(r.report.first_bad->name, "conv2/bn_xx");
  EXPECT_EQ(r.suspect_count(), 1u);
}

TEST(StateStore, TornLastLineIsDroppedAndRepaired) {
  temp_dir dir;
  std::string log;
  {
    auto s = state_store::open(dir.file("state"));
    ASSERT_TRUE(s);
    run_info r = make_run(3);
    s->run_started(r);
    r.report.layers.push_back(make_layer(0, 0.999));
    s->layer_added(r, r.report.layers.back());
    r.report.layers.push_back(make_layer(1, 0.999));
    s->layer_added(r, r.report.layers.back());
    s->sync_all();
    log = dir.file("state") + "/runs/r3.ndjson";
  }
  // A crash in the middle of the third layer's write.
  std::string whole = read_file(log);
  write_file(log, whole + "{\"t\":\"layer\",\"layer\":{\"index\":2,\"na");
  auto s = state_store::open(dir.file("state"));
  ASSERT_TRUE(s);
  std::map<std::uint64_t, std::shared_ptr<run_info>> runs;
  auto next = s->load(runs);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, 4u);  // past every log even without an index
  ASSERT_EQ(runs.count(3), 1u);
  const run_info& r = *runs.at(3);
  EXPECT_EQ(r.report.layers.size(), 2u);
  EXPECT_EQ(r.state, run_state::ended);
  EXPECT_EQ(r.end_reason, "restart");  // it never ended: the daemon died
  // The torn bytes are gone, so later appends start on a clean line.
  EXPECT_EQ(read_file(log), whole);
}

TEST(StateStore, DamagedMiddleLineIsSkipped) {
  temp_dir dir;
  auto s = state_store::open(dir.file("state"));
  ASSERT_TRUE(s);
  std::string log = dir.file("state") + "/runs/r1.ndjson";
  run_info r = make_run(1);
  s->run_started(r);
  s->sync_all();
  std::string start = read_file(log);
  write_file(log, start + "garbage\n" + "{\"t\":\"end\",\"ended\":5,\"reason\":\"quiet\"}\n");
  std::map<std::uint64_t, std::shared_ptr<run_info>> runs;
  ASSERT_TRUE(s->load(runs));
  ASSERT_EQ(runs.count(1), 1u);
  EXPECT_EQ(runs.at(1)->end_reason, "quiet");
}

TEST(StateStore, LogWithoutStartLineIsIgnoredButCounted) {
  temp_dir dir;
  auto s = state_store::open(dir.file("state"));
  ASSERT_TRUE(s);
  write_file(dir.file("state") + "/runs/r41.ndjson", "{\"t\":\"st");
  std::map<std::uint64_t, std::shared_ptr<run_info>> runs;
  auto next = s->load(runs);
  ASSERT_TRUE(next);
  EXPECT_TRUE(runs.empty());
  EXPECT_EQ(*next, 42u);
}

TEST(StateStore, RemoveDeletesTheLog) {
  temp_dir dir;
  auto s = state_store::open(dir.file("state"));
  ASSERT_TRUE(s);
  run_info r = make_run(2);
  s->run_started(r);
  s->remove(2);
  EXPECT_FALSE(std::filesystem::exists(dir.file("state") + "/runs/r2.ndjson"));
}

TEST(StateStore, IndexIsReplacedAtomically) {
  temp_dir dir;
  auto s = state_store::open(dir.file("state"));
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->write_index(5));
  ASSERT_TRUE(s->write_index(6));
  EXPECT_FALSE(std::filesystem::exists(dir.file("state") + "/index.json.tmp"));
  std::map<std::uint64_t, std::shared_ptr<run_info>> runs;
  auto next = s->load(runs);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, 6u);
}

// write_index_later (a run start) writes on the sync thread what
// write_index writes: a store opened afterwards numbers on from it.
TEST(StateStore, IndexWrittenLaterIsTheSameIndex) {
  temp_dir dir;
  {
    auto now = state_store::open(dir.file("now"));
    ASSERT_TRUE(now);
    ASSERT_TRUE(now->write_index(9));
  }
  const std::string expected = read_file(dir.file("now") + "/index.json");
  ASSERT_FALSE(expected.empty());
  auto s = state_store::open(dir.file("later"));
  ASSERT_TRUE(s);
  s->write_index_later(9);
  const std::string path = dir.file("later") + "/index.json";
  EXPECT_TRUE(sigdump::testing::wait_until([&] { return read_file(path) == expected; }))
      << read_file(path);
  std::map<std::uint64_t, std::shared_ptr<run_info>> runs;
  auto next = s->load(runs);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, 9u);
}

}  // namespace
}  // namespace sigdump::daemon
