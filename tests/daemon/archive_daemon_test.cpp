// The run archive in a real sigdumpd serving its copies: an overwritten
// (or renamed-over) run is queried from its copy over the socket, also
// after a restart, and `runs`, `sigdump runs` and `sigdump query` name the
// copy; a reload that turns archiving on copies the live run from its
// start.
#include <gtest/gtest.h>
#include <signal.h>

#include "archive_support.h"

namespace sigdump::daemon::archive_tests {
namespace {

TEST_F(ArchiveDaemon, OverwrittenRunIsQueriedFromItsCopyAlsoAfterRestart) {
  auto d = start();
  write_run(*d, "r1", 1.0f);
  const std::string first = read_file(dump());
  // The copy equals the finished dump byte for byte.
  ASSERT_TRUE(wait_until([&] { return size_of(copy(1)) == first.size(); }))
      << d->proc().stderr_text();
  EXPECT_EQ(read_file(copy(1)), first);

  // The simulator runs again into the same file.
  write_run(*d, "r2", 3.0f);
  ASSERT_TRUE(wait_until([&] { return size_of(copy(2)) == size_of(dump()); }));
  raw_client c(dir_.file("sock"));
  ASSERT_TRUE(c.connected());
  auto old = query(c, "r1", "net/l2", 16);
  ASSERT_TRUE(old.error.empty()) << old.error;
  EXPECT_EQ(old.source, "archive");
  EXPECT_EQ(old.values, expected_values(1.0f, 16));
  auto cur = query(c, "r2", "net/l2", 16);
  EXPECT_EQ(cur.source, "file");
  EXPECT_EQ(cur.values, expected_values(3.0f, 16));
  auto list = c.call("tensors", R"({"run":"r1"})");
  EXPECT_NE(list.result.find("\"source\":\"archive\""), std::string::npos) << list.raw;
  EXPECT_NE(list.result.find("\"total\":4"), std::string::npos) << list.raw;
  // `runs` names each run's copy; `sigdump runs` and `sigdump query` say so.
  ASSERT_TRUE(wait_until([&] { return synced(c, "r1"); }));
  auto runs = c.call("runs", R"({"limit":2})");
  EXPECT_NE(runs.result.find("\"archive\":{\"path\":\"" + copy(1) +
                             "\",\"bytes\":" + std::to_string(first.size()) +
                             ",\"copying\":false,\"failed\":false,\"synced\":true,"
                             "\"verified_bytes\":" +
                             std::to_string(first.size()) + ",\"short\":false}"),
            std::string::npos)
      << runs.raw;
  auto listed = sigdump::testing::run({bin_path("sigdump"), "runs", "--socket", dir_.file("sock")});
  EXPECT_NE(listed.out.find("[copy: " + copy(1) + "]"), std::string::npos) << listed.out;
  auto queried = sigdump::testing::run(
      {bin_path("sigdump"), "query", "net/l2", "--run", "r1", "--socket", dir_.file("sock")});
  EXPECT_NE(queried.out.find("archived copy"), std::string::npos) << queried.out << queried.err;

  // A rename onto the path: r2's copy is finished through the old inode.
  // Written outside the watched folder: the daemon would track a dump in it
  // as a run of its own.
  {
    auto w = dump_writer::create(dir_.file("next.tmp"));
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write(spec_of("net/l0", 64), ramp(64, 7.0f)));
  }
  fs::rename(dir_.file("next.tmp"), dump());
  auto r3 = d->wait_event([](const auto& e) { return e.event == "run_start" && e.run == "r3"; });
  ASSERT_EQ(r3.path, dump()) << read_file(d->events_path());
  auto r2 = query(c, "r2", "net/l3", 8);
  EXPECT_EQ(r2.source, "archive") << r2.error << read_file(d->events_path());
  EXPECT_EQ(r2.values, expected_values(3.0f, 8));
  c.close();

  // Restart: the runs and their copies are found again.
  ASSERT_TRUE(d->proc().signal(SIGTERM));
  ASSERT_EQ(d->proc().wait(), 0) << d->proc().stderr_text();
  d = start();
  raw_client c2(dir_.file("sock"));
  ASSERT_TRUE(c2.connected());
  auto again = query(c2, "r1", "net/l1", 16);
  ASSERT_TRUE(again.error.empty()) << again.error << d->proc().stderr_text();
  EXPECT_EQ(again.source, "archive");
  EXPECT_EQ(again.values, expected_values(1.0f, 16));
  EXPECT_EQ(d->proc().stderr_text().find("sigdumpd: error: "), std::string::npos)
      << d->proc().stderr_text();
}

TEST_F(ArchiveDaemon, ReloadTurningArchivingOnCopiesTheLiveRunFromTheStart) {
  const std::string cfg = dir_.file("sigdumpd.json");
  sigdump::testing::write_file(cfg, R"({"watch":[")" + dumps_ + R"("]})");
  auto d = std::make_unique<test_daemon>(dir_, std::vector<std::string>{"--config", cfg}, "");
  ASSERT_TRUE(d->wait_ready()) << d->proc().stderr_text();
  auto w = dump_writer::create(dump());
  ASSERT_TRUE(w);
  wait_run_start(*d, "r1");
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(w->write(spec_of("net/l" + std::to_string(i), 2048, i), ramp(2048, 1.0f)));
  }
  raw_client c(dir_.file("sock"));
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(wait_until([&] {
    return c.call("status").result.find(R"("run":"r1","records":2,)") != std::string::npos;
  })) << c.call("status").raw;
  EXPECT_EQ(status_archive(c), "");  // not archiving yet

  sigdump::testing::write_file(
      cfg, R"({"watch":[")" + dumps_ + R"("],"archive":{"dir":")" + arch_ + R"("}})");
  ASSERT_TRUE(d->proc().signal(SIGHUP));
  auto rs =
      d->wait_event([](const auto& e) { return e.event == "resync" && e.reason == "reload"; });
  ASSERT_EQ(rs.event, "resync") << d->proc().stderr_text();
  for (int i = 2; i < 4; ++i) {
    ASSERT_TRUE(w->write(spec_of("net/l" + std::to_string(i), 2048, i), ramp(2048, 1.0f)));
  }
  ASSERT_TRUE(w->close());
  ASSERT_TRUE(wait_until([&] { return synced(c, "r1"); }))
      << d->proc().stderr_text() << c.call("runs").raw;
  EXPECT_EQ(read_file(copy(1)), read_file(dump()));
  EXPECT_EQ(d->proc().stderr_text().find("sigdumpd: error: "), std::string::npos)
      << d->proc().stderr_text();
}

}  // namespace
}  // namespace sigdump::daemon::archive_tests
