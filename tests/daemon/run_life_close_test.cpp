// Which close ends a run, against a real sigdumpd under both event loops:
// a close read while the next writer goes on writing is not the end of
// what it writes, even when that writer (and one after it) finishes between
// the daemon's read of the file and its question about writers.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <optional>
#include <string>

#include "pair_daemon_support.h"

namespace sigdump::testing {
namespace {

class RunLifeClose : public PairDaemonTest {
 protected:
  // Layers [from, to) of a run, their values scaled by `scale`.
  static void write_layers(dump_writer& w, int from, int to, float scale) {
    for (int i = from; i < to; ++i) {
      ASSERT_TRUE(w.write(spec_of("net/l" + std::to_string(i), 256, i), ramp(256, scale)));
    }
  }
  // The id of the first run of the sample other than `other` once `runs`
  // lists it live with n records (empty if it did not come).
  std::string live_run(test_daemon& d, std::uint64_t n, const std::string& other = {}) {
    const std::string id = d.wait_event([&](const logged_event& e) {
                              return e.event == "run_start" && e.path == sample_ && e.run != other;
                            }).run;
    if (id.empty() || !wait_until([&] {
          const auto runs = list_runs(dir_.file("sock"));
          const auto it = runs.find(id);
          return it != runs.end() && it->second.state == "live" && it->second.records == n;
        })) {
      return {};
    }
    return id;
  }
};

// The earlier writer of the dump closes while the next one, which truncated
// the file and wrote its first layers, is still writing: a close of earlier
// content. The daemon reads the file on that close, and is held before it
// asks the kernel whether anyone still writes the file (the test hook; a
// loaded machine does the same now and then: the back-to-back rewrite test
// caught it once in 3 parallel runs). Meanwhile the next writer writes its
// other layers and closes, and the one after it truncates the file, writes
// a whole run and closes too. Nobody writes the file by the time the daemon
// asks, yet what it read is not what the file holds: the run of the next
// writer used to end "closed" holding the 3 layers it had read (the one
// after it then started over). A close ends a run only when the file still
// holds what the daemon read: that run is cut by the rewrite, and the last
// run ends on its own writer's close, with all its layers.
TEST_P(RunLifeClose, ACloseSeenBeforeTheNextWritersFinishedDoesNotEndARun) {
  constexpr int layers = 12, first = 3;
  write_dump(bench_, layers, 1.0f);
  const std::string hold = dir_.file("close-hold");
  auto d = start({"--quiet-ms", "600000"}, {"SIGDUMP_CLOSE_TEST_HOLD=" + hold});
  if (!kernel_grants_leases(dir_.file("lease-probe"))) {
    GTEST_SKIP() << "the kernel grants no file leases in " << dir_.file("")
                 << ": it cannot say who writes";
  }
  auto earlier = dump_writer::create(sample_);
  ASSERT_TRUE(earlier);
  write_layers(*earlier, 0, layers, 1.01f);  // left open
  const std::string old_run = live_run(*d, layers);
  ASSERT_FALSE(old_run.empty()) << read_file(d->events_path());

  // The next writer truncates and writes its first layers while the
  // daemon is stopped; its run starts.
  ASSERT_TRUE(stop_wholly(d->proc().pid()));
  auto next = dump_writer::create(sample_);
  ASSERT_TRUE(next);
  write_layers(*next, 0, first, 1.02f);
  ASSERT_TRUE(d->proc().signal(SIGCONT));
  const std::string cut = live_run(*d, first, old_run);
  ASSERT_FALSE(cut.empty()) << read_file(d->events_path());

  // The earlier writer closes; the daemon reads the file (3 layers) and is
  // held before it asks who writes. Two writers finish meanwhile.
  write_file(hold, "");
  ASSERT_TRUE(earlier->close());
  ASSERT_TRUE(wait_until([&] { return fs::exists(hold + ".held"); })) << d->proc().stderr_text();
  write_layers(*next, first, layers, 1.02f);
  ASSERT_TRUE(next->close());
  write_dump(sample_, layers, 1.03f);
  fs::remove(hold);

  ASSERT_TRUE(wait_until([&] {
    std::size_t s = 0, e = 0;
    for (const auto& ev : d->events()) {
      if (ev.path != sample_) continue;
      s += ev.event == "run_start";
      e += ev.event == "run_end";
    }
    return s == 3 && s == e;
  })) << read_file(d->events_path());
  // Each run one run_start, then its layers, then one run_end (told_runs
  // checks the order); one that ended closed held all its layers.
  const auto runs = told_runs(d->events(), sample_);
  auto held_pending = ended_coverage(d->events_path());
  ASSERT_EQ(runs.size(), 3u) << read_file(d->events_path());
  for (const auto& [id, r] : runs) {
    EXPECT_EQ(r.ends, 1) << id;
    if (r.end_reason == "closed") {
      EXPECT_EQ(held_pending[id].first, static_cast<std::uint64_t>(layers))
          << id << " ended on a close before its writer was done\n"
          << read_file(d->events_path());
    }
  }
  EXPECT_EQ(runs[1].first, cut) << read_file(d->events_path());
  EXPECT_NE(runs[1].second.end_reason, "closed");
  EXPECT_EQ(runs.back().second.end_reason, "closed");
  EXPECT_EQ(runs.back().second.layers, static_cast<std::size_t>(layers));
  stop(*d);
}

INSTANTIATE_TEST_SUITE_P(Loops, RunLifeClose, ::testing::Values("io_uring", "epoll"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
}  // namespace sigdump::testing
