// The run archive's space: the byte budget evicts the oldest ended runs,
// never the live one (the class, then a real sigdumpd), the summary and
// `status` count copies against the budget, and a real full disk (a small
// tmpfs) stops that run's copy with one error until space is back.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "archive_support.h"

namespace sigdump::daemon::archive_tests {
namespace {

TEST_F(Archive, EvictsOldestEndedRunsNeverTheLiveOne) {
  std::vector<std::string> srcs;
  for (int i = 1; i <= 3; ++i) {
    srcs.push_back(dir_.file("d" + std::to_string(i) + "_outtensor_dump.bin"));
    write_dump(srcs.back(), 3, i == 3 ? 8000 : 2000, 1.0f);  // the last one is the biggest
  }
  const std::uint64_t budget = size_of(srcs[0]) + size_of(srcs[1]) / 2;
  ASSERT_LT(budget, size_of(srcs[2]));
  auto a = open_archive(budget);
  ASSERT_TRUE(a);
  std::vector<run_info> runs(3);
  std::vector<std::shared_ptr<tracked_file>> files;
  for (std::uint64_t n = 1; n <= 3; ++n) {
    files.push_back(track(srcs[n - 1], runs[n - 1], n));
    ASSERT_TRUE(copy_run(*a, runs[n - 1], *files.back()));
    if (n < 3) {
      runs[n - 1].state = run_state::ended;
      runs[n - 1].end_reason = "closed";
      a->run_ended(runs[n - 1]);
    }
  }
  // r1 went when r2 pushed the folder past the budget; r2 when r3 did; the
  // live r3 stays although it alone is over the budget.
  EXPECT_FALSE(a->find(1));
  EXPECT_FALSE(a->find(2));
  ASSERT_TRUE(a->find(3));
  EXPECT_FALSE(fs::exists(dir_.file("arch") + "/r1-d1_outtensor_dump.bin"));
  EXPECT_EQ(read_file(a->find(3)->path), read_file(srcs[2]));
  EXPECT_EQ(a->total_bytes(), size_of(srcs[2]));
  // Once it ends it is evictable too.
  runs[2].state = run_state::ended;
  runs[2].end_reason = "quiet";
  a->run_ended(runs[2]);
  ASSERT_TRUE(run_until([&] { return a->idle(); }));  // after its final sync
  EXPECT_FALSE(a->find(3));
  EXPECT_EQ(a->total_bytes(), 0u);
}

TEST_F(Archive, SummaryCountsCopiesAndTheBudget) {
  const std::string src = dir_.file("s_outtensor_dump.bin");
  write_dump(src, 2, 1000, 1.0f);
  auto a = open_archive(1u << 30);
  ASSERT_TRUE(a);
  auto u = a->summary();
  EXPECT_EQ(u.dir, dir_.file("arch"));
  EXPECT_EQ(u.copies, 0u);
  EXPECT_EQ(u.max_bytes, 1u << 30);
  run_info r;
  auto tf = track(src, r, 1);
  a->run_started(r, *tf);
  a->grew(r, *tf);
  EXPECT_EQ(a->summary().copying, 1u);
  ASSERT_TRUE(run_until([&] { return a->idle(); }));
  u = a->summary();
  EXPECT_EQ(u.copies, 1u);
  EXPECT_EQ(u.copying, 1u);  // its run is live
  EXPECT_EQ(u.bytes, size_of(src));
  EXPECT_EQ(u.failed, 0u);
  EXPECT_TRUE(u.last_error.empty());
  r.state = run_state::ended;
  r.end_reason = "closed";
  a->run_ended(r);
  ASSERT_TRUE(run_until([&] { return a->idle(); }));
  EXPECT_EQ(a->summary().copying, 0u);
}

TEST_F(ArchiveDaemon, StatusReportsTheArchive) {
  auto d = start({"--archive-max-bytes", "1073741824"});
  write_run(*d, "r1", 1.0f);
  raw_client c(dir_.file("sock"));
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(wait_until([&] { return synced(c, "r1"); })) << d->proc().stderr_text();
  EXPECT_EQ(status_archive(c), R"({"dir":")" + arch_ + R"(","bytes":)" +
                                   std::to_string(size_of(dump())) +
                                   R"(,"max_bytes":1073741824,"copies":1,"copying":0,"failed":0,)"
                                   R"("last_error":null})");
  // "only": that section alone.
  auto only = c.call("status", R"({"only":"archive"})");
  EXPECT_EQ(only.result.find("\"daemon\""), std::string::npos) << only.raw;
  EXPECT_EQ(status_archive(c, R"({"only":"archive"})"), status_archive(c));
  auto daemon_only = c.call("status", R"({"only":"daemon"})");
  EXPECT_NE(daemon_only.result.find("\"daemon\""), std::string::npos) << daemon_only.raw;
  EXPECT_EQ(daemon_only.result.find("\"archive\""), std::string::npos) << daemon_only.raw;
  EXPECT_EQ(c.call("status", R"({"only":"nope"})").error_code, "invalid_params");

  // A live run counts as copying.
  auto w = dump_writer::create(dump());
  ASSERT_TRUE(w);
  wait_run_start(*d, "r2");
  ASSERT_TRUE(w->write(spec_of("net/l0", 256), ramp(256, 1.0f)));
  ASSERT_TRUE(wait_until([&] {
    return status_archive(c).find(R"("copies":2,"copying":1,)") != std::string::npos;
  })) << status_archive(c);
  ASSERT_TRUE(w->close());
}

TEST_F(ArchiveDaemon, BudgetEvictsOldRunsButNeverTheLiveOne) {
  // Runs of about 64 KiB; a live one of about 256 KiB; a budget of 100 KiB.
  auto d = start({"--archive-max-bytes", "102400", "--quiet-ms", "600000"});
  write_run(*d, "r1", 1.0f, 4, 4096);
  ASSERT_TRUE(wait_until([&] { return size_of(copy(1)) == size_of(dump()); }));
  write_run(*d, "r2", 2.0f, 4, 4096);
  ASSERT_TRUE(wait_until([&] { return size_of(copy(2)) == size_of(dump()); }));
  // Both fit? 2 x 64 KiB is over 100 KiB: r1 went.
  ASSERT_TRUE(wait_until([&] { return !fs::exists(copy(1)); })) << d->proc().stderr_text();
  EXPECT_TRUE(fs::exists(copy(2)));

  // A live run (writer still open) bigger than the whole budget.
  auto w = dump_writer::create(dump());
  ASSERT_TRUE(w);
  wait_run_start(*d, "r3");
  for (int i = 0; i < 16; ++i) {
    ASSERT_TRUE(w->write(spec_of("net/l" + std::to_string(i), 4096, i), ramp(4096, 5.0f)));
  }
  ASSERT_TRUE(wait_until([&] { return size_of(copy(3)) == size_of(dump()); }))
      << d->proc().stderr_text() << listing() << read_file(d->events_path());
  // Evicted once the loop hears the copy is done (the file shows it first).
  EXPECT_TRUE(wait_until([&] { return !fs::exists(copy(2)); })) << listing();
  EXPECT_TRUE(fs::exists(copy(3)));
  raw_client c(dir_.file("sock"));
  EXPECT_EQ(query(c, "r1", "net/l0", 4).error, "unavailable");
  EXPECT_EQ(query(c, "r3", "net/l15", 4).source, "file");
  ASSERT_TRUE(w->close());
}

// A real full disk: the archive folder on a 256 KiB tmpfs (needs the right
// to mount, as root in a test container has).
class ArchiveFullDisk : public ArchiveDaemon {
 protected:
  void SetUp() override {
    ArchiveDaemon::SetUp();
    fs::create_directories(arch_);
    if (::mount("sigdump-test", arch_.c_str(), "tmpfs", 0, "size=256k,mode=0700") != 0) {
      GTEST_SKIP() << "cannot mount a small tmpfs for a full disk: " << std::strerror(errno);
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) ::umount2(arch_.c_str(), MNT_DETACH);
  }
  bool mounted_ = false;
};

TEST_F(ArchiveFullDisk, StopsThatRunWithOneErrorAndResumesWhenSpaceIsBack) {
  auto d = start();
  // About 1 MiB: cannot fit.
  write_run(*d, "r1", 1.0f, 8, 32768);
  auto stopped = [&] {
    std::string err = d->proc().stderr_text();
    return err.find("archiving r1 stopped") != std::string::npos;
  };
  ASSERT_TRUE(wait_until(stopped)) << d->proc().stderr_text();
  const std::string err = d->proc().stderr_text();
  EXPECT_NE(err.find("sigdumpd: error: " + copy(1) + ": archiving r1 stopped after"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("No space left on device"), std::string::npos) << err;
  EXPECT_TRUE(d->proc().alive());
  // Exactly one line about it, however many times the copy was tried.
  std::size_t lines = 0;
  for (std::size_t at = err.find("archiving r1 stopped"); at != std::string::npos;
       at = err.find("archiving r1 stopped", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 1u);
  // The daemon goes on: the run is still queried from the dump itself.
  raw_client c(dir_.file("sock"));
  EXPECT_EQ(query(c, "r1", "net/l0", 4).source, "file");
  // status counts the failed copy and says why (the newest error: the copy
  // or, with the disk still full, the index after it).
  const std::string st = status_archive(c);
  EXPECT_NE(st.find(R"("copies":1,"copying":0,"failed":1,"last_error":")"), std::string::npos)
      << st;
  EXPECT_NE(st.find("No space left on device"), std::string::npos) << st;

  // Space comes back: the next run is archived whole.
  ASSERT_EQ(::mount("sigdump-test", arch_.c_str(), "tmpfs", MS_REMOUNT, "size=8m"), 0)
      << std::strerror(errno);
  write_run(*d, "r2", 2.0f, 8, 32768);
  ASSERT_TRUE(wait_until([&] { return size_of(copy(2)) == size_of(dump()); }))
      << d->proc().stderr_text();
  EXPECT_EQ(read_file(copy(2)), read_file(dump()));
  EXPECT_EQ(d->proc().stderr_text().find("archiving r2 stopped"), std::string::npos);
  if (::getenv("ARCHIVE_TEST_VERBOSE") != nullptr) std::cerr << d->proc().stderr_text();
}

}  // namespace
}  // namespace sigdump::daemon::archive_tests
