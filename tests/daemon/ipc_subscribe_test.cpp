// Subscriptions against a real sigdumpd: reconnecting with a clock misses
// nothing and duplicates nothing; stale or too old clocks get the state whole.
#include <gtest/gtest.h>

#include <set>

#include "ipc_test_client.h"

namespace sigdump::testing {
namespace {

using namespace std::chrono_literals;

TEST(IpcSubscribe, ResubscribeWithClockGetsExactlyTheMissedEvents) {
  temp_dir dir;
  ipc_daemon d(dir);
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  pair_writer w(d.sample(), d.bench(), 12);

  std::string last_clock;
  {
    raw_client c(d.socket());
    auto s = c.call("subscribe", R"({"pair":"p"})");
    ASSERT_TRUE(s.error_code.empty()) << s.raw;
    w.write(5);
    auto layers = read_layers(c, 5);
    ASSERT_EQ(layers.size(), 5u);
    last_clock = layers.back().clock;
    // The client dies mid-run with lines possibly unread.
  }
  w.write(4);  // layers 5..8 happen while nobody listens
  raw_client probe(d.socket());
  ASSERT_TRUE(wait_until([&] {
    return probe.call("runs", R"({"pair":"p"})").result.find("\"layers\":9") != std::string::npos;
  }));

  raw_client c(d.socket());
  auto s = c.call("subscribe", R"({"pair":"p","since":")" + last_clock + "\"}");
  ASSERT_TRUE(s.error_code.empty()) << s.raw;
  EXPECT_FALSE(s.fresh_instance);
  w.write(3);  // 9..11 live, after the replay
  std::vector<message> others;
  auto layers = read_layers(c, 7, &others);
  ASSERT_EQ(layers.size(), 7u);
  std::uint64_t prev_tick = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    EXPECT_EQ(layers[i].index, static_cast<std::int64_t>(5 + i)) << layers[i].raw;
    EXPECT_FALSE(layers[i].replay);
    const std::uint64_t tick = std::stoull(layers[i].clock.substr(layers[i].clock.rfind(':') + 1));
    EXPECT_GT(tick, prev_tick);
    prev_tick = tick;
  }
  for (const auto& m : others) EXPECT_NE(m.event, "gap") << m.raw;
  // Nothing more: no duplicate shows up.
  auto extra = c.read_message(300ms);
  EXPECT_FALSE(extra.has_value()) << extra->raw;
}

TEST(IpcSubscribe, StaleClockGetsFreshInstanceWithTheStateWhole) {
  temp_dir dir;
  ipc_daemon d(dir);
  ASSERT_TRUE(d.wait_ready());
  pair_writer w(d.sample(), d.bench(), 4, {1});
  w.write(4);
  raw_client probe(d.socket());
  ASSERT_TRUE(wait_until([&] {
    return probe.call("runs", R"({"pair":"p"})").result.find("\"layers\":4") != std::string::npos;
  }));
  raw_client c(d.socket());
  // Another daemon instance's clock.
  auto s = c.call("subscribe", R"({"pair":"p","since":"c:1:2:3"})");
  ASSERT_TRUE(s.error_code.empty()) << s.raw;
  EXPECT_TRUE(s.fresh_instance);
  std::vector<message> others;
  auto layers = read_layers(c, 4, &others);
  ASSERT_EQ(layers.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_TRUE(layers[i].replay);
    EXPECT_EQ(layers[i].index, static_cast<std::int64_t>(i));
    EXPECT_EQ(layers[i].clock, s.clock);  // the state as of the subscribe reply
  }
  ASSERT_FALSE(others.empty());
  EXPECT_EQ(others.front().event, "run_start");
  EXPECT_TRUE(others.front().replay);

  // suspect_only: just the bad layer.
  raw_client c2(d.socket());
  auto s2 = c2.call("subscribe", R"({"suspect_only":true})");
  EXPECT_TRUE(s2.fresh_instance);
  auto bad = read_layers(c2, 1);
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].index, 1);
  EXPECT_FALSE(c2.read_message(300ms).has_value());
}

// A subscriber follows a pair of `layers` layers written in two goes (the
// first layer, then the rest): the layer events it got, in order.
std::vector<message> follow_pair(ipc_daemon& d, int layers) {
  pair_writer w(d.sample(), d.bench(), layers);
  raw_client c(d.socket());
  c.call("subscribe");
  w.write(1);
  auto out = read_layers(c, 1);
  w.write(layers - 1);
  auto rest = read_layers(c, static_cast<std::size_t>(layers - 1));
  out.insert(out.end(), rest.begin(), rest.end());
  EXPECT_EQ(out.size(), static_cast<std::size_t>(layers));
  return out;
}

TEST(IpcSubscribe, ClockOlderThanTheHistoryGetsFreshInstance) {
  temp_dir dir;
  // A history of 8 events so that a few layers push the clock out of it.
  ipc_daemon d(dir, {"SIGDUMP_IPC_TEST_LIMITS=:::::::8"});
  ASSERT_TRUE(d.wait_ready());
  auto seen = follow_pair(d, 20);
  ASSERT_EQ(seen.size(), 20u);

  raw_client late(d.socket());
  auto s = late.call("subscribe", R"({"since":")" + seen[0].clock + "\"}");
  EXPECT_TRUE(s.fresh_instance) << s.raw;
  auto layers = read_layers(late, 20);
  EXPECT_EQ(layers.size(), 20u);

  // A clock still inside the history replays normally.
  raw_client recent(d.socket());
  auto r = recent.call("subscribe", R"({"since":")" + seen[17].clock + "\"}");
  EXPECT_FALSE(r.fresh_instance) << r.raw;
  auto tail = read_layers(recent, 2);
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].index, 18);
  EXPECT_EQ(tail[1].index, 19);
}

// The history is bounded in bytes too (--history-max-bytes): with 64 KiB a
// few dozen layer events fit, so a clock from before them starts over.
TEST(IpcSubscribe, HistoryByteBoundDropsTheOldestEvents) {
  temp_dir dir;
  ipc_daemon d(dir, {}, {"--history-max-bytes", "65536"});
  ASSERT_TRUE(d.wait_ready());
  auto seen = follow_pair(d, 150);
  ASSERT_EQ(seen.size(), 150u);

  raw_client late(d.socket());
  auto s = late.call("subscribe", R"({"since":")" + seen[0].clock + "\"}");
  EXPECT_TRUE(s.fresh_instance) << s.raw;
  raw_client recent(d.socket());
  auto r = recent.call("subscribe", R"({"since":")" + seen[141].clock + "\"}");
  EXPECT_FALSE(r.fresh_instance) << r.raw;
  auto tail = read_layers(recent, 8);
  ASSERT_EQ(tail.size(), 8u);
  EXPECT_EQ(tail[0].index, 142);
}

}  // namespace
}  // namespace sigdump::testing
