// sigdumpd end to end: a real daemon, real writer processes, events read
// back from --events-log. Every live test runs under both event loops.
// Start-up (options, configuration files, reload): sigdumpd_startup_test.cpp.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "daemon_support.h"
#include "ipc_test_client.h"
#include "pair_daemon_support.h"
#include "sigdump/ipc/unique_fd.h"

namespace sigdump::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

bool is_reset_reason(const std::string& r) {
  return r == "truncated" || r == "rewritten" || r == "replaced";
}

std::vector<logged_event> layers_of(const std::vector<logged_event>& evs, const std::string& run) {
  std::vector<logged_event> out;
  for (const auto& e : evs) {
    if (e.event == "layer" && e.run == run) out.push_back(e);
  }
  return out;
}

class Sigdumpd : public ::testing::TestWithParam<std::string> {
 protected:
  std::string loop() const { return GetParam() == "epoll" ? "epoll" : ""; }
  std::string simulate(const std::string& mode, const std::string& out, int pace_ms = 0) {
    auto r = run({bin_path("sigdump"), "simulate", "--mode", mode, "--out", out, "--pace-ms",
                  std::to_string(pace_ms)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return out;
  }
  // A dump of one small layer at `target`, its writer closed.
  static void write_one_layer(const std::string& target) {
    auto w = dump_writer::create(target);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write(spec_of("a", 16), ramp(16, 1.0f)));
  }
  static logged_event run_start_of(test_daemon& d, const std::string& target) {
    return d.wait_event(
        [&](const logged_event& e) { return e.event == "run_start" && e.path == target; });
  }
  temp_dir dir_;
};

TEST_P(Sigdumpd, LiveLayersArriveInOrderAndEqualOfflineCompare) {
  fs::create_directories(dir_.file("w"));
  std::string fixed = dir_.file("w") + "/fixed.bin";
  std::string flt = simulate("float", dir_.file("w") + "/float.bin");
  test_daemon d(dir_, {"--watch", dir_.file("w"), "--pair", "fx:" + fixed + "=" + flt}, loop());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  if (GetParam() == "epoll") {
    EXPECT_NE(d.proc().stderr_text().find("event loop: epoll"), std::string::npos);
  }
  simulate("fixed", fixed, 2);
  auto start = d.wait_event(
      [&](const logged_event& e) { return e.event == "run_start" && e.path == fixed; });
  ASSERT_EQ(start.pair, "fx");
  auto end = d.wait_event(
      [&](const logged_event& e) { return e.event == "run_end" && e.run == start.run; });
  ASSERT_EQ(end.event, "run_end") << d.proc().stderr_text();
  auto live = layers_of(d.events(), start.run);
  auto offline = offline_layers(fixed, flt);
  ASSERT_FALSE(offline.empty());
  ASSERT_EQ(live.size(), offline.size());
  for (std::size_t i = 0; i < live.size(); ++i) {
    EXPECT_EQ(live[i].index, static_cast<std::int64_t>(i)) << "layers out of order";
    EXPECT_EQ(live[i].layer, offline[i]) << "layer " << i;
  }
  // run_end comes after its layers.
  auto all = d.events();
  std::size_t last_layer = 0, end_pos = 0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (all[i].event == "layer" && all[i].run == start.run) last_layer = i;
    if (all[i].event == "run_end" && all[i].run == start.run) end_pos = i;
  }
  EXPECT_LT(last_layer, end_pos);
}

TEST_P(Sigdumpd, RewritingTheFileStartsANewRun) {
  fs::create_directories(dir_.file("w"));
  std::string fixed = dir_.file("w") + "/fixed.bin";
  std::string flt = simulate("float", dir_.file("w") + "/float.bin");
  simulate("fixed", fixed);
  test_daemon d(dir_, {"--watch", dir_.file("w"), "--pair", "fx:" + fixed + "=" + flt}, loop());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  auto first =
      d.wait_event([&](const logged_event& e) { return e.event == "run_end" && e.path == fixed; });
  ASSERT_EQ(first.event, "run_end");
  // The simulator truncates and writes the file again.
  simulate("fixed", fixed, 1);
  auto reset = d.wait_event(
      [&](const logged_event& e) { return e.event == "run_reset" && e.path == fixed; });
  ASSERT_EQ(reset.event, "run_reset") << d.proc().stderr_text();
  EXPECT_EQ(reset.previous, first.run);
  EXPECT_NE(reset.run, first.run);
  EXPECT_TRUE(is_reset_reason(reset.reason)) << reset.reason;
  auto end = d.wait_event(
      [&](const logged_event& e) { return e.event == "run_end" && e.run == reset.run; });
  ASSERT_EQ(end.event, "run_end");
  // The finished run's results are kept, the new run has all its layers.
  auto evs = d.events();
  EXPECT_EQ(layers_of(evs, reset.run).size(), offline_layers(fixed, flt).size());
  EXPECT_FALSE(layers_of(evs, first.run).empty());
}

TEST_P(Sigdumpd, RenameOntoThePathIsAReplacement) {
  fs::create_directories(dir_.file("w"));
  fs::create_directories(dir_.file("staging"));
  std::string target = dir_.file("w") + "/net_outtensor_dump.bin";
  ASSERT_NO_FATAL_FAILURE(write_one_layer(target));
  test_daemon d(dir_, {"--watch", dir_.file("w")}, loop());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  auto first = run_start_of(d, target);
  ASSERT_EQ(first.event, "run_start");
  std::string staged = dir_.file("staging") + "/next.bin";
  {
    auto w = dump_writer::create(staged);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write(spec_of("b", 16), ramp(16, 2.0f)));
    ASSERT_TRUE(w->write(spec_of("c", 16), ramp(16, 3.0f)));
  }
  ASSERT_EQ(::rename(staged.c_str(), target.c_str()), 0);
  auto reset = d.wait_event(
      [&](const logged_event& e) { return e.event == "run_reset" && e.path == target; });
  ASSERT_EQ(reset.event, "run_reset");
  EXPECT_EQ(reset.reason, "replaced");
  EXPECT_EQ(reset.previous, first.run);
}

TEST_P(Sigdumpd, DeletionMidRunEndsTheRun) {
  fs::create_directories(dir_.file("w"));
  std::string target = dir_.file("w") + "/sigma_outtensor_dump.bin";
  test_daemon d(dir_, {"--watch", dir_.file("w")}, loop());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  {
    auto w = dump_writer::create(target);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write(spec_of("a", 4096), ramp(4096, 1.0f)));
    // Half a record: the writer is in the middle of it.
    std::string next = dump_writer::render({}, spec_of("b", 4096), ramp(4096, 1.0f));
    ASSERT_TRUE(w->append_bytes(std::string_view(next).substr(0, next.size() / 2)));
    auto start = d.wait_event(
        [&](const logged_event& e) { return e.event == "run_start" && e.path == target; });
    ASSERT_EQ(start.event, "run_start");
    ASSERT_EQ(::unlink(target.c_str()), 0);
    auto end = d.wait_event(
        [&](const logged_event& e) { return e.event == "run_end" && e.run == start.run; });
    ASSERT_EQ(end.event, "run_end");
    EXPECT_EQ(end.reason, "deleted");
    // The writer goes on writing into the unlinked file: nothing breaks.
    ASSERT_TRUE(w->append_bytes(std::string_view(next).substr(next.size() / 2)));
  }
  // Created again: a new run.
  ASSERT_NO_FATAL_FAILURE(write_one_layer(target));
  auto again = d.wait_event([&](const logged_event& e) {
    return e.event == "run_start" && e.path == target && e.reason == "created";
  });
  EXPECT_EQ(again.event, "run_start");
  EXPECT_TRUE(d.proc().alive());
}

TEST_P(Sigdumpd, FolderCreatedAfterStartIsPickedUp) {
  std::string later = dir_.file("later") + "/deep/out";
  test_daemon d(dir_, {"--watch", later}, loop());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  fs::create_directories(dir_.file("later"));
  // The test's input, not a wait for the daemon: the folders appear in two
  // steps a moment apart (a simulator making its output path); the daemon
  // must pick the dump up whatever the gap.
  std::this_thread::sleep_for(20ms);
  fs::create_directories(later);
  std::string target = later + "/sigma_outtensor_dump.bin";
  ASSERT_NO_FATAL_FAILURE(write_one_layer(target));
  EXPECT_EQ(run_start_of(d, target).event, "run_start") << d.proc().stderr_text();
}

// A simulator creates its output folder and writes the dump into it at
// once: every one of them is found, however the creation races the watches.
TEST_P(Sigdumpd, FoldersCreatedWithTheirDumpAtOnceAreAllPickedUp) {
  constexpr int folders = 24;
  std::vector<std::string> args;
  for (int i = 0; i < folders; ++i) {
    args.push_back("--watch");
    args.push_back(dir_.file("sim" + std::to_string(i)) + "/deep/out");
  }
  test_daemon d(dir_, args, loop());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  std::set<std::string> targets;
  for (int i = 0; i < folders; ++i) {
    const std::string out = dir_.file("sim" + std::to_string(i)) + "/deep/out";
    fs::create_directories(out);
    const std::string target = out + "/sigma_outtensor_dump.bin";
    ASSERT_NO_FATAL_FAILURE(write_one_layer(target));
    targets.insert(target);
  }
  std::set<std::string> seen;
  wait_until([&] {
    for (const auto& e : d.events()) {
      if (e.event == "run_start") seen.insert(e.path);
    }
    return seen.size() == targets.size();
  });
  for (const auto& t : targets) EXPECT_TRUE(seen.contains(t)) << t << " has no run_start";
}

// A folder inotify never reports (made on a file system mounted over the
// watched parent: its events go to the covered folder) is found by the stat
// timer, and the dump already in it is read.
TEST_P(Sigdumpd, FolderInotifyMissedIsFoundByTheStatTimer) {
  const std::string parent = dir_.file("m");
  const std::string out = parent + "/out";
  fs::create_directories(parent);
  test_daemon d(dir_, {"--watch", out}, loop());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  if (::mount("sigdump-test", parent.c_str(), "tmpfs", 0, "size=1m,mode=0700") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs over the watched folder: " << std::strerror(errno);
  }
  struct unmount {
    std::string at;
    ~unmount() { ::umount2(at.c_str(), MNT_DETACH); }
  } cleanup{parent};
  fs::create_directories(out);
  const std::string target = out + "/sigma_outtensor_dump.bin";
  ASSERT_NO_FATAL_FAILURE(write_one_layer(target));
  EXPECT_EQ(run_start_of(d, target).event, "run_start") << d.proc().stderr_text();
}

TEST_P(Sigdumpd, DebugConfigPathAddsAFolder) {
  fs::create_directories(dir_.file("w"));
  fs::create_directories(dir_.file("sim-out"));
  write_file(dir_.file("w") + "/DebugConfig.txt",
             "dumpTensor\neliminateGarbage\npath=" + dir_.file("sim-out") + "\n");
  test_daemon d(dir_, {"--watch", dir_.file("w")}, loop());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  std::string target = dir_.file("sim-out") + "/sigma_outtensor_dump.bin";
  ASSERT_NO_FATAL_FAILURE(write_one_layer(target));
  EXPECT_EQ(run_start_of(d, target).event, "run_start") << d.proc().stderr_text();
}

TEST_P(Sigdumpd, TruncationInsideMappedRecordsNeverCrashes) {
  fs::create_directories(dir_.file("w"));
  const std::int64_t n = 256 * 1024;  // 1 MiB payloads
  std::string bench = dir_.file("bench.bin");
  std::string sample = dir_.file("w") + "/s_outtensor_dump.bin";
  {
    auto w = dump_writer::create(bench);
    ASSERT_TRUE(w);
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE(w->write(spec_of(std::string("t") + std::to_string(i), n, i),
                           ramp(static_cast<std::size_t>(n), 1.0f)));
    }
  }
  test_daemon d(dir_, {"--watch", dir_.file("w"), "--pair", "p:" + sample + "=" + bench}, loop());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  for (int round = 0; round < 6; ++round) {
    {
      auto w = dump_writer::create(sample);
      ASSERT_TRUE(w);
      for (int i = 0; i < 4; ++i) {
        ASSERT_TRUE(w->write(spec_of(std::string("t") + std::to_string(i), n, i),
                             ramp(static_cast<std::size_t>(n), 1.001f)));
      }
    }
    // Cut inside the second record's payload while the daemon reads it: the
    // test's input, a different moment each round, not a wait for the daemon.
    std::this_thread::sleep_for(std::chrono::milliseconds(round * 7));
    ASSERT_EQ(::truncate(sample.c_str(), static_cast<off_t>(n * 4 + n * 2)), 0);
  }
  // It is still there and still tracks the file.
  auto last = d.wait_event([&](const logged_event& e) {
    return (e.event == "run_reset" || e.event == "run_start") && e.path == sample;
  });
  EXPECT_FALSE(last.event.empty());
  // Alive once it has looked at the file as the last cut left it.
  const auto cut = static_cast<std::uint64_t>(n * 4 + n * 2);
  EXPECT_TRUE(wait_until([&] {
    auto t = tracked_file_status(dir_.file("sock"), sample);
    return (t && t->bytes == cut) || !d.proc().alive();
  })) << d.proc().stderr_text();
  EXPECT_TRUE(d.proc().alive()) << d.proc().stderr_text();
  EXPECT_EQ(d.proc().stderr_text().find("SIGBUS"), std::string::npos);
}

// A tracked file cut far below its last record: the look that sees it
// hashes the tail of its records (did a rewrite outrun the looks?) through
// the old mapping, whose pages past the new end are gone. Deterministic:
// every look at a file shorter than what was parsed reads that tail, so
// without the guard around the hash the daemon dies of SIGBUS here.
TEST_P(Sigdumpd, CutBelowTheTailHashNeverCrashes) {
  fs::create_directories(dir_.file("w"));
  const std::int64_t n = 16 * 1024;  // 64 KiB payloads: the tail is pages past the cut
  const std::string sample = dir_.file("w") + "/s_outtensor_dump.bin";
  test_daemon d(dir_, {"--watch", dir_.file("w")}, loop());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  {
    auto w = dump_writer::create(sample);
    ASSERT_TRUE(w);
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(w->write(spec_of(std::string("t") + std::to_string(i), n, i),
                           ramp(static_cast<std::size_t>(n), 1.0f)));
    }
  }
  const auto full = static_cast<std::uint64_t>(fs::file_size(sample));
  ASSERT_TRUE(wait_until([&] {
    auto t = tracked_file_status(dir_.file("sock"), sample);
    return (t && t->bytes == full) || !d.proc().alive();
  })) << d.proc().stderr_text();
  ASSERT_TRUE(d.proc().alive()) << d.proc().stderr_text();
  const off_t cut = 100;  // inside record 0's header: the tail is 190 KiB away
  ASSERT_EQ(::truncate(sample.c_str(), cut), 0);
  EXPECT_TRUE(wait_until([&] {
    auto t = tracked_file_status(dir_.file("sock"), sample);
    return (t && t->bytes == static_cast<std::uint64_t>(cut)) || !d.proc().alive();
  })) << d.proc().stderr_text();
  EXPECT_TRUE(d.proc().alive()) << d.proc().stderr_text();
  EXPECT_EQ(d.proc().stderr_text().find("SIGBUS"), std::string::npos);
}

TEST_P(Sigdumpd, RestartMidRunKeepsRunsAndNumbering) {
  fs::create_directories(dir_.file("w"));
  std::string bench = dir_.file("bench.bin");
  std::string sample = dir_.file("w") + "/s_outtensor_dump.bin";
  {
    auto w = dump_writer::create(bench);
    ASSERT_TRUE(w);
    for (int i = 0; i < 4; ++i)
      ASSERT_TRUE(w->write(spec_of(std::string("t") + std::to_string(i), 64, i), ramp(64, 1.0f)));
  }
  auto w = dump_writer::create(sample);
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->write(spec_of("t0", 64, 0), ramp(64, 1.01f)));
  ASSERT_TRUE(w->write(spec_of("t1", 64, 1), ramp(64, 1.01f)));
  std::string first_run;
  {
    test_daemon d(dir_, {"--watch", dir_.file("w"), "--pair", "p:" + sample + "=" + bench}, loop());
    ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
    auto l =
        d.wait_event([&](const logged_event& e) { return e.event == "layer" && e.index == 1; });
    ASSERT_EQ(l.event, "layer");
    first_run = l.run;
    // Its log is written off the loop, after the layer's event.
    EXPECT_TRUE(wait_until([&] {
      auto flags = persisted_runs(dir_.file("sock"));
      return flags.contains(first_run) && flags[first_run];
    }));
    // A crash: no chance to write anything more.
    d.proc().signal(SIGKILL);
    d.proc().wait();
  }
  ASSERT_TRUE(fs::exists(dir_.file("state") + "/runs/" + first_run + ".ndjson"));
  ASSERT_TRUE(w->write(spec_of("t2", 64, 2), ramp(64, 1.01f)));
  test_daemon d2(dir_, {"--watch", dir_.file("w"), "--pair", "p:" + sample + "=" + bench}, loop());
  ASSERT_TRUE(d2.wait_ready()) << d2.proc().stderr_text();
  EXPECT_NE(d2.proc().stderr_text().find("runs from"), std::string::npos);
  auto start = d2.wait_event(
      [&](const logged_event& e) { return e.event == "run_start" && e.path == sample; });
  ASSERT_EQ(start.event, "run_start");
  EXPECT_GT(std::stoull(start.run.substr(1)), std::stoull(first_run.substr(1)));
  // The resumed file is indexed from the start: all three layers.
  auto l2 = d2.wait_event([&](const logged_event& e) {
    return e.event == "layer" && e.run == start.run && e.index == 2;
  });
  EXPECT_EQ(l2.event, "layer");
  // A clean stop: exit 0, lock released (the file stays: see lock_file.cpp),
  // old logs kept.
  ASSERT_TRUE(d2.proc().signal(SIGTERM));
  EXPECT_EQ(d2.proc().wait(), 0) << d2.proc().stderr_text();
  {
    ipc::unique_fd lock(::open((dir_.file("state") + "/sigdumpd.lock").c_str(), O_RDWR));
    ASSERT_TRUE(lock);
    EXPECT_EQ(::flock(lock.get(), LOCK_EX | LOCK_NB), 0);
  }
  EXPECT_TRUE(fs::exists(dir_.file("state") + "/runs/" + first_run + ".ndjson"));
}

INSTANTIATE_TEST_SUITE_P(Loops, Sigdumpd, ::testing::Values("io_uring", "epoll"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
}  // namespace sigdump::testing
