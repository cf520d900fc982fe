// A sample run's layers hold that run's bytes only (issue 15, "Results
// match the files"): against a real sigdumpd under both event loops, a
// sample whose layers wait for a benchmark is truncated and written again
// with other values while the daemon is not looking (stopped with
// SIGSTOP), and the benchmark arrives at the same moment. The comparisons
// the benchmark sets off read the file after it started over; none of
// them may land in the old run (they used to: the old run persisted the
// new run's numbers under its own id, and the soak in
// bench/rewrite_soak.py found them against the archived copies).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "pair_daemon_support.h"

namespace sigdump::testing {
namespace {

class MovedSample : public PairDaemonTest {
 protected:
  void waiting_layers_are_lost(bool hold_copier);
};

TEST_P(MovedSample, LayersReadAfterTheSampleStartedOverStayOutOfItsOldRun) {
  constexpr int layers = 8;
  auto d = start();
  // The old run: every layer waits for the benchmark.
  write_dump(sample_, layers, 1.01f);
  const std::string old_copy = dir_.file("old.bin");
  write_dump(old_copy, layers, 1.01f);
  const std::string old_run = d->wait_event([&](const logged_event& e) {
                                 return e.event == "run_end" && e.path == sample_;
                               }).run;
  ASSERT_FALSE(old_run.empty()) << d->proc().stderr_text();

  ASSERT_EQ(::kill(d->proc().pid(), SIGSTOP), 0);
  write_dump(bench_, layers, 1.0f);
  write_dump(sample_, layers, 1.5f);  // O_TRUNC, same records, other values
  ASSERT_EQ(::kill(d->proc().pid(), SIGCONT), 0);

  const std::string new_run =
      d->wait_event([&](const logged_event& e) {
         return e.event == "run_end" && e.path == sample_ && e.run != old_run;
       }).run;
  ASSERT_FALSE(new_run.empty()) << read_file(d->events_path());
  ASSERT_TRUE(settled()) << d->proc().stderr_text();
  // The new run: every layer, as `sigdump compare` on the files now.
  std::vector<std::string> live;
  for (const auto& [i, layer] : last_layers(d->events(), new_run)) live.push_back(layer);
  EXPECT_EQ(live, offline_layers(sample_, bench_));
  // The old run: what it has (its bytes were gone before the benchmark
  // came) is the old content's comparison.
  expect_layers_match(d->events(), old_run, offline_layers(old_copy, bench_));
  stop(*d);
}

// The benchmark's side: it ended, then is truncated and written again with
// other values while the daemon is stopped, and the sample arrives at the
// same moment. The comparisons the sample sets off read the benchmark's
// next content; the run must be compared with the benchmark run whose
// bytes it read (it used to name the old run and keep the new run's
// numbers, which sigdump report RUN and the archive then contradict).
TEST_P(MovedSample, LayersReadAfterTheBenchmarkStartedOverAreComparedWithItsNewRun) {
  constexpr int layers = 8;
  auto d = start();
  write_dump(bench_, layers, 1.0f);
  const std::string old_copy = dir_.file("old-bench.bin");
  write_dump(old_copy, layers, 1.0f);
  const std::string old_bench = d->wait_event([&](const logged_event& e) {
                                   return e.event == "run_end" && e.path == bench_;
                                 }).run;
  ASSERT_FALSE(old_bench.empty()) << d->proc().stderr_text();

  ASSERT_EQ(::kill(d->proc().pid(), SIGSTOP), 0);
  write_dump(sample_, layers, 1.01f);
  write_dump(bench_, layers, 1.5f);  // O_TRUNC, same records, other values
  ASSERT_EQ(::kill(d->proc().pid(), SIGCONT), 0);

  const std::string run = d->wait_event([&](const logged_event& e) {
                             return e.event == "run_end" && e.path == sample_;
                           }).run;
  ASSERT_FALSE(run.empty()) << read_file(d->events_path());
  ASSERT_TRUE(settled()) << d->proc().stderr_text();
  // A benchmark written over is held until its rewrite settles, with no run
  // live meanwhile: the run's layers wait for its new run. Its last word
  // (run_end, or the run_revised that follows) leaves none waiting.
  ASSERT_TRUE(wait_until([&] {
    std::string last;
    for (const std::string& line : ndjson_lines(d->events_path())) {
      if (line.find("\"run\":\"" + run + "\"") == std::string::npos) continue;
      if (line.find("\"event\":\"run_end\"") != std::string::npos ||
          line.find("\"event\":\"run_revised\"") != std::string::npos) {
        last = line;
      }
    }
    return last.find("\"pending\":0") != std::string::npos;
  })) << read_file(d->events_path());
  // The benchmark run it names now (a run_revised may follow the run_end).
  std::string named;
  for (const auto& e : d->events()) {
    if ((e.event == "run_end" || e.event == "run_revised") && e.run == run) {
      named = first_event_line(d->events_path(), e.event, "run", run);
    }
  }
  std::vector<std::string> live;
  for (const auto& [i, layer] : last_layers(d->events(), run)) live.push_back(layer);
  const bool names_old = named.find("\"benchmark_run\":\"" + old_bench + "\"") != std::string::npos;
  EXPECT_EQ(live, offline_layers(sample_, names_old ? old_copy : bench_)) << named;
  stop(*d);
}

// The old run's layers wait for the benchmark; its file is then truncated
// and written again with other values through a second link outside the
// watched folder (no inotify event, so the daemon still takes the file for
// the old run), and the benchmark arrives. The comparisons it sets off read
// the new bytes, which the old run must not keep; its archived copy still
// holds the old run, so each layer is compared from the copy (and its
// benchmark run's copy): the run's results are `sigdump compare` on its
// archived files. They used to stay "waiting for a benchmark layer".
TEST_P(MovedSample, LayersReadAfterTheirFileStartedOverAreComparedFromTheCopy) {
  constexpr int layers = 8;
  auto d = start();
  write_dump(sample_, layers, 1.01f);
  const std::string old_copy = dir_.file("old.bin");
  write_dump(old_copy, layers, 1.01f);
  const std::string old_run = d->wait_event([&](const logged_event& e) {
                                 return e.event == "run_end" && e.path == sample_;
                               }).run;
  ASSERT_FALSE(old_run.empty()) << d->proc().stderr_text();
  ASSERT_TRUE(settled()) << d->proc().stderr_text();  // its copy is whole and synced
  const std::string link = dir_.file("sample-link.bin");
  ASSERT_EQ(::link(sample_.c_str(), link.c_str()), 0) << std::strerror(errno);
  write_dump(link, layers, 1.5f);  // O_TRUNC, same records, other values
  write_dump(bench_, layers, 1.0f);

  // Settled: every layer compared from the copies, or lost when a look saw
  // the file start over before that layer was handed out (a slow machine).
  std::uint64_t compared = 0, lost = 0, pending = 0;
  ASSERT_TRUE(wait_until([&] {
    coverage_of(dir_.file("sock"), old_run, compared, lost, pending);
    return compared + lost == layers && pending == 0 &&
           last_layers(d->events(), old_run).size() == compared;
  })) << read_file(d->events_path());
  EXPECT_GT(compared, 0u) << read_file(d->events_path());
  expect_layers_match(d->events(), old_run, offline_layers(old_copy, bench_));
  stop(*d);
}

// The old run's layers wait for the benchmark, and its file starts over
// before the benchmark comes: they can never be compared, and say why
// (they used to say "waiting for a benchmark layer", which no benchmark
// could end). With `hold_copier` the run's copy is still being made when
// its file starts over (the archive's copier is held by its test hook
// until then): its layers are found lost only once the copy is final,
// after the reset, and that is announced too (the run used to keep its
// stale "8 waiting" beside "8 lost", and no run_revised said so: CI saw
// it on a loaded machine).
void MovedSample::waiting_layers_are_lost(bool hold_copier) {
  constexpr int layers = 8;
  const std::string hold = dir_.file("hold");
  if (hold_copier) write_file(hold, "");
  auto d = start({}, {"SIGDUMP_ARCHIVE_TEST_HOLD=" + hold});
  write_dump(sample_, layers, 1.01f);
  const std::string old_run = d->wait_event([&](const logged_event& e) {
                                 return e.event == "run_end" && e.path == sample_;
                               }).run;
  ASSERT_FALSE(old_run.empty()) << d->proc().stderr_text();
  write_dump(sample_, layers, 1.5f);  // O_TRUNC: the old run is reset
  ASSERT_FALSE(d->wait_event([&](const logged_event& e) {
                  return e.event == "run_start" && e.path == sample_ && e.run != old_run;
                }).run.empty())
      << read_file(d->events_path());
  if (hold_copier) std::filesystem::remove(hold);
  write_dump(bench_, layers, 1.0f);
  ASSERT_TRUE(settled()) << d->proc().stderr_text();

  std::uint64_t compared = 9, lost = 0, pending = 9;
  const std::string text = coverage_of(dir_.file("sock"), old_run, compared, lost, pending);
  EXPECT_EQ(compared, 0u) << text;
  EXPECT_EQ(lost, static_cast<std::uint64_t>(layers)) << text;
  EXPECT_EQ(pending, 0u) << text;
  EXPECT_EQ(text,
            "0 of 8 sample layers compared, 8 lost: the file was started over before they "
            "were compared");
  EXPECT_TRUE(last_layers(d->events(), old_run).empty()) << read_file(d->events_path());
  // Its run_end said 8 waiting; the run_revised that follows, 8 lost.
  ASSERT_TRUE(wait_until([&] {
    return !first_event_line(d->events_path(), "run_revised", "run", old_run).empty();
  })) << read_file(d->events_path());
  const std::string revised = first_event_line(d->events_path(), "run_revised", "run", old_run);
  EXPECT_NE(revised.find("\"pending\":0"), std::string::npos) << revised;
  EXPECT_NE(revised.find("\"lost\":8"), std::string::npos) << revised;
  EXPECT_NE(revised.find("\"verdict\":\"nothing_compared\""), std::string::npos) << revised;
  stop(*d);
}

TEST_P(MovedSample, LayersWaitingWhenTheirFileStartedOverAreLost) {
  waiting_layers_are_lost(false);
}

TEST_P(MovedSample, LayersWaitingWhenTheirFileStartedOverAreLostOnceTheirCopyIsFinal) {
  waiting_layers_are_lost(true);
}

INSTANTIATE_TEST_SUITE_P(Loops, MovedSample, ::testing::Values("io_uring", "epoll"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
}  // namespace sigdump::testing
