// Every view of a real sigdumpd tells the same truth, under both event
// loops: status, runs, the status board (sigdump top), query and report
// agree with each other and with the files, a pair added by a reload
// compares what is on disk, and the log says what happened to each run.
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>

#include <atomic>
#include <thread>

#include "pair_daemon_support.h"

namespace sigdump::testing {
namespace {

class DaemonViews : public PairDaemonTest {
 protected:
  // The string member `key` of the first element of `array` in a JSON
  // document (empty if there is none).
  static std::string first_of(const std::string& json, const char* array, const char* key) {
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    simdjson::dom::array list;
    std::string_view v;
    if (p.parse(json).get(doc) || doc[array].get_array().get(list) || list.size() == 0 ||
        list.at(0)[key].get_string().get(v)) {
      return {};
    }
    return std::string(v);
  }
  static std::string member(const std::string& json, const char* key) {
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    std::string_view v;
    if (p.parse(json).get(doc) || doc[key].get_string().get(v)) return {};
    return std::string(v);
  }
  logged_event run_end_of(test_daemon& d, const std::string& path,
                          const std::string& not_run = {}) {
    return d.wait_event([&](const logged_event& e) {
      return e.event == "run_end" && e.path == path && e.run != not_run;
    });
  }
};

// The pair's files were created after the daemon started: status said
// "exists": false for them forever while listing them under "files".
TEST_P(DaemonViews, StatusSaysAPairFileCreatedAfterStartExists) {
  auto d = start();
  auto before = sigdump("status");
  EXPECT_NE(before.out.find(sample_ + " (file)  [does not exist yet]"), std::string::npos)
      << before.out;
  write_dump(bench_, 4, 1.0f);
  write_dump(sample_, 4, 1.01f);
  ASSERT_EQ(run_end_of(*d, sample_).event, "run_end") << d->proc().stderr_text();
  raw_client c(dir_.file("sock"));
  ASSERT_TRUE(c.connected());
  const std::string status = c.call("status").result;
  EXPECT_NE(status.find("\"path\":\"" + sample_ + "\",\"run\""), std::string::npos) << status;
  EXPECT_EQ(status.find("\"exists\":false"), std::string::npos) << status;
  auto text = sigdump("status");
  EXPECT_EQ(text.out.find("does not exist"), std::string::npos) << text.out;
}

// The sample was closed while its benchmark was still being written: runs
// and status said the run had ended, the status board (top) still "live".
TEST_P(DaemonViews, TopAgreesWithRunsAndStatusOnARunThatEnded) {
  constexpr int layers = 200;
  auto bench = dump_writer::create(bench_);
  ASSERT_TRUE(bench);
  ASSERT_TRUE(bench->write(spec_of("net/l0", 256, 0), ramp(256, 1.0f)));
  auto d = start();
  // The benchmark grows a layer every 50 ms (well within --quiet-ms 400)
  // until the test is done: the sample's run stays waiting for it.
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 1; i < layers && !done; ++i) {
      ASSERT_TRUE(bench->write(spec_of("net/l" + std::to_string(i), 256, i), ramp(256, 1.0f)));
      wait_until([&] { return done.load(); }, std::chrono::milliseconds(50));
    }
  });
  write_dump(sample_, layers, 1.01f);
  raw_client c(dir_.file("sock"));
  ASSERT_TRUE(c.connected());
  std::string status;
  ASSERT_TRUE(wait_until([&] {
    status = c.call("status").result;
    return first_of(status, "pairs", "state") == "ended";
  })) << status;
  const std::string run = first_of(status, "pairs", "run");
  auto runs = list_runs(dir_.file("sock"));
  EXPECT_EQ(runs[run].state, "ended");
  auto top = sigdump("top", {"--once", "--json"});
  done = true;
  writer.join();
  ASSERT_EQ(top.exit_code, 0) << top.out << top.err;
  EXPECT_EQ(first_of(top.out, "pairs", "run"), run) << top.out;
  EXPECT_EQ(first_of(top.out, "pairs", "state"), "ended") << top.out;
  ASSERT_TRUE(bench->close());
}

// A pair added by SIGHUP was not compared against the files on disk
// (`runs --pair second`: no runs yet) until a restart.
TEST_P(DaemonViews, ReloadedPairComparesTheFilesOnDisk) {
  const std::string other = dumps_ + "/other_outtensor_dump.bin";
  write_dump(bench_, 5, 1.0f);
  write_dump(sample_, 5, 1.01f);
  write_dump(other, 5, 1.5f);
  const std::string cfg = dir_.file("sigdumpd.json");
  const std::string first =
      R"({"name":"first","sample":")" + sample_ + R"(","benchmark":")" + bench_ + R"("})";
  const std::string second =
      R"({"name":"second","sample":")" + other + R"(","benchmark":")" + bench_ + R"("})";
  write_file(cfg, R"({"watch":[")" + dumps_ + R"("],"pairs":[)" + first + "]}");
  test_daemon d(dir_, {"--config", cfg}, loop());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  ASSERT_EQ(run_end_of(d, sample_).event, "run_end") << d.proc().stderr_text();
  write_file(cfg, R"({"watch":[")" + dumps_ + R"("],"pairs":[)" + first + "," + second + "]}");
  ASSERT_TRUE(d.proc().signal(SIGHUP));
  auto end = d.wait_event(
      [&](const logged_event& e) { return e.event == "run_end" && e.pair == "second"; });
  ASSERT_EQ(end.event, "run_end") << d.proc().stderr_text() << read_file(d.events_path());
  EXPECT_EQ(end.path, other);
  std::vector<std::string> live;
  for (const auto& e : d.events()) {
    if (e.event == "layer" && e.run == end.run) live.push_back(e.layer);
  }
  EXPECT_EQ(live, offline_layers(other, bench_));
  // The first pair's run went on untouched.
  EXPECT_EQ(count_events(d.events(), "run_start"), 4u) << read_file(d.events_path());
  auto listed = sigdump("runs", {"--pair", "second"});
  EXPECT_EQ(listed.out.find("no runs yet"), std::string::npos) << listed.out;
}

// A pair removed by SIGHUP kept its slot on the status board: `top` showed
// it for good. Its slot is freed, status and Prometheus drop it, and its
// file's runs are no longer the pair's: the file gets a run of its own.
TEST_P(DaemonViews, ReloadRemovingAPairFreesItsSlotAndItsRuns) {
  const std::string other = dumps_ + "/other_outtensor_dump.bin";
  write_dump(bench_, 5, 1.0f);
  write_dump(sample_, 5, 1.01f);
  write_dump(other, 5, 1.5f);
  const std::string cfg = dir_.file("sigdumpd.json");
  const std::string prom = dir_.file("prom");
  fs::create_directories(prom);
  const std::string first =
      R"({"name":"first","sample":")" + sample_ + R"(","benchmark":")" + bench_ + R"("})";
  const std::string second =
      R"({"name":"second","sample":")" + other + R"(","benchmark":")" + bench_ + R"("})";
  auto config = [&](const std::string& pairs) {
    write_file(cfg, R"({"watch":[")" + dumps_ + R"("],"metrics":{"textfile_dir":")" + prom +
                        R"(","interval_ms":50},"pairs":[)" + pairs + "]}");
  };
  config(first + "," + second);
  test_daemon d(dir_, {"--config", cfg}, loop());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  ASSERT_EQ(run_end_of(d, other).event, "run_end") << d.proc().stderr_text();
  auto top = sigdump("top", {"--once", "--json"});
  ASSERT_NE(top.out.find("\"name\":\"second\""), std::string::npos) << top.out << top.err;
  config(first);
  ASSERT_TRUE(d.proc().signal(SIGHUP));
  // The file's run of the removed pair ends, and one without a pair starts.
  auto own = d.wait_event([&](const logged_event& e) {
    return e.event == "run_start" && e.path == other && e.pair.empty();
  });
  ASSERT_EQ(own.event, "run_start") << read_file(d.events_path());
  EXPECT_TRUE(wait_until([&] {
    top = sigdump("top", {"--once", "--json"});
    return top.exit_code == 0 && top.out.find("\"name\":\"second\"") == std::string::npos;
  })) << top.out
      << top.err;
  EXPECT_NE(top.out.find("\"name\":\"first\""), std::string::npos) << top.out;
  const std::string status = sigdump("status", {"--json"}).out;
  EXPECT_EQ(status.find("\"second\""), std::string::npos) << status;
  std::string metrics;
  EXPECT_TRUE(wait_until([&] {
    metrics = fs::exists(prom + "/sigdumpd.prom") ? read_file(prom + "/sigdumpd.prom") : "";
    return metrics.find("pair=\"first\"") != std::string::npos &&
           metrics.find("pair=\"second\"") == std::string::npos;
  })) << metrics;
  // No run is the removed pair's current one any more, and every run ends
  // (the other files' runs on their quiet time, which may come later).
  std::string live;
  EXPECT_TRUE(wait_until([&] {
    live.clear();
    for (const auto& [id, r] : list_runs(dir_.file("sock"))) {
      if (r.state == "live") live += id + " ";
    }
    return live.empty();
  })) << "live: "
      << live << "\n"
      << read_file(d.events_path());
  const std::string runs = sigdump("runs", {"--json", "--path", other}).out;
  EXPECT_EQ(first_of(runs, "runs", "run"), own.run) << runs;
  EXPECT_NE(sigdump("runs", {"--pair", "second"}).exit_code, 0);
}

// Without --pair, `query NAME` landed on the benchmark (the newest run):
// "metrics: none". It reads the sample side and says so.
TEST_P(DaemonViews, QueryWithoutPairReadsTheSampleSide) {
  auto d = start();
  write_dump(sample_, 4, 1.01f);
  d->wait_event([&](const logged_event& e) { return e.event == "run_start" && e.path == sample_; });
  write_dump(bench_, 4, 1.0f);  // the benchmark's run is the newest
  auto end = run_end_of(*d, sample_);
  ASSERT_EQ(end.event, "run_end") << d->proc().stderr_text();
  ASSERT_TRUE(settled());
  auto q = sigdump("query", {"net/l2", "--json"});
  ASSERT_EQ(q.exit_code, 0) << q.out << q.err;
  EXPECT_EQ(member(q.out, "path"), sample_) << q.out;
  EXPECT_EQ(member(q.out, "run"), end.run) << q.out;
  EXPECT_EQ(member(q.out, "pair"), "p") << q.out;
  EXPECT_NE(q.out.find("\"metrics\":{"), std::string::npos) << q.out;
  auto text = sigdump("query", {"net/l2"});
  EXPECT_NE(text.out.find("  run " + end.run + " (sample of pair p)  file " + sample_),
            std::string::npos)
      << text.out;
  EXPECT_EQ(text.out.find("metrics: none"), std::string::npos) << text.out;
}

// `report RUN` of an overwritten run said "archiving is not implemented"
// while the archive held its copy.
TEST_P(DaemonViews, ReportOfAnOverwrittenRunReadsItsArchivedCopy) {
  write_dump(bench_, 6, 1.0f);
  auto d = start();
  write_dump(sample_, 6, 1.01f);
  auto first = run_end_of(*d, sample_);
  ASSERT_EQ(first.event, "run_end") << d->proc().stderr_text();
  ASSERT_TRUE(settled());
  const std::string original = dir_.file("original.bin");
  fs::copy_file(sample_, original);
  // Another run overwrites the file: other values from layer 2 on.
  {
    auto w = dump_writer::create(sample_);
    ASSERT_TRUE(w);
    for (int i = 0; i < 6; ++i) {
      ASSERT_TRUE(
          w->write(spec_of("net/l" + std::to_string(i), 256, i), ramp(256, i < 2 ? 1.0f : -1.0f)));
    }
    ASSERT_TRUE(w->close());
  }
  ASSERT_EQ(run_end_of(*d, sample_, first.run).event, "run_end");
  ASSERT_TRUE(settled());
  auto from_daemon = sigdump("report", {first.run, "--out", dir_.file("r.html")});
  EXPECT_NE(from_daemon.exit_code, 2) << from_daemon.out << from_daemon.err;
  EXPECT_NE(from_daemon.out.find("sample the archived copy " + arch_ + "/"), std::string::npos)
      << from_daemon.out << from_daemon.err;
  auto offline =
      run({bin_path("sigdump"), "report", original, bench_, "--out", dir_.file("o.html")});
  const auto summary = [](const std::string& out) { return out.substr(out.find(".html: ")); };
  ASSERT_NE(offline.out.find(".html: "), std::string::npos) << offline.out << offline.err;
  ASSERT_NE(from_daemon.out.find(".html: "), std::string::npos) << from_daemon.out;
  EXPECT_EQ(summary(from_daemon.out), summary(offline.out));
  EXPECT_EQ(from_daemon.exit_code, offline.exit_code);
}

// The log says how each run ended, one line each, with no sd-daemon
// priority prefixes outside the journal and one "error:"/"warning:" word.
TEST_P(DaemonViews, LogSaysHowEachRunEnded) {
  write_dump(bench_, 6, 1.0f);
  const std::string junk = dumps_ + "/junk_outtensor_dump.bin";
  write_file(junk, "not a dump\n");
  auto d = start();
  {
    auto w = dump_writer::create(sample_);
    ASSERT_TRUE(w);
    for (int i = 0; i < 6; ++i) {
      ASSERT_TRUE(
          w->write(spec_of("net/l" + std::to_string(i), 256, i), ramp(256, i == 3 ? -1.0f : 1.0f)));
    }
    ASSERT_TRUE(w->close());
  }
  auto end = run_end_of(*d, sample_);
  ASSERT_EQ(end.event, "run_end") << d->proc().stderr_text();
  const std::string who = "sigdumpd: " + end.run + " of pair p (" + sample_ + ")";
  std::string err;
  ASSERT_TRUE(wait_until([&] {
    err = d->proc().stderr_text();
    return err.find(who + " ended: ") != std::string::npos;
  })) << err;
  EXPECT_NE(err.find(who + " started: created\n"), std::string::npos) << err;
  const std::string ended = err.substr(err.find(who + " ended: "));
  const std::string line = ended.substr(0, ended.find('\n'));
  EXPECT_NE(line.find(" ended: closed; 6 of 6 sample layers compared; 1 suspect; fail"),
            std::string::npos)
      << line;
  EXPECT_NE(line.find("; first bad layer 3 net/l3 (COS "), std::string::npos) << line;
  EXPECT_NE(line.find("; diagnosis: "), std::string::npos) << line;
  EXPECT_NE(err.find("sigdumpd: warning: " + junk), std::string::npos) << err;
  EXPECT_EQ(err.find("sigdump: error"), std::string::npos) << err;
  for (char level = '0'; level <= '7'; ++level) {
    EXPECT_EQ(err.find(std::string("<") + level + ">sigdumpd"), std::string::npos) << err;
  }
}

INSTANTIATE_TEST_SUITE_P(Loops, DaemonViews, ::testing::Values("io_uring", "epoll"),
                         [](const auto& p) { return std::string(p.param); });

// sd-daemon priority prefixes go to the journal only: JOURNAL_STREAM must
// name stderr itself (systemd sets it; a shell started from the unit, or a
// terminal, inherits a value that names another stream).
TEST(DaemonLog, PriorityPrefixesOnlyWhenStderrIsTheJournal) {
  temp_dir dir;
  auto start = [&](const std::string& journal) {
    // The shell sets JOURNAL_STREAM to its stderr's device and inode (as
    // systemd does for a unit) unless told what to set.
    const std::string set = journal.empty() ? "$(stat -L -c %d:%i /proc/self/fd/2)" : journal;
    return std::make_unique<child>(
        std::vector<std::string>{"/bin/sh", "-c", "JOURNAL_STREAM=" + set + " exec \"$@\"", "sh",
                                 bin_path("sigdumpd"), "--foreground", "--state-dir",
                                 dir.file("state"), "--socket", dir.file("sock")},
        std::vector<std::string>{"XDG_CONFIG_HOME=" + dir.file("no-config"),
                                 "XDG_RUNTIME_DIR=" + dir.path().string()});
  };
  for (const std::string journal : {"", "1:1"}) {
    auto d = start(journal);
    ASSERT_TRUE(wait_until([&] { return d->stderr_text().find("ready:") != std::string::npos; }))
        << d->stderr_text();
    const std::string err = d->stderr_text();
    if (journal.empty()) {
      EXPECT_NE(err.find("<6>sigdumpd: ready: "), std::string::npos) << err;
    } else {
      EXPECT_NE(err.find("sigdumpd: ready: "), std::string::npos) << err;
      EXPECT_EQ(err.find("<6>"), std::string::npos) << err;
    }
    ASSERT_TRUE(d->signal(SIGTERM));
    EXPECT_EQ(d->wait(), 0) << d->stderr_text();
  }
}

}  // namespace
}  // namespace sigdump::testing
