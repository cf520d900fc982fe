// A run's outcome in the daemon is the offline one: against a real sigdumpd
// under both event loops, with real writer processes, run_end, runs and
// status carry the diagnosis and ranked advice `sigdump compare --json`
// prints for the same files, and the coverage and verdict of ended runs
// (with their diagnosis and advice) survive a restart.
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>

#include <filesystem>
#include <map>
#include <string>

#include "daemon_support.h"
#include "ipc_test_client.h"

namespace sigdump::testing {
namespace {

namespace fs = std::filesystem;

// The keys of a run that must agree, each minified.
using outcome = std::map<std::string, std::string>;

outcome keys_of(simdjson::dom::element o, std::initializer_list<const char*> keys) {
  outcome out;
  for (const char* k : keys) {
    simdjson::dom::element v;
    out[k] = o[k].get(v) ? "<absent>" : simdjson::minify(v);
  }
  return out;
}

// The first events-log line of this kind for this path, as an outcome.
outcome logged(const std::string& events_log, const std::string& kind, const std::string& path,
               std::initializer_list<const char*> keys) {
  const std::string line = first_event_line(events_log, kind, "path", path);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (line.empty() || p.parse(line).get(doc)) return {};
  return keys_of(doc, keys);
}

// The run of `runs` whose path is `path`, as an outcome (empty if none).
outcome listed(const std::string& socket, const std::string& path,
               std::initializer_list<const char*> keys) {
  raw_client c(socket);
  auto m = c.call("runs");
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  simdjson::dom::array runs;
  if (p.parse(m.result).get(doc) || doc["runs"].get_array().get(runs)) return {};
  for (simdjson::dom::element r : runs) {
    std::string_view pa;
    if (!r["path"].get(pa) && pa == path) return keys_of(r, keys);
  }
  return {};
}

// The first pair of `status`, as an outcome (empty if none).
outcome pair_status(const std::string& socket, std::initializer_list<const char*> keys) {
  raw_client c(socket);
  auto m = c.call("status", R"({"only":"pairs"})");
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  simdjson::dom::element pair;
  if (p.parse(m.result).get(doc) || doc["pairs"].at(0).get(pair)) return {};
  return keys_of(pair, keys);
}

class RunOutcome : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { fs::create_directories(dumps_); }
  std::unique_ptr<test_daemon> start() {
    auto d = std::make_unique<test_daemon>(
        dir_, std::vector<std::string>{"--watch", dumps_, "--pair", "p:" + sample_ + "=" + bench_},
        GetParam() == "epoll" ? "epoll" : "");
    EXPECT_TRUE(d->wait_ready()) << d->proc().stderr_text();
    return d;
  }
  bool ended(test_daemon& d, const std::string& path) {
    return d.wait_event([&](const logged_event& e) {
              return e.event == "run_end" && e.path == path;
            }).event == "run_end";
  }
  // A dump of `layers` 64-float layers net/l0.. of ramp(64, scale), closed.
  static void write(const std::string& path, int layers, float scale) {
    auto w = dump_writer::create(path);
    ASSERT_TRUE(w);
    for (int i = 0; i < layers; ++i) {
      ASSERT_TRUE(w->write(spec_of("net/l" + std::to_string(i), 64, i), ramp(64, scale)));
    }
    ASSERT_TRUE(w->close());
  }

  temp_dir dir_;
  std::string dumps_ = dir_.file("dumps");
  std::string sample_ = dumps_ + "/fixed.bin";
  std::string bench_ = dumps_ + "/float.bin";
};

// The miniature simulator's fixed model breaks at conv3_1/linear/bn_xx:
// the live run's diagnosis and ranked advice are the offline ones, field
// for field (they used to lack following/preprocessing and all advice).
TEST_P(RunOutcome, LiveDiagnosisAndAdviceAreTheOfflineOnes) {
  auto d = start();
  auto w = run({bin_path("sigdump"), "simulate", "--mode", "float", "--out", bench_});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  ASSERT_TRUE(ended(*d, bench_)) << d->proc().stderr_text();
  raw_client sub(dir_.file("sock"));
  auto since = sub.call("subscribe", R"({"pair":"p"})").clock;
  w = run({bin_path("sigdump"), "simulate", "--mode", "fixed", "--out", sample_});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  ASSERT_TRUE(ended(*d, sample_)) << d->proc().stderr_text();

  auto offline = run({bin_path("sigdump"), "compare", sample_, bench_, "--json"});
  ASSERT_EQ(offline.exit_code, 1) << offline.err;  // suspect layers
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_FALSE(p.parse(offline.out).get(doc)) << offline.out;
  const outcome want = keys_of(doc, {"first_bad", "diagnosis", "advice", "coverage", "verdict"});
  // The case is one worth checking: a jump, INT16 advice with its root cause.
  EXPECT_NE(want.at("diagnosis").find("\"kind\":\"jump\""), std::string::npos)
      << want.at("diagnosis");
  EXPECT_NE(want.at("diagnosis").find("\"following\":"), std::string::npos);
  EXPECT_NE(want.at("advice").find("\"root\":true"), std::string::npos) << want.at("advice");

  const auto keys = {"first_bad", "diagnosis", "advice", "verdict"};
  outcome live = logged(d->events_path(), "run_end", sample_, keys);
  outcome expected = want;
  expected.erase("coverage");
  EXPECT_EQ(live, expected);
  EXPECT_EQ(listed(dir_.file("sock"), sample_, keys), expected);
  // status: the pair's run.
  raw_client c(dir_.file("sock"));
  simdjson::dom::parser sp;
  simdjson::dom::element st;
  simdjson::dom::array pairs;
  ASSERT_FALSE(sp.parse(c.call("status").result).get(st));
  ASSERT_FALSE(st["pairs"].get_array().get(pairs));
  ASSERT_EQ(pairs.size(), 1u);
  EXPECT_EQ(keys_of(pairs.at(0).value(), keys), expected);

  // `sigdump subscribe` prints that advice at the run's end, ranked.
  auto followed = run({bin_path("sigdump"), "subscribe", "--socket", dir_.file("sock"), "--pair",
                       "p", "--since", since, "--until-run-end"});
  EXPECT_EQ(followed.exit_code, 1) << followed.err;
  EXPECT_NE(followed.out.find("   advice: precision breaks at 8) conv3_1/linear/bn_xx (jump), a "
                              "convolution\n     1. conv3_1/expand/bn_xx_xx  (root cause: "),
            std::string::npos)
      << followed.out;
}

// A run that ended incomplete (a benchmark cut after two layers) says so
// after a restart too: same coverage, verdict, diagnosis and advice (the
// verdict used to come back "nothing_compared", the coverage all zero), in
// runs and in status (whose pair used to show no run at all once its
// sample was gone).
TEST_P(RunOutcome, EndedRunsKeepCoverageAndVerdictAcrossARestart) {
  const auto keys = {"coverage", "verdict", "suspect", "first_bad", "diagnosis", "advice"};
  const auto pair_keys = {"run", "benchmark_run", "coverage", "verdict", "first_bad"};
  outcome before, pair_before;
  {
    auto d = start();
    write(bench_, 2, 1.0f);
    ASSERT_TRUE(ended(*d, bench_)) << d->proc().stderr_text();
    write(sample_, 5, 1.001f);
    ASSERT_TRUE(ended(*d, sample_)) << d->proc().stderr_text();
    before = listed(dir_.file("sock"), sample_, keys);
    pair_before = pair_status(dir_.file("sock"), pair_keys);
    ASSERT_TRUE(d->proc().signal(SIGTERM));
    ASSERT_EQ(d->proc().wait(), 0) << d->proc().stderr_text();
  }
  ASSERT_EQ(before.at("verdict"), "\"incomplete\"");
  EXPECT_NE(before.at("coverage").find("\"sample_only\":3"), std::string::npos)
      << before.at("coverage");
  // Twice with the files unchanged (the run goes on), then with the
  // sample gone (the run is only read back from its log).
  for (int restart = 0; restart < 3; ++restart) {
    if (restart == 2) fs::remove(sample_);
    auto d = start();
    EXPECT_EQ(listed(dir_.file("sock"), sample_, keys), before) << "restart " << restart;
    EXPECT_EQ(pair_status(dir_.file("sock"), pair_keys), pair_before) << "restart " << restart;
    ASSERT_TRUE(d->proc().signal(SIGTERM));
    ASSERT_EQ(d->proc().wait(), 0) << d->proc().stderr_text();
  }
  ASSERT_NE(pair_before.at("run"), "null");
}

// A restart continues the runs of unchanged files: their results are what
// the run log's end line kept, so no run_revised goes out (every restart
// used to revise them, the outcome announced having been forgotten). A
// benchmark that grew while the daemon was down does revise the run.
TEST_P(RunOutcome, ARestartRevisesOnlyResultsThatChanged) {
  auto stop = [](test_daemon& d) {
    ASSERT_TRUE(d.proc().signal(SIGTERM));
    ASSERT_EQ(d.proc().wait(), 0) << d.proc().stderr_text();
  };
  const std::string other = dumps_ + "/other.bin";
  {
    auto d = start();
    write(bench_, 2, 1.0f);
    ASSERT_TRUE(ended(*d, bench_)) << d->proc().stderr_text();
    write(sample_, 5, 1.001f);
    ASSERT_TRUE(ended(*d, sample_)) << d->proc().stderr_text();
    stop(*d);
  }
  for (int restart = 0; restart < 2; ++restart) {
    auto d = start();
    // A run that starts after the continued ones were set up: whatever
    // they had to announce is out before its run_end.
    write(other, 1, 1.0f);
    ASSERT_TRUE(ended(*d, other)) << d->proc().stderr_text();
    for (const auto& e : d->events()) {
      EXPECT_NE(e.event, "run_revised")
          << "restart " << restart << ": " << read_file(d->events_path());
    }
    stop(*d);
    fs::remove(other);
  }
  // The benchmark is complete now: the continued run's results change.
  write(bench_, 5, 1.0f);
  auto d = start();
  auto revised = d->wait_event(
      [&](const logged_event& e) { return e.event == "run_revised" && e.path == sample_; });
  ASSERT_EQ(revised.event, "run_revised") << read_file(d->events_path());
  EXPECT_EQ(logged(d->events_path(), "run_revised", sample_, {"verdict", "previous_verdict"}),
            (outcome{{"verdict", "\"pass\""}, {"previous_verdict", "\"incomplete\""}}));
}

// A fixed-point sample with a record of scale 0: run_end, runs and status
// warn about it, naming the file, record and offset, as `sigdump compare`
// does, and runs and status still do after a restart.
TEST_P(RunOutcome, RunEndWarnsAboutAZeroScale) {
  auto d = start();
  auto write = [](const std::string& path, bool is_float) {
    writer_options o;
    o.is_float = is_float;
    auto w = dump_writer::create(path, o);
    ASSERT_TRUE(w);
    for (int i = 0; i < 3; ++i) {
      tensor_spec s = spec_of("net/l" + std::to_string(i), 16, i);
      s.type = is_float ? dtype::f32 : dtype::s16;
      s.scale = !is_float && i == 2 ? 0.0 : 0.01;
      ASSERT_TRUE(w->write(s, ramp(16, 1.0f)));
    }
    ASSERT_TRUE(w->close());
  };
  write(bench_, true);
  ASSERT_TRUE(ended(*d, bench_)) << d->proc().stderr_text();
  write(sample_, false);
  ASSERT_TRUE(ended(*d, sample_)) << d->proc().stderr_text();
  auto offline = run({bin_path("sigdump"), "compare", sample_, bench_, "--json"});
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_FALSE(p.parse(offline.out).get(doc)) << offline.out;
  const outcome want = keys_of(doc, {"warnings"});
  EXPECT_NE(want.at("warnings").find("\"code\":\"zero_scale\""), std::string::npos)
      << want.at("warnings");
  EXPECT_NE(want.at("warnings").find("\"record\":2,\"name\":\"net/l2\""), std::string::npos)
      << want.at("warnings");
  EXPECT_EQ(logged(d->events_path(), "run_end", sample_, {"warnings"}), want);
  EXPECT_EQ(listed(dir_.file("sock"), sample_, {"warnings"}), want);
  EXPECT_EQ(pair_status(dir_.file("sock"), {"warnings"}), want);

  // The run's end line keeps them: after a restart with the files
  // unchanged (the run goes on: the pair's run in status), then with the
  // sample gone (the run is only read back from its log), they are there.
  for (int restart = 0; restart < 2; ++restart) {
    ASSERT_TRUE(d->proc().signal(SIGTERM));
    ASSERT_EQ(d->proc().wait(), 0) << d->proc().stderr_text();
    if (restart == 1) fs::remove(sample_);
    d = start();
    EXPECT_EQ(listed(dir_.file("sock"), sample_, {"warnings"}), want) << "restart " << restart;
    if (restart == 0) {
      EXPECT_EQ(pair_status(dir_.file("sock"), {"warnings"}), want);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Loops, RunOutcome, ::testing::Values("io_uring", "epoll"));

}  // namespace
}  // namespace sigdump::testing
