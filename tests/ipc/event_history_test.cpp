#include "sigdump/ipc/event_history.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>

namespace sigdump::ipc {
namespace {

std::shared_ptr<const published_event> make_event(std::uint64_t tick,
                                                  event_kind kind = event_kind::layer,
                                                  std::string run = "r1", std::string pair = "p",
                                                  bool suspect = false) {
  auto e = std::make_shared<published_event>();
  e->tick = tick;
  e->kind = kind;
  e->run = std::move(run);
  e->path = "/d/" + e->run;
  e->pair = std::move(pair);
  e->suspect = suspect;
  e->object = R"({"event":"layer"})";
  return e;
}

TEST(EventHistory, EmptyCoversOnlyTickZero) {
  event_history h(4);
  EXPECT_EQ(h.last_tick(), 0u);
  EXPECT_EQ(h.first_tick(), 1u);
  EXPECT_TRUE(h.covers(0));
  EXPECT_FALSE(h.covers(1));  // a tick from the future
  EXPECT_EQ(h.at(0), nullptr);
  EXPECT_EQ(h.at(1), nullptr);
}

TEST(EventHistory, ReplayBoundariesAtCapacity) {
  event_history h(4);
  for (std::uint64_t t = 1; t <= 10; ++t) h.append(make_event(t));
  EXPECT_EQ(h.size(), 4u);
  EXPECT_EQ(h.first_tick(), 7u);
  EXPECT_EQ(h.last_tick(), 10u);
  // After 6 the replay is 7..10, all retained; after 5 it would need 6: gone.
  EXPECT_TRUE(h.covers(6));
  EXPECT_FALSE(h.covers(5));
  EXPECT_TRUE(h.covers(10));  // nothing to replay, still complete
  EXPECT_FALSE(h.covers(11));
  EXPECT_EQ(h.at(6), nullptr);
  ASSERT_NE(h.at(7), nullptr);
  EXPECT_EQ((*h.at(7))->tick, 7u);
  EXPECT_EQ((*h.at(10))->tick, 10u);
  EXPECT_EQ(h.at(11), nullptr);
}

TEST(EventHistory, DefaultCapacityIs65536) {
  EXPECT_EQ(event_history().capacity(), 65536u);
  EXPECT_EQ(event_history().max_bytes(), std::size_t{16} << 20);
  event_history h(event_history::default_capacity, SIZE_MAX);  // the count bound alone
  for (std::uint64_t t = 1; t <= 65537; ++t) h.append(make_event(t));
  EXPECT_EQ(h.first_tick(), 2u);
  EXPECT_TRUE(h.covers(1));
  EXPECT_FALSE(h.covers(0));
}

// Memory is bounded by bytes too: events far bigger than the count bound
// allows are dropped oldest first, and the byte count follows.
TEST(EventHistory, ByteBoundEvictsTheOldest) {
  const std::size_t one = event_history::bytes_of(*make_event(1));
  event_history h(1000, 3 * one);
  for (std::uint64_t t = 1; t <= 10; ++t) h.append(make_event(t));
  EXPECT_EQ(h.size(), 3u);
  EXPECT_EQ(h.first_tick(), 8u);
  EXPECT_EQ(h.bytes(), 3 * one);
  EXPECT_TRUE(h.covers(7));
  EXPECT_FALSE(h.covers(6));
  h.set_max_bytes(one);  // a reload lowers it
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(h.first_tick(), 10u);
  h.set_max_bytes(0);  // the newest event always stays
  EXPECT_EQ(h.size(), 1u);
  h.append(make_event(11));
  EXPECT_EQ(h.first_tick(), 11u);
  EXPECT_EQ(h.bytes(), one);
}

TEST(EventHistory, TickJumpForgetsThePast) {
  event_history h(8);
  h.append(make_event(1));
  h.append(make_event(2));
  h.append(make_event(5));
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(h.first_tick(), 5u);
  EXPECT_FALSE(h.covers(2));
  EXPECT_TRUE(h.covers(4));
}

TEST(SubscriptionFilter, MatchesByPairPathRunAndSuspect) {
  subscription_filter all;
  EXPECT_TRUE(all.matches(*make_event(1)));

  subscription_filter by_pair;
  by_pair.pair = "p";
  EXPECT_TRUE(by_pair.matches(*make_event(1)));
  EXPECT_FALSE(by_pair.matches(*make_event(1, event_kind::layer, "r1", "q")));
  EXPECT_TRUE(by_pair.matches(*make_event(1, event_kind::resync, "", "")));

  subscription_filter by_run;
  by_run.run = "r2";
  EXPECT_FALSE(by_run.matches(*make_event(1)));
  auto reset = std::make_shared<published_event>(*make_event(1, event_kind::run_reset, "r3"));
  reset->previous_run = "r2";
  EXPECT_TRUE(by_run.matches(*reset));

  subscription_filter by_path;
  by_path.path = "/d/r1";
  EXPECT_TRUE(by_path.matches(*make_event(1)));
  EXPECT_FALSE(by_path.matches(*make_event(1, event_kind::layer, "r9")));

  subscription_filter suspect;
  suspect.suspect_only = true;
  EXPECT_FALSE(suspect.matches(*make_event(1)));
  EXPECT_TRUE(suspect.matches(*make_event(1, event_kind::layer, "r1", "p", true)));
  EXPECT_TRUE(suspect.matches(*make_event(1, event_kind::run_end)));
}

TEST(EventKind, WireNames) {
  EXPECT_STREQ(event_kind_name(event_kind::run_start), "run_start");
  EXPECT_STREQ(event_kind_name(event_kind::gap), "gap");
}

}  // namespace
}  // namespace sigdump::ipc
