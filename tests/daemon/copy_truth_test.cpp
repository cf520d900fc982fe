// A run's results are what `sigdump compare` gives on its archived copies
// (issue 15), against a real sigdumpd under both event loops: the
// benchmark-only count follows the benchmark run to its end (the count at
// the sample's run_end saw the benchmark as it was then), a copier that
// lags behind the comparisons still leaves the copy holding what they
// read, and a run whose file was renamed over before its copy began is
// copied from its own file.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "pair_daemon_support.h"

namespace sigdump::testing {
namespace {

class CopyTruth : public PairDaemonTest {
 protected:
  void benchmark_only_follows(bool sample_started_over);
  // Run `run` (`got` as listed) and its benchmark run have copies; compare
  // on them gives `layers` layers, those the run published among them,
  // and no copy is marked short.
  void expect_run_matches_its_copies(test_daemon& d, const std::string& run, const listed_run& got,
                                     int layers) {
    const listed_run bench_run = list_runs(dir_.file("sock"))[got.benchmark_run];
    ASSERT_FALSE(bench_run.copy.empty());
    const auto offline = offline_layers(got.copy, bench_run.copy);
    EXPECT_EQ(offline.size(), static_cast<std::size_t>(layers));
    expect_layers_match(d.events(), run, offline);
    EXPECT_EQ(sigdump("runs").out.find("short"), std::string::npos) << sigdump("runs").out;
  }
};

// `sigdump compare --json SAMPLE BENCH`'s benchmark-only count.
std::uint64_t offline_benchmark_only(const std::string& sample, const std::string& bench) {
  auto r = run({bin_path("sigdump"), "compare", "--json", sample, bench});
  EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.err;
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  std::uint64_t n = ~std::uint64_t{0};
  if (p.parse(r.out).get(doc) || doc["coverage"]["benchmark_only"].get_uint64().get(n)) {
    ADD_FAILURE() << "no coverage in: " << r.out << r.err;
  }
  return n;
}

// The sample ends (closed) while its benchmark is still being written; the
// benchmark then writes layers no sample layer matches, and ends. The
// sample run's outcome must count them, as compare on the two archived
// copies does: a run_revised says so (the count used to stay the one taken
// at run_end, from the benchmark as it was then). With sample_started_over,
// the sample is written again before that (its run is reset after its
// run_end), which must not keep its count from being revised.
void CopyTruth::benchmark_only_follows(bool sample_started_over) {
  constexpr int layers = 4;
  auto d = start();
  auto bw = dump_writer::create(bench_);
  ASSERT_TRUE(bw);
  for (int i = 0; i < layers; ++i) {
    ASSERT_TRUE(bw->write(spec_of("net/l" + std::to_string(i), 256, i), ramp(256, 1.0f)));
  }
  write_dump(sample_, layers, 1.01f);
  const std::string sample_run = d->wait_event([&](const logged_event& e) {
                                    return e.event == "run_end" && e.path == sample_;
                                  }).run;
  ASSERT_FALSE(sample_run.empty()) << read_file(d->events_path());
  EXPECT_EQ(list_runs(dir_.file("sock"))[sample_run].benchmark_only, 0u);
  if (sample_started_over) {
    write_dump(sample_, layers, 1.5f);  // O_TRUNC
    ASSERT_FALSE(d->wait_event([&](const logged_event& e) {
                    return e.event == "run_end" && e.path == sample_ && e.run != sample_run;
                  }).run.empty())
        << read_file(d->events_path());
  }
  // Three benchmark layers without a sample layer, then the benchmark ends.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        bw->write(spec_of("net/extra" + std::to_string(i), 64, layers + i), ramp(64, 1.0f)));
  }
  ASSERT_TRUE(bw->close());
  ASSERT_TRUE(settled()) << d->proc().stderr_text();
  listed_run got;
  EXPECT_TRUE(wait_until([&] {
    got = list_runs(dir_.file("sock"))[sample_run];
    return got.benchmark_only == 3;
  })) << got.benchmark_only
      << "\n"
      << read_file(d->events_path());
  const listed_run bench_run = list_runs(dir_.file("sock"))[got.benchmark_run];
  ASSERT_FALSE(got.copy.empty());
  ASSERT_FALSE(bench_run.copy.empty());
  EXPECT_EQ(got.benchmark_only, offline_benchmark_only(got.copy, bench_run.copy));
  EXPECT_TRUE(wait_until([&] {
    for (const auto& e : d->events()) {
      if (e.event == "run_revised" && e.run == sample_run) return true;
    }
    return false;
  })) << read_file(d->events_path());
  stop(*d);
}

TEST_P(CopyTruth, BenchmarkOnlyCountFollowsTheBenchmarkRunToItsEnd) {
  benchmark_only_follows(false);
}

TEST_P(CopyTruth, BenchmarkOnlyCountOfARunResetAfterItsEndFollowsTheBenchmarkRun) {
  benchmark_only_follows(true);
}

// The copier lags (held by the test hook SIGDUMP_ARCHIVE_TEST_HOLD) while
// the run is read and compared, and the file is started over before it
// gets there: the workers that compared the layers filled the copy with
// what they read, so the copy holds every layer the run compared, and
// `sigdump compare` on it gives the run's layers (the copy used to be cut
// short, or to hold the next write's bytes, which the copier found in the
// file when it got there).
TEST_P(CopyTruth, ACopierThatLagsLeavesTheCopyHoldingWhatTheRunCompared) {
  constexpr int layers = 8;
  const std::string hold = dir_.file("hold");
  write_file(hold, "");
  auto a = args();
  auto d = std::make_unique<test_daemon>(
      dir_, a, loop(), "state", std::vector<std::string>{"SIGDUMP_ARCHIVE_TEST_HOLD=" + hold});
  ASSERT_TRUE(d->wait_ready()) << d->proc().stderr_text();
  write_dump(bench_, layers, 1.0f);
  write_dump(sample_, layers, 1.01f);
  const std::string run = d->wait_event([&](const logged_event& e) {
                             return e.event == "run_end" && e.path == sample_;
                           }).run;
  ASSERT_FALSE(run.empty()) << read_file(d->events_path());
  ASSERT_EQ(last_layers(d->events(), run).size(), static_cast<std::size_t>(layers));
  // The next run, shorter, before the copier got to the first.
  write_dump(sample_, layers / 2, 1.5f);
  ASSERT_TRUE(d->wait_event([&](const logged_event& e) {
                 return e.event == "run_end" && e.path == sample_ && e.run != run;
               }).run.size() > 0)
      << read_file(d->events_path());
  fs::remove(hold);
  ASSERT_TRUE(settled()) << d->proc().stderr_text();
  const listed_run got = list_runs(dir_.file("sock"))[run];
  ASSERT_FALSE(got.copy.empty());
  expect_run_matches_its_copies(*d, run, got, layers);
  stop(*d);
}

// A writer renames file after file onto the sample's path: a run started by
// one rename finds the next file there already when its copy begins (the
// daemon is held, by the test hook SIGDUMP_ARCHIVE_TEST_OPEN_HOLD, between
// reading the run's file and opening it for its copy, while the next file
// is renamed over it). The run reads and compares its own inode, and its
// copy holds that inode's bytes: `sigdump compare` on it gives the layers
// the run published (such a run used to get no copy at all, said nowhere
// but in a debug line).
TEST_P(CopyTruth, RunWhoseFileWasRenamedOverBeforeItsCopyBeganIsCopiedFromItsOwnFile) {
  constexpr int layers = 6;
  const std::string hold = dir_.file("hold");
  auto d = start({}, {"SIGDUMP_ARCHIVE_TEST_OPEN_HOLD=" + hold});
  write_dump(bench_, layers, 1.0f);
  ASSERT_TRUE(settled()) << d->proc().stderr_text();
  write_file(hold, "");
  const std::string tmp = dir_.file("next.tmp");  // unwatched, same filesystem
  write_dump(tmp, layers, 1.01f);
  fs::rename(tmp, sample_);
  ASSERT_TRUE(wait_until([&] {
    return d->proc().stderr_text().find("test hold before opening " + sample_) != std::string::npos;
  })) << d->proc().stderr_text();
  write_dump(tmp, layers / 2, 1.5f);  // the next run, other values, fewer layers
  fs::rename(tmp, sample_);
  fs::remove(hold);
  const std::string run = d->wait_event([&](const logged_event& e) {
                             return e.event == "run_end" && e.path == sample_;
                           }).run;
  ASSERT_FALSE(run.empty()) << read_file(d->events_path());
  ASSERT_TRUE(d->wait_event([&](const logged_event& e) {
                 return e.event == "run_end" && e.path == sample_ && e.run != run;
               }).run.size() > 0)
      << read_file(d->events_path());
  ASSERT_TRUE(settled()) << sigdump("runs").out << d->proc().stderr_text();
  EXPECT_NE(d->proc().stderr_text().find(run + ": " + sample_ + " was replaced before its copy"),
            std::string::npos)
      << d->proc().stderr_text();
  const listed_run got = list_runs(dir_.file("sock"))[run];
  EXPECT_EQ(got.end_reason, "replaced");
  ASSERT_FALSE(got.copy.empty()) << sigdump("runs").out << d->proc().stderr_text();
  // The old inode's layers (the next file has fewer); those the run
  // published (a slow daemon may lose some to the rename) are compare's.
  expect_run_matches_its_copies(*d, run, got, layers);
  stop(*d);
}

// The copies of daemon `pid`'s runs it has mapped: the paths under `dir`
// in /proc/PID/maps.
std::set<std::string> mapped_copies(pid_t pid, const std::string& dir) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::set<std::string> out;
  for (std::string line; std::getline(maps, line);) {
    if (auto at = line.find(dir + "/"); at != std::string::npos) out.insert(line.substr(at));
  }
  return out;
}

// Each ended run of the sample is queried from its copy (the file holds
// the next run): the daemon keeps the copy open for the next query while
// it keeps the run. A run dropped past keep_runs lets its copy go, so the
// copies held open, and the memory their mappings take, are bounded by
// keep_runs however many runs were queried (they used to stay mapped for
// good: the daemon's RSS grew with every run queried, 9 MiB per 100 runs
// of the rewrite soak).
TEST_P(CopyTruth, CopiesOfRunsDroppedPastKeepRunsAreLetGo) {
  constexpr int keep = 3, runs = 10;
  auto d = start({"--keep-runs", std::to_string(keep)});
  write_dump(bench_, 2, 1.0f);
  raw_client c(dir_.file("sock"));
  ASSERT_TRUE(c.connected());
  std::set<std::string> seen;
  std::string previous;
  for (int i = 0; i < runs; ++i) {
    {
      auto w = dump_writer::create(sample_);  // O_TRUNC: seen as a new run before it is written
      ASSERT_TRUE(w);
      ASSERT_FALSE(d->wait_event([&](const logged_event& e) {
                      return e.event == "run_start" && e.path == sample_ && !seen.contains(e.run);
                    }).run.empty())
          << read_file(d->events_path());
      for (int l = 0; l < 2; ++l) {
        ASSERT_TRUE(w->write(spec_of("net/l" + std::to_string(l), 256, l),
                             ramp(256, 2.0f + static_cast<float>(i))));
      }
    }
    const std::string run =
        d->wait_event([&](const logged_event& e) {
           return e.event == "run_end" && e.path == sample_ && !seen.contains(e.run);
         }).run;
    ASSERT_FALSE(run.empty()) << read_file(d->events_path());
    seen.insert(run);
    if (!previous.empty()) {
      auto m = c.call("tensor", R"({"run":")" + previous + R"(","name":"net/l0"})");
      ASSERT_NE(m.result.find(R"("source":"archive")"), std::string::npos) << m.raw;
    }
    previous = run;
  }
  std::set<std::string> mapped;
  EXPECT_TRUE(wait_until([&] {
    mapped = mapped_copies(d->proc().pid(), arch_);
    return mapped.size() <= static_cast<std::size_t>(keep);
  })) << mapped.size()
      << " copies mapped, " << keep << " runs kept";
  stop(*d);
}

INSTANTIATE_TEST_SUITE_P(Loops, CopyTruth, ::testing::Values("io_uring", "epoll"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
}  // namespace sigdump::testing
