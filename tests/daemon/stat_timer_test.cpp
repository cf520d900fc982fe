// The stat timer's cost on an idle daemon, against a real sigdumpd under
// both event loops: finished files are looked at only now and then (inotify
// reports their changes), so a tick's cost does not grow with them.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

#include "pair_daemon_support.h"

namespace sigdump::testing {
namespace {

class StatTimer : public PairDaemonTest {};

// The stat timer's counters in `status`.
struct stat_counts {
  std::uint64_t ticks = 0, looks = 0;
};
stat_counts stat_counters(const std::string& socket) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  stat_counts out;
  if (!daemon_status(socket, parser, doc) ||
      doc["daemon"]["stat_ticks"].get_uint64().get(out.ticks) ||
      doc["daemon"]["stat_looks"].get_uint64().get(out.looks)) {
    return {};
  }
  return out;
}

// An idle daemon's stat timer cost grew with the finished files it tracked
// (every file every tick); inotify reports their changes, so each is looked
// at once every 25 ticks: no more, and no less (the safety net for changes
// no event reported).
TEST_P(StatTimer, LooksAtFinishedFilesOnlyNowAndThen) {
  write_dump(bench_, 3, 1.0f);
  write_dump(sample_, 3, 1.01f);
  constexpr std::uint64_t others = 40;
  for (std::uint64_t i = 0; i < others; ++i) {
    write_dump(dumps_ + "/f" + std::to_string(i) + "_outtensor_dump.bin", 3,
               1.0f + 0.01f * static_cast<float>(i));
  }
  const std::uint64_t files = others + 2;
  auto d = start();
  ASSERT_TRUE(settled()) << d->proc().stderr_text();
  ASSERT_EQ(list_runs(dir_.file("sock")).size(), files);
  const stat_counts before = stat_counters(dir_.file("sock"));
  stat_counts after;
  ASSERT_TRUE(wait_until([&] {
    after = stat_counters(dir_.file("sock"));
    return after.ticks >= before.ticks + 50;
  }));
  const std::uint64_t ticks = after.ticks - before.ticks;
  EXPECT_LE(after.looks - before.looks, ticks * ((files + 24) / 25))
      << ticks << " ticks, " << files << " finished files";
  EXPECT_GE(after.looks - before.looks, (ticks - 1) * ((files + 24) / 25) / 2);
}

INSTANTIATE_TEST_SUITE_P(Loops, StatTimer, ::testing::Values("io_uring", "epoll"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
}  // namespace sigdump::testing
