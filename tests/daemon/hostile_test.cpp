// sigdumpd against what other programs and users leave around it: stray
// files in its state folder, a lock file someone else opened, jobs that
// throw, a stop with a full queue. Each test fails on the bug it guards.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "daemon_support.h"
#include "ipc_test_client.h"
#include "platform/lock_file.h"
#include "platform/worker_pool.h"
#include "server/ipc_server.h"
#include "sigdump/ipc/unique_fd.h"

namespace sigdump::daemon {
namespace {

namespace fs = std::filesystem;
using sigdump::testing::logged_event;
using sigdump::testing::temp_dir;
using sigdump::testing::test_daemon;
using sigdump::testing::wait_until;
using sigdump::testing::write_file;

// ------------------------------------------------------------ state folder

TEST(HostileState, RunLogNamesThatAreNotRunsAreSkipped) {
  temp_dir dir;
  fs::create_directories(dir.file("w"));
  fs::create_directories(dir.file("state") + "/runs");
  // A number past 2^64 (std::stoull threw and the daemon aborted), one at
  // the very top, and a name that only looks like a log.
  write_file(dir.file("state") + "/runs/r123456789012345678901234.ndjson", "{}\n");
  write_file(dir.file("state") + "/runs/r18446744073709551615.ndjson", "{}\n");
  write_file(dir.file("state") + "/runs/r12x.ndjson", "{}\n");
  test_daemon d(dir, {"--watch", dir.file("w")}, "");
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  const std::string err = d.proc().stderr_text();
  EXPECT_NE(err.find("r123456789012345678901234.ndjson: not a run log of this daemon, skipped"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("r18446744073709551615.ndjson: not a run log of this daemon, skipped"),
            std::string::npos)
      << err;
  EXPECT_TRUE(d.proc().alive());
}

TEST(HostileState, EventsLogIsPrivate) {
  temp_dir dir;
  fs::create_directories(dir.file("w"));
  const mode_t old = ::umask(022);
  test_daemon d(dir, {"--watch", dir.file("w")}, "");
  ::umask(old);
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  struct stat st {};
  ASSERT_EQ(::stat(d.events_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// Root's sigdumpd with --archive-dir pointing into a folder another user
// owns overwrote a root-owned file through a symlink planted there.
TEST(HostileState, AFolderAnotherUserControlsIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to make a folder another uid owns";
  temp_dir dir;
  fs::create_directories(dir.file("w"));
  const std::string victim = dir.file("victim");
  write_file(victim, "precious");
  const std::string theirs = dir.file("theirs");
  ASSERT_EQ(::mkdir(theirs.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(theirs.c_str(), 0777), 0);
  ASSERT_EQ(::chown(theirs.c_str(), 65534, 65534), 0);
  for (int n = 1; n <= 4; ++n) {
    const std::string link = theirs + "/r" + std::to_string(n) + "-sigma_outtensor_dump.bin";
    ASSERT_EQ(::symlink(victim.c_str(), link.c_str()), 0);
  }
  {
    auto w = dump_writer::create(dir.file("w") + "/sigma_outtensor_dump.bin");
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write(sigdump::testing::spec_of("t0", 64), std::vector<float>(64, 1.0f)));
  }
  test_daemon d(dir, {"--watch", dir.file("w"), "--archive-dir", theirs}, "");
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  const std::string err = d.proc().stderr_text();
  EXPECT_NE(err.find("archive folder is owned by uid 65534"), std::string::npos) << err;
  ASSERT_TRUE(
      d.wait_event([](const logged_event& e) { return e.event == "run_start"; }).event.size());
  EXPECT_EQ(sigdump::testing::read_file(victim), "precious");

  // A state folder of another user: the daemon does not start on it.
  auto r =
      sigdump::testing::run({sigdump::testing::bin_path("sigdumpd"), "--foreground", "--state-dir",
                             theirs, "--socket", dir.file("sock2"), "--watch", dir.file("w")},
                            {}, {"XDG_CONFIG_HOME=" + dir.file("no-config")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("state folder is owned by uid 65534"), std::string::npos) << r.err;
}

TEST(HostileState, AFolderOthersCanWriteIsRefused) {
  temp_dir dir;
  fs::create_directories(dir.file("w"));
  const std::string open_dir = dir.file("open");
  ASSERT_EQ(::mkdir(open_dir.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(open_dir.c_str(), 0777), 0);
  auto r =
      sigdump::testing::run({sigdump::testing::bin_path("sigdumpd"), "--foreground", "--state-dir",
                             open_dir, "--socket", dir.file("sock"), "--watch", dir.file("w")},
                            {}, {"XDG_CONFIG_HOME=" + dir.file("no-config")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("writable by group or others"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("chmod 700"), std::string::npos) << r.err;
}

// ------------------------------------------------------------------- peers

class HostilePeers : public ::testing::TestWithParam<const char*> {};

// A subscriber that closes its socket while nothing is sent to it (no run
// ever starts) must be cleaned up on both event loops: the io_uring loop
// stopped polling a connection it neither read nor wrote, and leaked one
// descriptor and its buffers per such client.
TEST_P(HostilePeers, ClosedIdleSubscribersAreCleanedUp) {
  using sigdump::testing::ipc_daemon;
  using sigdump::testing::raw_client;
  temp_dir dir;
  ipc_daemon d(dir, {std::string("SIGDUMP_EVENT_LOOP=") + GetParam()});
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  const auto clients = [&] {
    raw_client probe(d.socket());
    auto m = probe.call("status");
    auto at = m.raw.find("\"clients\":");
    return at == std::string::npos ? -1 : std::stoi(m.raw.substr(at + 10));
  };
  {
    std::vector<std::unique_ptr<raw_client>> subs;
    for (int i = 0; i < 40; ++i) {
      subs.push_back(std::make_unique<raw_client>(d.socket()));
      auto r = subs.back()->call("subscribe", R"({"pair":"p"})");
      ASSERT_TRUE(r.error_code.empty()) << r.raw;
    }
    ASSERT_EQ(clients(), 41);
  }  // every subscriber closes its socket
  EXPECT_TRUE(wait_until([&] { return clients() == 1; })) << "clients: " << clients();
  EXPECT_TRUE(d.proc().alive());
}

// A dump-named file that cannot be parsed, written after the daemon
// started, killed it (SIGSEGV: look -> track -> look ... until the stack
// ran out). It must be reported and the daemon must go on serving.
TEST_P(HostilePeers, AMalformedDumpIsAnErrorNotACrash) {
  using sigdump::testing::raw_client;
  temp_dir dir;
  fs::create_directories(dir.file("w"));
  test_daemon d(dir, {"--watch", dir.file("w")}, GetParam());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  const char* bodies[] = {"isFloat: 1\n//out garbage\n", "//out 0 x\n", "isFloat: 7\n",
                          "//in\n\n\n"};
  int n = 0;
  for (const char* body : bodies) {
    const std::string path = dir.file("w") + "/" +
                             (n == 0 ? std::string("sigma") : "m" + std::to_string(n)) +
                             "_outtensor_dump.bin";
    ++n;
    write_file(path, body);
    EXPECT_TRUE(wait_until([&] {
      return d.proc().stderr_text().find(path) != std::string::npos || !d.proc().alive();
    })) << d.proc().stderr_text();
    ASSERT_TRUE(d.proc().alive()) << d.proc().stderr_text();
  }
  raw_client c(dir.file("sock"));
  auto m = c.call("status");
  EXPECT_TRUE(m.error_code.empty()) << m.raw;
  EXPECT_TRUE(d.proc().alive()) << d.proc().stderr_text();
}

// A real inotify queue overflow (not a call to rescan()): the kernel drops
// events past max_queued_events and says IN_Q_OVERFLOW; the daemon must
// rescan and find every dump written meanwhile. The limit is read when the
// daemon creates its inotify instance, so it is lowered only around start.
TEST_P(HostilePeers, AnInotifyOverflowIsARescanThatFindsEverything) {
  const char* knob = "/proc/sys/fs/inotify/max_queued_events";
  std::string old_limit;
  try {
    old_limit = sigdump::testing::read_file(knob);
  } catch (...) {
    GTEST_SKIP() << "no " << knob;
  }
  temp_dir dir;
  fs::create_directories(dir.file("w"));
  std::unique_ptr<test_daemon> d;
  {
    int fd = ::open(knob, O_WRONLY | O_CLOEXEC);
    if (fd < 0) GTEST_SKIP() << "cannot lower " << knob << " here: " << std::strerror(errno);
    ASSERT_EQ(::write(fd, "16", 2), 2);
    ::close(fd);
    d = std::make_unique<test_daemon>(dir, std::vector<std::string>{"--watch", dir.file("w")},
                                      GetParam());
    const bool ready = d->wait_ready();
    write_file(knob, old_limit);
    ASSERT_TRUE(ready) << d->proc().stderr_text();
  }
  ASSERT_EQ(::kill(d->proc().pid(), SIGSTOP), 0);
  // Far more events than 16 while the daemon cannot read them.
  for (int i = 0; i < 40; ++i) {
    write_file(dir.file("w") + "/junk" + std::to_string(i), "not a dump");
  }
  const std::string dump = dir.file("w") + "/sigma_outtensor_dump.bin";
  {
    auto w = dump_writer::create(dump);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write(sigdump::testing::spec_of("t0", 64), std::vector<float>(64, 1.0f)));
  }
  ASSERT_EQ(::kill(d->proc().pid(), SIGCONT), 0);
  auto resync = d->wait_event(
      [](const logged_event& e) { return e.event == "resync" && e.reason == "inotify_overflow"; });
  EXPECT_EQ(resync.event, "resync") << d->proc().stderr_text();
  auto start = d->wait_event(
      [&](const logged_event& e) { return e.event == "run_start" && e.path == dump; });
  EXPECT_EQ(start.event, "run_start");
}

// A watched folder full of what other programs leave around: FIFOs and
// symlinks to devices under dump names, a symlink loop, a folder named like
// a dump, 10,000 junk files. The daemon must start, stay responsive, and
// still follow a real dump written there afterwards.
TEST_P(HostilePeers, AHostileFolderIsSurvivedAndARealDumpStillFollowed) {
  using sigdump::testing::raw_client;
  temp_dir dir;
  const std::string w = dir.file("w");
  fs::create_directories(w);
  ASSERT_EQ(::mkfifo((w + "/sigma_outtensor_dump.bin").c_str(), 0600), 0);
  ASSERT_EQ(::mkfifo((w + "/fifo_outtensor_dump.txt").c_str(), 0600), 0);
  ASSERT_EQ(::symlink("/dev/zero", (w + "/zero_outtensor_dump.bin").c_str()), 0);
  ASSERT_EQ(::symlink("/dev/urandom", (w + "/random_outtensor_dump.bin").c_str()), 0);
  ASSERT_EQ(::symlink("loop_b_outtensor_dump.bin", (w + "/loop_a_outtensor_dump.bin").c_str()), 0);
  ASSERT_EQ(::symlink("loop_a_outtensor_dump.bin", (w + "/loop_b_outtensor_dump.bin").c_str()), 0);
  fs::create_directories(w + "/dir_outtensor_dump.bin");
  for (int i = 0; i < 10000; ++i) write_file(w + "/junk" + std::to_string(i), "x");
  test_daemon d(dir, {"--watch", w}, GetParam());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  // The FIFO is replaced by a real dump, as a simulator starting a run does.
  const std::string dump = w + "/sigma_outtensor_dump.bin";
  ASSERT_EQ(::unlink(dump.c_str()), 0);
  {
    auto wr = dump_writer::create(dump);
    ASSERT_TRUE(wr);
    ASSERT_TRUE(wr->write(sigdump::testing::spec_of("t0", 64), std::vector<float>(64, 1.0f)));
  }
  auto start =
      d.wait_event([&](const logged_event& e) { return e.event == "run_start" && e.path == dump; });
  EXPECT_EQ(start.event, "run_start") << d.proc().stderr_text();
  raw_client c(dir.file("sock"));
  auto st = c.call("status");
  EXPECT_TRUE(st.error_code.empty()) << st.raw;
  EXPECT_TRUE(d.proc().alive());
}

// A SIGBUS someone sends (kill -BUS) is not a page that vanished under a
// read: the daemon, idle after following a dump (so the SIGBUS guard's
// handler is installed), must die of it as any process does, not go on.
TEST_P(HostilePeers, ASentSigbusEndsTheDaemonAsItEndsAnyProcess) {
  temp_dir dir;
  fs::create_directories(dir.file("w"));
  const std::string dump = dir.file("w") + "/sigma_outtensor_dump.bin";
  test_daemon d(dir, {"--watch", dir.file("w")}, GetParam());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  {
    auto wr = dump_writer::create(dump);
    ASSERT_TRUE(wr);
    ASSERT_TRUE(wr->write(sigdump::testing::spec_of("t0", 4096), std::vector<float>(4096, 1.0f)));
  }
  const auto full = static_cast<std::uint64_t>(fs::file_size(dump));
  ASSERT_TRUE(wait_until([&] {
    auto t = sigdump::testing::tracked_file_status(dir.file("sock"), dump);
    return (t && t->bytes == full) || !d.proc().alive();
  })) << d.proc().stderr_text();
  ASSERT_TRUE(d.proc().signal(SIGBUS));
  EXPECT_TRUE(wait_until([&] { return !d.proc().alive(); }, std::chrono::seconds(30)))
      << "the daemon went on after a SIGBUS sent to it";
  // Under a sanitizer, whose SIGBUS handler the guard passes the signal on
  // to, its report ends the process instead.
  const std::string err = d.proc().stderr_text();
  EXPECT_TRUE(d.proc().term_signal() == SIGBUS || err.find("DEADLYSIGNAL") != std::string::npos)
      << "ended by signal " << d.proc().term_signal() << "\n"
      << err;
}

INSTANTIATE_TEST_SUITE_P(Loops, HostilePeers, ::testing::Values("io_uring", "epoll"),
                         [](const auto& p) { return std::string(p.param); });

// The test hook for the server's limits is validated like a configuration
// key: caps of 0, soft above hard and a socket buffer past an int were
// taken as they came (a 64-bit value cast to int).
TEST(IpcTestLimits, InvalidValuesAreRefusedWithTheirName) {
  struct bad {
    const char* text;
    const char* says;
  };
  const bad cases[] = {
      {"::0:", "hard_msgs must be at least 1"},
      {":::0", "hard_bytes must be at least 1"},
      {"9000::100", "soft_msgs is above hard_msgs"},
      {":9000::100", "soft_bytes is above hard_bytes"},
      {"::::::4294967296", "sndbuf is larger than a socket buffer can be"},
      {"12x", "soft_msgs is not a whole number"},
      {"-1", "soft_msgs is not a whole number"},
      {":::::::0", "history must be at least 1"},
      {"1:2:3:4:5:6:7:8:9", "more than 8 fields"},
  };
  for (const auto& c : cases) {
    auto r = ipc_limits::parse(c.text);
    ASSERT_FALSE(r) << c.text;
    EXPECT_NE(r.error().describe().find(c.says), std::string::npos)
        << c.text << ": " << r.error().describe();
  }
  auto ok = ipc_limits::parse("16:::::60000:4096:");
  ASSERT_TRUE(ok) << ok.error().describe();
  EXPECT_EQ(ok->queue.soft_messages, 16u);
  EXPECT_EQ(ok->sndbuf, 4096);
  EXPECT_EQ(ok->stall, std::chrono::milliseconds(60000));
}

// --------------------------------------------------------------- lock file

TEST(LockFile, AProcessThatOpenedTheLockBeforeAStopSharesItWithNobody) {
  temp_dir dir;
  const std::string path = dir.file("sigdumpd.lock");
  ipc::unique_fd early;
  {
    auto first = lock_file::acquire(dir.path().string());
    ASSERT_TRUE(first) << first.error().describe();
    // A second daemon opens the lock file while the first still runs ...
    early.reset(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_TRUE(early);
  }
  // ... and wins the lock once the first one stops.
  ASSERT_EQ(::flock(early.get(), LOCK_EX | LOCK_NB), 0);
  // A third daemon must see that lock, not lock a file of its own.
  auto third = lock_file::acquire(dir.path().string());
  EXPECT_FALSE(third);
}

// ------------------------------------------------------------- worker pool

TEST(WorkerPool, AJobThatThrowsIsCountedAndTheWorkerGoesOn) {
  worker_pool pool(1);
  ASSERT_EQ(pool.size(), 1u);
  pool.submit([] { throw std::runtime_error("boom"); });
  pool.submit([] { throw 42; });
  std::promise<void> done;
  pool.submit([&] { done.set_value(); });
  ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(20)), std::future_status::ready);
  EXPECT_EQ(pool.failed_jobs(), 2u);
}

TEST(WorkerPool, ShutdownDropsQueuedJobsAndWaitsForTheRunningOne) {
  worker_pool pool(1);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> running{false}, finished{false};
  pool.submit([&, released] {
    running = true;
    released.wait();
    finished = true;
  });
  ASSERT_TRUE(wait_until([&] { return running.load(); }));
  auto token = std::make_shared<int>(0);
  std::atomic<int> ran{0};
  for (int i = 0; i < 100; ++i) pool.submit([token, &ran] { ++ran; });
  ASSERT_EQ(token.use_count(), 101);
  std::size_t dropped = 0;
  std::thread stopper([&] { dropped = pool.shutdown(); });
  // The queued jobs are dropped while the running one still runs.
  const bool dropped_early = wait_until([&] { return token.use_count() == 1; });
  release.set_value();
  stopper.join();
  EXPECT_TRUE(dropped_early);
  EXPECT_TRUE(finished.load());
  EXPECT_EQ(ran.load(), 0);
  EXPECT_EQ(dropped, 100u);
}

}  // namespace
}  // namespace sigdump::daemon
