// The layers of a run still waiting for their benchmark layer when the
// sample file starts over, against a real sigdumpd under both event loops:
// compared from the run's archived copy once the benchmark run is whole,
// when the copy holds the run's bytes; lost only when it does not.
#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>

#include "pair_daemon_support.h"

namespace sigdump::testing {
namespace {

class RunLifeCopy : public PairDaemonTest {
 protected:
  static constexpr int layers = 10, first = 4;
  // Layers [from, to) of a dump, their values scaled by `scale`.
  static void write_layers(dump_writer& w, int from, int to, float scale) {
    for (int i = from; i < to; ++i) {
      ASSERT_TRUE(w.write(spec_of("net/l" + std::to_string(i), 256, i), ramp(256, scale)));
    }
  }
  // The benchmark's writer has written its first layers and goes on later;
  // the sample is written whole and closed: its first layers are compared,
  // the others wait for their benchmark layer. Then the sample is written
  // again (truncated: the simulator's next run) and the benchmark finished.
  // With `hold_copier`, the archive's copier makes no copy (test hook)
  // until the sample was written again: the old run's copy then holds the
  // next run's bytes. Returns the old run's id; old.bin holds its bytes.
  std::string waiting_when_started_over(bool hold_copier) {
    const std::string hold = dir_.file("hold");
    if (hold_copier) write_file(hold, "");
    auto d = start({"--quiet-ms", "600000"}, {"SIGDUMP_ARCHIVE_TEST_HOLD=" + hold});
    d_ = std::move(d);
    auto bench = dump_writer::create(bench_);
    EXPECT_TRUE(bench);
    if (!bench) return {};
    write_layers(*bench, 0, first, 1.0f);
    write_dump(sample_, layers, 1.01f);
    write_file(dir_.file("old.bin"), read_file(sample_));
    const std::string old_run = d_->wait_event([&](const logged_event& e) {
                                    return e.event == "run_start" && e.path == sample_;
                                  }).run;
    EXPECT_FALSE(old_run.empty()) << read_file(d_->events_path());
    // Its first layers published; its copy whole, unless held.
    EXPECT_TRUE(wait_until([&] {
      const auto runs = list_runs(dir_.file("sock"));
      const auto it = runs.find(old_run);
      return last_layers(d_->events(), old_run).size() == first && it != runs.end() &&
             it->second.records == layers && (hold_copier || it->second.copy_synced);
    })) << read_file(d_->events_path());
    write_dump(sample_, layers, 1.02f);
    EXPECT_FALSE(d_->wait_event([&](const logged_event& e) {
                     return e.event == "run_reset" && e.previous == old_run;
                   }).run.empty())
        << read_file(d_->events_path());
    if (hold_copier) std::filesystem::remove(hold);
    write_layers(*bench, first, layers, 1.0f);
    EXPECT_TRUE(bench->close());
    return old_run;
  }

  std::unique_ptr<test_daemon> d_;
};

// They used to be counted lost (the back-to-back rewrite test's runs ended
// "closed" with 0 of 58 layers now and then: none had been matched yet when
// the next writer truncated the file). Every layer of the old run is the
// one `sigdump compare` gives on its bytes, each under its own index.
TEST_P(RunLifeCopy, LayersWaitingForTheBenchmarkAreComparedFromTheCopy) {
  const std::string old_run = waiting_when_started_over(false);
  ASSERT_FALSE(old_run.empty());
  const auto end = d_->wait_event(
      [&](const logged_event& e) { return e.event == "run_end" && e.run == old_run; });
  ASSERT_EQ(end.event, "run_end") << read_file(d_->events_path());
  const auto want = offline_layers(dir_.file("old.bin"), bench_);
  ASSERT_EQ(want.size(), static_cast<std::size_t>(layers));
  std::uint64_t compared = 0, lost = 0, pending = 0;
  coverage_of(dir_.file("sock"), old_run, compared, lost, pending);
  EXPECT_EQ(lost, 0u) << read_file(d_->events_path());
  EXPECT_EQ(compared, static_cast<std::uint64_t>(layers));
  EXPECT_EQ(last_layers(d_->events(), old_run).size(), static_cast<std::size_t>(layers));
  expect_layers_match(d_->events(), old_run, want);
  // One run_end, after all its layers (told_runs checks the order).
  for (const auto& [id, r] : told_runs(d_->events(), sample_)) {
    if (id == old_run) {
      EXPECT_EQ(r.ends, 1) << id;
    }
  }
  stop(*d_);
}

// The copier was held until the sample was written again: the run's copy
// holds only the records the workers filled as they compared them (the
// first ones), not the waiting ones, so they are lost (counted, each
// keeping its index), never published with the next run's numbers; the
// layers published before keep theirs.
TEST_P(RunLifeCopy, ACopyWithoutTheWaitingLayersLeavesThemLost) {
  const std::string old_run = waiting_when_started_over(true);
  ASSERT_FALSE(old_run.empty());
  const auto end = d_->wait_event(
      [&](const logged_event& e) { return e.event == "run_end" && e.run == old_run; });
  ASSERT_EQ(end.event, "run_end") << read_file(d_->events_path());
  std::uint64_t compared = 0, lost = 0, pending = 0;
  coverage_of(dir_.file("sock"), old_run, compared, lost, pending);
  EXPECT_EQ(lost, static_cast<std::uint64_t>(layers - first)) << read_file(d_->events_path());
  EXPECT_EQ(last_layers(d_->events(), old_run).size(), static_cast<std::size_t>(first));
  expect_layers_match(d_->events(), old_run, offline_layers(dir_.file("old.bin"), bench_));
  stop(*d_);
}

INSTANTIATE_TEST_SUITE_P(Loops, RunLifeCopy, ::testing::Values("io_uring", "epoll"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
}  // namespace sigdump::testing
