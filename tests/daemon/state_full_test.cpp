// A state folder that refuses writes (a full disk), against a real sigdumpd
// under both event loops: runs are not "persisted" while their lines wait
// in memory, status and the Prometheus file say so, and once the folder
// takes writes again every line is written, so a restart finds every layer.
// The refusal is the test hook SIGDUMP_STATE_TEST_FAIL (docs/protocol.md):
// writes fail with ENOSPC while the file it names exists. And no write to
// the state or archive folder runs on the event loop: the loop goes on
// while a slow disk (bench/slow_disk.cpp) holds them.
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>

#include <cstdlib>
#include <sstream>

#include "pair_daemon_support.h"

namespace sigdump::testing {
namespace {

class StateFull : public PairDaemonTest {
 protected:
  std::unique_ptr<test_daemon> start_refusing() {
    auto d = std::make_unique<test_daemon>(
        dir_,
        std::vector<std::string>{"--watch", dumps_, "--pair", "p:" + sample_ + "=" + bench_,
                                 "--metrics-dir", prom_, "--metrics-interval-ms", "20"},
        loop(), "state", std::vector<std::string>{"SIGDUMP_STATE_TEST_FAIL=" + full_});
    EXPECT_TRUE(d->wait_ready()) << d->proc().stderr_text();
    return d;
  }
  std::map<std::string, bool> persisted() const { return persisted_runs(dir_.file("sock")); }
  std::string prom_line(const std::string& name) const {
    std::string text;
    try {
      text = read_file(prom_ + "/sigdumpd.prom");
    } catch (...) {
      return {};
    }
    const auto at = text.find("\n" + name + " ");
    return at == std::string::npos ? std::string()
                                   : text.substr(at + 1, text.find('\n', at + 1) - at - 1);
  }

  // Starts the daemon with the folders `dirs` (':' between them) on a disk
  // (bench/slow_disk.cpp, preloaded) that holds every write while hold_
  // exists, holds it, and runs the pair: the loop publishes the run's start
  // (and with `ends_held` its end) and answers `hello` while the disk has a
  // write of the run waiting. Once the disk lets go, the run ends and is
  // persisted, no call on those folders was the loop's, and a restart reads
  // every layer back.
  void run_on_held_disk(const std::string& dirs, bool ends_held) {
    const std::string notes = dir_.file("slow-disk.log");
    const char* asan = std::getenv("ASAN_OPTIONS");
    constexpr int layers = 5;
    std::string run;
    {
      auto d = start(
          {}, {"LD_PRELOAD=" + bin_path("libsigdump_slow_disk.so"), "SIGDUMP_SLOW_DISK_DIR=" + dirs,
               "SIGDUMP_SLOW_DISK_HOLD=" + hold_, "SIGDUMP_SLOW_DISK_LOG=" + notes,
               std::string("ASAN_OPTIONS=") + (asan != nullptr ? asan : "") +
                   ":verify_asan_link_order=0"});
      // What the start-up wrote is noted before the hold.
      const std::size_t noted = fs::exists(notes) ? read_file(notes).size() : 0;
      write_file(hold_, "");
      struct let_go {
        std::string path;
        ~let_go() { fs::remove(path); }
      } release{hold_};
      write_dump(bench_, layers, 1.0f);
      write_dump(sample_, layers, 1.01f);
      const std::string until = ends_held ? "run_end" : "run_start";
      auto seen = d->wait_event(
          [&](const logged_event& e) { return e.event == until && e.path == sample_; });
      ASSERT_EQ(seen.event, until) << d->proc().stderr_text();
      run = seen.run;
      // A write of the run waits on the disk, and the loop answers.
      EXPECT_TRUE(wait_until([&] { return read_file(notes).size() > noted; }));
      raw_client c(dir_.file("sock"));
      ASSERT_TRUE(c.connected());
      EXPECT_NE(c.call("hello").result, "");
      auto flags = persisted();
      ASSERT_TRUE(flags.contains(run));
      EXPECT_FALSE(flags[run]);
      fs::remove(hold_);
      if (!ends_held) {
        ASSERT_EQ(d->wait_event([&](const logged_event& e) {
                     return e.event == "run_end" && e.run == run;
                   }).event,
                  "run_end")
            << d->proc().stderr_text();
      }
      EXPECT_TRUE(wait_until([&] {
        auto now = persisted();
        return now.contains(run) && now[run];
      })) << d->proc().stderr_text();
      // The run's copy is read back once final (its benchmark-only count
      // is taken from the copies).
      if (dirs.find(arch_) != std::string::npos) {
        EXPECT_TRUE(wait_until([&] {
          return read_file(notes).find(" read " + arch_ + "/" + run + "-") != std::string::npos;
        })) << read_file(notes);
      }
      // None of it ran on the loop.
      std::istringstream lines(read_file(notes).substr(noted));
      for (std::string line; std::getline(lines, line);) {
        EXPECT_FALSE(line.starts_with("main ")) << line;
      }
      stop(*d);
    }
    auto d = start();
    auto runs = list_runs(dir_.file("sock"));
    ASSERT_TRUE(runs.contains(run));
    EXPECT_EQ(runs[run].layers, static_cast<std::uint64_t>(layers));
  }

  std::string full_ = dir_.file("disk-full");
  std::string hold_ = dir_.file("disk-holds");
  std::string prom_ = dir_.file("prom");
};

TEST_P(StateFull, RunsWaitInMemoryAndAreWrittenWhenSpaceReturns) {
  fs::create_directories(prom_);
  write_file(full_, "");
  constexpr int layers = 5;
  std::string run;
  {
    auto d = start_refusing();
    write_dump(bench_, layers, 1.0f);
    write_dump(sample_, layers, 1.01f);
    auto end = d->wait_event(
        [&](const logged_event& e) { return e.event == "run_end" && e.path == sample_; });
    ASSERT_EQ(end.event, "run_end") << d->proc().stderr_text();
    run = end.run;
    // Nothing reached the disk: no run says it is persisted.
    auto flags = persisted();
    ASSERT_TRUE(flags.contains(run));
    for (const auto& [id, yes] : flags) EXPECT_FALSE(yes) << id;
    raw_client c(dir_.file("sock"));
    ASSERT_TRUE(c.connected());
    // The writes are refused on the store's thread, which may come later.
    std::string status;
    EXPECT_TRUE(wait_until([&] {
      status = c.call("status").result;
      return status.find("No space left on device") != std::string::npos;
    })) << status;
    EXPECT_NE(status.find("\"state_error\":\"" + dir_.file("state") + "/runs/"), std::string::npos)
        << status;
    EXPECT_NE(status.find("No space left on device"), std::string::npos) << status;
    EXPECT_EQ(status.find("\"state_unsaved_bytes\":0,"), std::string::npos) << status;
    EXPECT_TRUE(wait_until([&] {
      const std::string l = prom_line("sigdump_state_unsaved_bytes");
      return !l.empty() && l != "sigdump_state_unsaved_bytes 0";
    })) << prom_line("sigdump_state_unsaved_bytes");
    auto text = sigdump("status");
    EXPECT_NE(text.out.find("bytes of run logs not written yet"), std::string::npos) << text.out;

    // Space returns: every line is written, in order, and said so.
    fs::remove(full_);
    EXPECT_TRUE(wait_until([&] {
      auto now = persisted();
      return !now.empty() &&
             std::all_of(now.begin(), now.end(), [](auto& kv) { return kv.second; });
    })) << c.call("runs").result;
    EXPECT_NE(c.call("status").result.find("\"state_unsaved_bytes\":0,"), std::string::npos);
    EXPECT_TRUE(wait_until([&] {
      return prom_line("sigdump_state_unsaved_bytes") == "sigdump_state_unsaved_bytes 0";
    }));
    stop(*d);
  }
  // A restart reads every layer back.
  auto d = start();
  auto runs = list_runs(dir_.file("sock"));
  ASSERT_TRUE(runs.contains(run));
  EXPECT_EQ(runs[run].state, "ended");
  EXPECT_EQ(runs[run].layers, static_cast<std::uint64_t>(layers));
  EXPECT_EQ(d->proc().stderr_text().find("damaged line"), std::string::npos)
      << d->proc().stderr_text();
}

// The run logs are written off the event loop (the daemon's first thread):
// a slow disk under the state folder (bench/slow_disk.cpp, preloaded) notes
// which thread opens, writes, syncs or renames each file there. Not timed:
// it fails when a run log's open or write, or the index, goes back on the
// loop.
TEST_P(StateFull, RunLogsAreWrittenOffTheLoop) {
  const std::string notes = dir_.file("slow-disk.log");
  const std::string state = dir_.file("state");
  const char* asan = std::getenv("ASAN_OPTIONS");
  constexpr int layers = 5;
  std::string run;
  {
    test_daemon d(
        dir_, {"--watch", dumps_, "--pair", "p:" + sample_ + "=" + bench_}, loop(), "state",
        {"LD_PRELOAD=" + bin_path("libsigdump_slow_disk.so"), "SIGDUMP_SLOW_DISK_DIR=" + state,
         "SIGDUMP_SLOW_DISK_MS=5", "SIGDUMP_SLOW_DISK_LOG=" + notes,
         // The preloaded library comes before a sanitizer's runtime.
         std::string("ASAN_OPTIONS=") + (asan != nullptr ? asan : "") +
             ":verify_asan_link_order=0"});
    ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
    write_dump(bench_, layers, 1.0f);
    write_dump(sample_, layers, 1.01f);
    auto end = d.wait_event(
        [&](const logged_event& e) { return e.event == "run_end" && e.path == sample_; });
    ASSERT_EQ(end.event, "run_end") << d.proc().stderr_text();
    run = end.run;
    // Persisted once the store's thread wrote every line.
    EXPECT_TRUE(wait_until([&] {
      auto now = persisted();
      return now.contains(run) && now[run];
    })) << d.proc().stderr_text();
    stop(d);
  }
  const std::string log = read_file(notes);
  // The slow disk was in place and the run's lines reached its log.
  EXPECT_NE(log.find("other write " + state + "/runs/" + run + ".ndjson\n"), std::string::npos)
      << log;
  EXPECT_NE(log.find("other rename " + state + "/index.json\n"), std::string::npos) << log;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("main ")) continue;
    EXPECT_EQ(line.find(state + "/runs/"), std::string::npos) << line;
    EXPECT_EQ(line.find(state + "/index.json"), std::string::npos) << line;
  }
  // A restart reads every layer back.
  auto d = start();
  auto runs = list_runs(dir_.file("sock"));
  ASSERT_TRUE(runs.contains(run));
  EXPECT_EQ(runs[run].layers, static_cast<std::uint64_t>(layers));
}

// A run starts, grows and ends while the state folder's disk holds its
// writes (index.json, the run log): none of them is on the loop.
TEST_P(StateFull, ARunGoesOnWhileTheStateDiskHoldsItsWrites) {
  run_on_held_disk(dir_.file("state"), true);
}

// A run starts while the archive folder's disk holds its writes: its copy
// is created off the loop (its layers wait: a comparison fills the copy up
// to what it compared).
TEST_P(StateFull, ARunStartsWhileTheArchiveDiskHoldsItsWrites) {
  run_on_held_disk(dir_.file("state") + ":" + arch_, false);
}

INSTANTIATE_TEST_SUITE_P(Loops, StateFull, ::testing::Values("io_uring", "epoll"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
}  // namespace sigdump::testing
