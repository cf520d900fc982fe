// sigdumpd end to end: a real daemon, real writer processes, events read
// back from --events-log. Every live test runs under both event loops.
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
  {
    auto w = dump_writer::create(target);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write(spec_of("a", 16), ramp(16, 1.0f)));
  }
  test_daemon d(dir_, {"--watch", dir_.file("w")}, loop());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  auto first = d.wait_event(
      [&](const logged_event& e) { return e.event == "run_start" && e.path == target; });
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
  {
    auto w = dump_writer::create(target);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write(spec_of("a", 16), ramp(16, 1.0f)));
  }
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
  {
    auto w = dump_writer::create(target);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write(spec_of("a", 16), ramp(16, 1.0f)));
  }
  auto start = d.wait_event(
      [&](const logged_event& e) { return e.event == "run_start" && e.path == target; });
  EXPECT_EQ(start.event, "run_start") << d.proc().stderr_text();
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
    auto w = dump_writer::create(target);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write(spec_of("a", 16), ramp(16, 1.0f)));
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
  {
    auto w = dump_writer::create(target);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write(spec_of("a", 16), ramp(16, 1.0f)));
  }
  auto start = d.wait_event(
      [&](const logged_event& e) { return e.event == "run_start" && e.path == target; });
  EXPECT_EQ(start.event, "run_start") << d.proc().stderr_text();
}

TEST_P(Sigdumpd, DebugConfigPathAddsAFolder) {
  fs::create_directories(dir_.file("w"));
  fs::create_directories(dir_.file("sim-out"));
  write_file(dir_.file("w") + "/DebugConfig.txt",
             "dumpTensor\neliminateGarbage\npath=" + dir_.file("sim-out") + "\n");
  test_daemon d(dir_, {"--watch", dir_.file("w")}, loop());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  std::string target = dir_.file("sim-out") + "/sigma_outtensor_dump.bin";
  {
    auto w = dump_writer::create(target);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write(spec_of("a", 16), ramp(16, 1.0f)));
  }
  auto start = d.wait_event(
      [&](const logged_event& e) { return e.event == "run_start" && e.path == target; });
  EXPECT_EQ(start.event, "run_start") << d.proc().stderr_text();
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

// ---------------------------------------------------------------- start-up

// `sigdumpd --cos-min 2` was accepted and made every layer suspect; a
// threshold no metric can reach is refused, on the command line and in the
// file, with the value named.
TEST(SigdumpdStartup, ThresholdsOutOfRangeAreRefused) {
  temp_dir dir;
  const std::vector<std::string> env{"XDG_CONFIG_HOME=" + dir.file("no-config")};
  const auto start = [&](std::vector<std::string> more) {
    std::vector<std::string> argv{bin_path("sigdumpd"), "--foreground", "--state-dir",
                                  dir.file("state"),    "--socket",     dir.file("sock")};
    argv.insert(argv.end(), more.begin(), more.end());
    return run(argv, {}, env, std::chrono::seconds(20));
  };
  auto cos = start({"--cos-min", "2"});
  EXPECT_EQ(cos.exit_code, 2);
  EXPECT_NE(cos.err.find("--cos-min: 2 is out of range: COS lies in [-1, 1]"), std::string::npos)
      << cos.err;
  auto rmse = start({"--rmse-max=-0.5"});
  EXPECT_EQ(rmse.exit_code, 2);
  EXPECT_NE(rmse.err.find("--rmse-max: -0.5 is out of range"), std::string::npos) << rmse.err;
  write_file(dir.file("config.json"), R"({"cos_min": 1.5})");
  auto file = start({"--config", dir.file("config.json")});
  EXPECT_EQ(file.exit_code, 2);
  EXPECT_NE(file.err.find("cos_min: 1.5 is out of range"), std::string::npos) << file.err;
}

// --pair values that cannot mean what the user wants are refused with the
// value quoted; accepted ones are logged with their absolute paths.
TEST(SigdumpdStartup, PairValuesAreCheckedAndLoggedAbsolute) {
  temp_dir dir;
  const std::vector<std::string> env{"XDG_CONFIG_HOME=" + dir.file("no-config")};
  const auto start = [&](const std::string& pair) {
    return run({bin_path("sigdumpd"), "--foreground", "--state-dir", dir.file("state"), "--socket",
                dir.file("sock"), "--pair", pair},
               {}, env, std::chrono::seconds(20));
  };
  auto same = start("p:/d/x.bin=/d/x.bin");
  EXPECT_EQ(same.exit_code, 2);
  EXPECT_NE(
      same.err.find("the sample and the benchmark are the same file in 'p:/d/x.bin=/d/x.bin'"),
      std::string::npos)
      << same.err;
  auto nameless = start("/d/a.bin=/d/b.bin");
  EXPECT_EQ(nameless.exit_code, 2);
  EXPECT_NE(nameless.err.find("--pair '/d/a.bin=/d/b.bin' needs a name: --pair "
                              "NAME:/d/a.bin=/d/b.bin"),
            std::string::npos)
      << nameless.err;
  auto two = start("p:/d/a=1.bin=/d/b.bin");
  EXPECT_EQ(two.exit_code, 2);
  EXPECT_NE(two.err.find("more than one '=' in 'p:/d/a=1.bin=/d/b.bin'"), std::string::npos)
      << two.err;
  write_file(dir.file("config.json"),
             R"({"pairs":[{"name":"p","sample":"s.bin","benchmark":"s.bin"}]})");
  auto file = run({bin_path("sigdumpd"), "--foreground", "--state-dir", dir.file("state"),
                   "--socket", dir.file("sock"), "--config", dir.file("config.json")},
                  {}, env, std::chrono::seconds(20));
  EXPECT_EQ(file.exit_code, 2);
  EXPECT_NE(file.err.find("the sample and the benchmark are the same file"), std::string::npos)
      << file.err;

  test_daemon d(dir, {"--pair", "net:" + dir.file("s.bin") + "=" + dir.file("b.bin")}, "");
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  const std::string err = d.proc().stderr_text();
  EXPECT_NE(err.find("pair net: sample " + dir.file("s.bin") + ", benchmark " + dir.file("b.bin")),
            std::string::npos)
      << err;
  EXPECT_NE(err.find(", 1 pair ("), std::string::npos) << err;
}

TEST(SigdumpdStartup, SecondDaemonOnTheSameStateRefuses) {
  temp_dir dir;
  fs::create_directories(dir.file("w"));
  test_daemon first(dir, {"--watch", dir.file("w")}, "");
  ASSERT_TRUE(first.wait_ready()) << first.proc().stderr_text();
  auto r = run({bin_path("sigdumpd"), "--state-dir", dir.file("state"), "--socket",
                dir.file("sock2"), "--watch", dir.file("w")},
               {}, {"XDG_CONFIG_HOME=" + dir.file("no-config")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("sigdumpd.lock"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("pid " + std::to_string(first.proc().pid())), std::string::npos) << r.err;
  EXPECT_TRUE(first.proc().alive());
}

struct bad_config {
  const char* json;
  const char* expect;  // substring of the one error line
};

TEST(SigdumpdStartup, BadConfigurationIsOneClearLine) {
  temp_dir dir;
  const bad_config cases[] = {
      {R"({"watch":["/tmp"],"keep_run":3})", "keep_run: unknown key"},
      {R"({"watch":"/tmp"})", "watch: expected an array of paths, got a string"},
      {R"({"pairs":[{"sample":"a.bin"}]})", "pairs[0]: missing \"benchmark\""},
      {R"({"pairs":[{"name":"p","sample":"a","benchmark":"b","nmae":"x"}]})",
       "pairs[0].nmae: unknown key"},
      {R"({"quiet_ms":-5})", "quiet_ms: expected a non-negative integer"},
      {R"({"keep_runs":0})", "keep_runs: expected an integer in [1, 1000000], got 0"},
      {R"({"watch":[)", "not valid JSON"},
      {R"([1,2])", "expected an object"},
  };
  for (const auto& c : cases) {
    std::string cfg = dir.file("sigdumpd.json");
    write_file(cfg, c.json);
    auto r = run({bin_path("sigdumpd"), "--config", cfg, "--state-dir", dir.file("state")});
    EXPECT_EQ(r.exit_code, 2) << c.json;
    EXPECT_NE(r.err.find(cfg), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.json << " -> " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  auto missing = run({bin_path("sigdumpd"), "--config", dir.file("nope.json")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("nope.json"), std::string::npos) << missing.err;
}

struct located_config {
  const char* json;
  const char* line;  // the whole error line after "FILE:"
};

// A bad configuration file is one line, "FILE:LINE:COLUMN: error: ...",
// pointing at the offending byte (syntax) or value/key (type, range).
TEST(SigdumpdStartup, BadConfigurationNamesLineAndColumn) {
  temp_dir dir;
  const located_config cases[] = {
      // Syntax errors, found by our own scan (simdjson gives no position).
      {"{\n  \"watch\": [\"/tmp\",]\n}", "2:19: error: not valid JSON: trailing comma before ']'"},
      {"{\n  \"quiet_ms\": 50,\n}", "2:17: error: not valid JSON: trailing comma before '}'"},
      {"{\n  \"watch\" [\"/tmp\"]\n}",
       "2:11: error: not valid JSON: expected ':' after the key \"watch\", found '['"},
      {"{\"watch\": [\"/tmp\"]\n \"poll_ms\": 50}",
       "2:2: error: not valid JSON: expected ',' or '}' after the value of \"watch\", found '\"'"},
      {"{\n\t\"socket\": \"/tmp/s\n}",
       "2:12: error: not valid JSON: unterminated string: no closing '\"' on its line"},
      {"{\"watch\": [\"/tmp\"",
       "1:18: error: not valid JSON: unexpected end of file: '[' opened at 1:11 is never closed"},
      {"// settings\n{}",
       "1:1: error: not valid JSON: expected a value, found '/' (JSON has no comments)"},
      {"{'watch': []}",
       "1:2: error: not valid JSON: expected a key in double quotes, found ''' (JSON strings use "
       "double quotes)"},
      {"{\"poll_ms\":\n  1e999}", "2:3: error: not valid JSON: number out of range"},
      {"", "1:1: error: not valid JSON: empty file (expected a JSON object)"},
      // Type and value errors: the field path, and where its value (or, for
      // an unknown key, the key) is.
      {"{\n  \"pairs\": [\n    {\"name\": \"p\", \"sample\": \"a.bin\", \"benchmark\": "
       "\"b.bin\"},\n"
       "    {\"sample\": 7, \"benchmark\": \"b.bin\"}\n  ]\n}",
       "4:16: error: pairs[1].sample: expected a string, got an integer"},
      {"{\"watch\": [\"/tmp\"],\n   \"keep_run\": 3}",
       "2:4: error: keep_run: unknown key (expected watch, pairs, state_dir, socket, events_log, "
       "quiet_ms, poll_ms, keep_runs, history_max_bytes, workers, cos_min, rmse_max, allow_uids, "
       "metrics, archive, triggers)"},
      {"{\"pairs\": [{\"name\": \"p\", \"sample\": \"a\", \"benchmark\": \"b\"},\n  {\"sample\": "
       "\"a.bin\"}]}",
       "2:3: error: pairs[1]: missing \"benchmark\""},
      {"{\"pairs\": [\n  {\"sample\": \"a.bin\", \"benchmark\": \"b.bin\"}]}",
       "2:3: error: pairs[0]: needs a name: {\"name\": \"NAME\", \"sample\": \"a.bin\", "
       "\"benchmark\": \"b.bin\"}"},
      {"{\"keep_runs\":\n\n      0}",
       "3:7: error: keep_runs: expected an integer in [1, 1000000], got 0"},
      {"{\"allow_uids\": [1000, \"root\"]}",
       "1:23: error: allow_uids[1]: expected a non-negative integer, got a string"},
      {"[1, 2]", "1:1: error: (top level): expected an object, got an array"},
      // A pair's own thresholds: the ranges of the global ones.
      {"{\"pairs\": [{\"name\": \"p\", \"sample\": \"a\", \"benchmark\": \"b\", \"cos_min\": "
       "1.5}]}",
       "1:70: error: pairs[0].cos_min: 1.5 is out of range: COS lies in [-1, 1]"},
      {"{\"pairs\": [{\"name\": \"p\", \"sample\": \"a\", \"benchmark\": \"b\", \"rmse_max\": "
       "\"x\"}]}",
       "1:71: error: pairs[0].rmse_max: expected a number, got a string"},
  };
  for (const auto& c : cases) {
    const std::string cfg = dir.file("sigdumpd.json");
    write_file(cfg, c.json);
    auto r = run({bin_path("sigdumpd"), "--config", cfg, "--state-dir", dir.file("state")});
    EXPECT_EQ(r.exit_code, 2) << c.json;
    EXPECT_EQ(r.err, cfg + ":" + c.line + "\n") << c.json;
  }
}

TEST(SigdumpdStartup, HelpAndVersion) {
  auto h = run({bin_path("sigdumpd"), "--help"});
  EXPECT_EQ(h.exit_code, 0);
  for (const char* opt : {"--watch", "--pair", "--config", "--state-dir", "--events-log",
                          "--socket", "--foreground", "SIGHUP", "SIGDUMP_EVENT_LOOP"}) {
    EXPECT_NE(h.out.find(opt), std::string::npos) << opt;
  }
  auto v = run({bin_path("sigdumpd"), "--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_NE(v.out.find("protocol 1"), std::string::npos);
  auto bad = run({bin_path("sigdumpd"), "--frobnicate"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--frobnicate"), std::string::npos);
}

TEST(SigdumpdStartup, SighupReloadsWithoutLosingRuns) {
  temp_dir dir;
  fs::create_directories(dir.file("a"));
  fs::create_directories(dir.file("b"));
  std::string cfg = dir.file("sigdumpd.json");
  write_file(cfg, "{\"watch\":[\"" + dir.file("a") + "\"]}");
  std::string fa = dir.file("a") + "/sigma_outtensor_dump.bin";
  std::string fb = dir.file("b") + "/sigma_outtensor_dump.bin";
  for (const auto& f : {fa, fb}) {
    auto w = dump_writer::create(f);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write(spec_of("a", 16), ramp(16, 1.0f)));
  }
  test_daemon d(dir, {"--config", cfg}, "");
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  auto ra =
      d.wait_event([&](const logged_event& e) { return e.event == "run_start" && e.path == fa; });
  ASSERT_EQ(ra.event, "run_start");
  write_file(cfg, "{\"watch\":[\"" + dir.file("a") + "\",\"" + dir.file("b") + "\"]}");
  ASSERT_TRUE(d.proc().signal(SIGHUP));
  auto rs = d.wait_event(
      [&](const logged_event& e) { return e.event == "resync" && e.reason == "reload"; });
  EXPECT_EQ(rs.event, "resync");
  auto rb =
      d.wait_event([&](const logged_event& e) { return e.event == "run_start" && e.path == fb; });
  EXPECT_EQ(rb.event, "run_start");
  // fa's run was not restarted by the reload.
  int starts_a = 0;
  for (const auto& e : d.events()) starts_a += (e.event == "run_start" && e.path == fa) ? 1 : 0;
  EXPECT_EQ(starts_a, 1);
}

}  // namespace
}  // namespace sigdump::testing
