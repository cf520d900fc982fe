// The live commands (status, runs, query, subscribe, top) against a real
// sigdumpd in a temp folder, fed by real writer processes (sigdump simulate).
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>

#include <algorithm>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"

namespace {

using namespace std::chrono_literals;
using sigdump::testing::bin_path;
using sigdump::testing::child;
using sigdump::testing::run;
using sigdump::testing::run_result;
using sigdump::testing::temp_dir;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

std::string describe(const run_result& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

TEST(LiveCommands, NoDaemonExitsTwoAndSaysHowToStartIt) {
  temp_dir tmp;
  const std::string sock = tmp.file("sock");
  const std::vector<std::vector<std::string>> commands = {
      {"status"}, {"runs"}, {"query", "conv1"}, {"subscribe", "--count", "1"}, {"top", "--once"}};
  for (const auto& cmd : commands) {
    std::vector<std::string> argv{bin_path("sigdump")};
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    argv.insert(argv.end(), {"--socket", sock});
    auto r = run(argv, {}, {}, 30s);
    EXPECT_EQ(r.exit_code, 2) << cmd[0] << ": " << describe(r);
    EXPECT_NE(r.err.find("no sigdumpd listening on " + sock), std::string::npos)
        << cmd[0] << ": " << r.err;
    EXPECT_NE(r.err.find("sigdumpd --foreground"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  }
  // The environment variable is honoured the same way.
  auto r = run({bin_path("sigdump"), "status"}, {}, {"SIGDUMP_SOCKET=" + sock}, 30s);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(sock), std::string::npos) << r.err;
}

TEST(LiveCommands, HelpIsCompleteAndExitsZero) {
  for (std::string cmd : {"status", "runs", "query", "subscribe", "top"}) {
    auto r = run({bin_path("sigdump"), cmd, "--help"}, {}, {}, 30s);
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("usage: sigdump " + cmd), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--socket PATH"), std::string::npos) << cmd;
    EXPECT_NE(r.out.find("exit status"), std::string::npos) << cmd;
  }
  auto bad = run({bin_path("sigdump"), "subscribe", "--count", "zero"}, {}, {}, 30s);
  EXPECT_EQ(bad.exit_code, 2);
}

// One daemon for the suite: it watches a temp folder with one pair "net"
// (fixed.bin against float.bin). SetUpTestSuite starts it, starts a
// subscriber from the clock before any write, runs the two writers and
// waits for the subscriber to see the run end.
class LiveDaemon : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = std::make_unique<temp_dir>();
    sock_ = tmp_->file("sock");
    env_ = {"XDG_STATE_HOME=" + tmp_->file("xdg"), "NO_COLOR=1"};
    daemon_ = std::make_unique<child>(
        std::vector<std::string>{bin_path("sigdumpd"), "--foreground", "--socket", sock_,
                                 "--state-dir", tmp_->file("state"), "--pair",
                                 "net:" + tmp_->file("fixed.bin") + "=" + tmp_->file("float.bin"),
                                 "--watch", tmp_->path().string()},
        std::vector<std::string>{}, tmp_->file("daemon"));
    const bool up = sigdump::testing::wait_until(
        [] { return daemon_->alive() && sigdump("status").exit_code == 0; }, 30s);
    if (!up) {
      setup_error_ = "sigdumpd did not start: " + daemon_->stderr_text();
      return;
    }
    auto st = sigdump("status", {"--json"});
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    std::string_view clock;
    if (p.parse(st.out).get(doc) || doc["daemon"]["clock"].get_string().get(clock)) {
      setup_error_ = "status --json has no daemon.clock: " + st.out;
      return;
    }
    start_clock_ = std::string(clock);
    // Started before the writers, from the clock before them: sees every
    // event exactly once whatever the scheduling.
    subscriber_ = std::make_unique<child>(
        std::vector<std::string>{bin_path("sigdump"), "subscribe", "--socket", sock_, "--json",
                                 "--pair", "net", "--since", start_clock_, "--until-run-end"},
        env_, tmp_->file("subscriber"));
    auto w1 =
        run({bin_path("sigdump"), "simulate", "--mode", "float", "--out", tmp_->file("float.bin")},
            {}, {}, 60s);
    auto w2 = run({bin_path("sigdump"), "simulate", "--mode", "fixed", "--pace-ms", "5", "--out",
                   tmp_->file("fixed.bin")},
                  {}, {}, 60s);
    if (w1.exit_code != 0 || w2.exit_code != 0) {
      setup_error_ = "sigdump simulate failed: " + w1.err + w2.err;
      return;
    }
    subscriber_exit_ = subscriber_->wait(60s);
  }

  static void TearDownTestSuite() {
    subscriber_.reset();
    if (daemon_) {
      daemon_->signal(SIGTERM);
      daemon_->wait(10s);
    }
    daemon_.reset();
    tmp_.reset();
  }

  void SetUp() override {
    // Our own daemon or simulator failing is a failure, never a skip.
    if (!setup_error_.empty()) FAIL() << setup_error_;
  }

  static run_result sigdump(const std::string& cmd, std::vector<std::string> more = {},
                            std::vector<std::string> env = {}) {
    std::vector<std::string> argv{bin_path("sigdump"), cmd, "--socket", sock_};
    argv.insert(argv.end(), more.begin(), more.end());
    env.insert(env.end(), env_.begin(), env_.end());
    return run(argv, {}, env, 60s);
  }

  static std::unique_ptr<temp_dir> tmp_;
  static std::string sock_, start_clock_, setup_error_;
  static std::vector<std::string> env_;
  static std::unique_ptr<child> daemon_, subscriber_;
  static int subscriber_exit_;
};

std::unique_ptr<temp_dir> LiveDaemon::tmp_;
std::string LiveDaemon::sock_, LiveDaemon::start_clock_, LiveDaemon::setup_error_;
std::vector<std::string> LiveDaemon::env_;
std::unique_ptr<child> LiveDaemon::daemon_, LiveDaemon::subscriber_;
int LiveDaemon::subscriber_exit_ = -2;

constexpr const char* bad_layer = "conv3_1/linear/bn_xx";  // the simulator's lossy layer

TEST_F(LiveDaemon, SubscribeJsonStreamsEveryLayerThenRunEnd) {
  // Suspect layers in the run: exit 1 from --until-run-end.
  EXPECT_EQ(subscriber_exit_, 1) << subscriber_->stderr_text();
  auto lines = lines_of(subscriber_->stdout_text());
  ASSERT_FALSE(lines.empty()) << subscriber_->stderr_text();
  simdjson::dom::parser p;
  std::vector<std::string> kinds;
  std::int64_t layers = 0, suspect_layers = 0, last_index = -1;
  bool saw_bad = false;
  for (const auto& line : lines) {
    simdjson::dom::element ev;
    ASSERT_FALSE(p.parse(line).get(ev)) << "not JSON: " << line;
    std::string_view kind, pair;
    ASSERT_FALSE(ev["event"].get_string().get(kind)) << line;
    ASSERT_FALSE(ev["clock"].get_string().error()) << line;
    ASSERT_FALSE(ev["pair"].get_string().get(pair)) << line;
    EXPECT_EQ(pair, "net");
    kinds.emplace_back(kind);
    if (kind == "layer") {
      std::int64_t index = 0;
      ASSERT_FALSE(ev["layer"]["index"].get_int64().get(index));
      EXPECT_EQ(index, last_index + 1) << "layers in order, none missing";
      last_index = index;
      ++layers;
      bool suspect = false;
      ASSERT_FALSE(ev["layer"]["suspect"].get_bool().get(suspect)) << line;
      std::string_view name;
      ASSERT_FALSE(ev["layer"]["name"].get_string().get(name));
      if (suspect) ++suspect_layers;
      if (name == bad_layer) {
        saw_bad = true;
        EXPECT_TRUE(suspect) << line;
      }
    }
  }
  EXPECT_EQ(kinds.front(), "run_start");
  EXPECT_EQ(kinds.back(), "run_end");
  EXPECT_GT(layers, 5);
  EXPECT_GT(suspect_layers, 0);
  EXPECT_TRUE(saw_bad);
}

TEST_F(LiveDaemon, StatusShowsThePairAndItsFirstBadLayer) {
  auto json = sigdump("status", {"--json"});
  ASSERT_EQ(json.exit_code, 0) << describe(json);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_FALSE(p.parse(json.out).get(doc)) << json.out;
  simdjson::dom::array pairs;
  ASSERT_FALSE(doc["pairs"].get_array().get(pairs));
  ASSERT_EQ(pairs.size(), 1u);
  simdjson::dom::element net = pairs.at(0);
  std::string_view name;
  ASSERT_FALSE(net["first_bad"]["name"].get_string().get(name)) << json.out;
  EXPECT_EQ(name, bad_layer);

  auto text = sigdump("status");
  ASSERT_EQ(text.exit_code, 0) << describe(text);
  EXPECT_NE(text.out.find("sigdumpd "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("net"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(std::string("first bad: 8 ") + bad_layer), std::string::npos) << text.out;
}

TEST_F(LiveDaemon, RunsListsTheEndedRun) {
  auto json = sigdump("runs", {"--json", "--pair", "net", "--limit", "5"});
  ASSERT_EQ(json.exit_code, 0) << describe(json);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_FALSE(p.parse(json.out).get(doc)) << json.out;
  simdjson::dom::array runs;
  ASSERT_FALSE(doc["runs"].get_array().get(runs)) << json.out;
  ASSERT_GE(runs.size(), 1u);
  std::string_view state, pair;
  ASSERT_FALSE(runs.at(0)["state"].get_string().get(state));
  ASSERT_FALSE(runs.at(0)["pair"].get_string().get(pair));
  EXPECT_EQ(state, "ended");
  EXPECT_EQ(pair, "net");
  std::int64_t suspect = 0;
  ASSERT_FALSE(runs.at(0)["suspect"].get_int64().get(suspect));
  EXPECT_GT(suspect, 0);

  auto text = sigdump("runs");
  ASSERT_EQ(text.exit_code, 0) << describe(text);
  EXPECT_NE(text.out.find("RUN"), std::string::npos);
  EXPECT_NE(text.out.find(tmp_->file("fixed.bin")), std::string::npos) << text.out;
  auto bad = sigdump("runs", {"--limit", "-3"});
  EXPECT_EQ(bad.exit_code, 2);
}

TEST_F(LiveDaemon, TopOnceReadsTheBoard) {
  auto json = sigdump("top", {"--once", "--json"});
  ASSERT_EQ(json.exit_code, 0) << describe(json);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_FALSE(p.parse(json.out).get(doc)) << json.out;
  simdjson::dom::element net = doc["pairs"].at(0);
  std::string_view name, state, first_bad;
  ASSERT_FALSE(net["name"].get_string().get(name));
  ASSERT_FALSE(net["state"].get_string().get(state));
  ASSERT_FALSE(net["first_bad"]["name"].get_string().get(first_bad)) << json.out;
  EXPECT_EQ(name, "net");
  EXPECT_EQ(state, "ended");
  EXPECT_EQ(first_bad, bad_layer);
  std::int64_t layers = 0, suspect = 0;
  ASSERT_FALSE(net["layers"].get_int64().get(layers));
  ASSERT_FALSE(net["suspect"].get_int64().get(suspect));
  EXPECT_GT(layers, 5);
  EXPECT_GT(suspect, 0);
  // The board agrees with the daemon's own answer.
  auto st = sigdump("status", {"--json"});
  simdjson::dom::parser p2;
  simdjson::dom::element sdoc;
  ASSERT_FALSE(p2.parse(st.out).get(sdoc));
  std::int64_t s_layers = -1;
  ASSERT_FALSE(sdoc["pairs"].at(0)["layers"].get_int64().get(s_layers));
  EXPECT_EQ(layers, s_layers);

  auto text = sigdump("top", {"--once"});
  ASSERT_EQ(text.exit_code, 0) << describe(text);
  EXPECT_NE(text.out.find("PAIR"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(std::string("! 8 ") + bad_layer), std::string::npos) << text.out;
}

TEST_F(LiveDaemon, SubscribeCountAndResumeFromLastClock) {
  // A fresh subscribe (no since) gets the current state whole: run_start first.
  auto fresh = sigdump("subscribe", {"--json", "--count", "3"});
  ASSERT_EQ(fresh.exit_code, 0) << describe(fresh);
  auto lines = lines_of(fresh.out);
  ASSERT_EQ(lines.size(), 3u) << fresh.out;
  EXPECT_NE(lines[0].find("\"run_start\""), std::string::npos) << lines[0];

  // From the start clock, one event; then --since last continues right after it.
  auto first = sigdump("subscribe", {"--json", "--count", "1", "--since", start_clock_});
  ASSERT_EQ(first.exit_code, 0) << describe(first);
  auto second = sigdump("subscribe", {"--json", "--count", "1", "--since", "last"});
  ASSERT_EQ(second.exit_code, 0) << describe(second);
  simdjson::dom::parser p;
  simdjson::dom::element a, b;
  ASSERT_FALSE(p.parse(first.out).get(a)) << first.out;
  std::string clock_a(a["clock"].get_string().value_unsafe());
  simdjson::dom::parser p2;
  ASSERT_FALSE(p2.parse(second.out).get(b)) << second.out;
  std::string clock_b(b["clock"].get_string().value_unsafe());
  auto tick = [](const std::string& c) { return std::stoull(c.substr(c.rfind(':') + 1)); };
  EXPECT_EQ(tick(clock_b), tick(clock_a) + 1) << clock_a << " then " << clock_b;
  auto saved = sigdump::testing::read_file(tmp_->file("xdg") + "/sigdump/subscribe.clock");
  EXPECT_NE(saved.find(sock_ + "\t" + clock_b), std::string::npos) << saved;
}

TEST_F(LiveDaemon, SubscribeTableMarksSuspectLayers) {
  auto text = sigdump(
      "subscribe", {"--pair", "net", "--suspect-only", "--since", start_clock_, "--until-run-end"});
  EXPECT_EQ(text.exit_code, 1) << describe(text);
  EXPECT_NE(text.out.find("-- run "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(std::string("!      8  ") + bad_layer), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("first bad layer: 8"), std::string::npos) << text.out;
}

TEST_F(LiveDaemon, QueryAnswersStatsMetricsLocatorAndValues) {
  auto json = sigdump("query", {bad_layer, "--pair", "net", "--values", "0:4", "--json"});
  EXPECT_EQ(json.exit_code, 1) << "suspect metrics: " << describe(json);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_FALSE(p.parse(json.out).get(doc)) << json.out;
  std::string_view name;
  ASSERT_FALSE(doc["record"]["name"].get_string().get(name)) << json.out;
  EXPECT_EQ(name, bad_layer);
  std::int64_t count = 0, offset = 0;
  ASSERT_FALSE(doc["stats"]["count"].get_int64().get(count)) << json.out;
  EXPECT_GT(count, 0);
  ASSERT_FALSE(doc["locator"]["offset"].get_int64().get(offset)) << json.out;
  EXPECT_GT(offset, 0);
  simdjson::dom::array data;
  ASSERT_FALSE(doc["values"]["data"].get_array().get(data)) << json.out;
  EXPECT_EQ(data.size(), 4u);

  auto text = sigdump("query", {bad_layer, "--pair", "net", "--values", "0:4"});
  EXPECT_EQ(text.exit_code, 1) << describe(text);
  for (const char* part : {"stats:", "metrics:", "locator:", "values [0, 4):", "COS:"}) {
    EXPECT_NE(text.out.find(part), std::string::npos) << part << " in\n" << text.out;
  }
  auto missing = sigdump("query", {"no/such/tensor"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("not_found"), std::string::npos) << missing.err;
}

TEST_F(LiveDaemon, QueryChannelsEqualOfflineCompareAndNameTheOutlierChannels) {
  // The lossy layer: its channels from the daemon equal `sigdump compare --json`'s.
  auto json = sigdump("query", {bad_layer, "--pair", "net", "--channels", "--json"});
  EXPECT_EQ(json.exit_code, 1) << describe(json);
  auto offline = run(
      {bin_path("sigdump"), "compare", tmp_->file("fixed.bin"), tmp_->file("float.bin"), "--json"});
  ASSERT_EQ(offline.exit_code, 1) << offline.err;
  simdjson::dom::parser p, p2;
  simdjson::dom::element live_doc, off_doc;
  ASSERT_FALSE(p.parse(json.out).get(live_doc)) << json.out;
  ASSERT_FALSE(p2.parse(offline.out).get(off_doc)) << offline.out;
  simdjson::dom::element live_ch, off_ch;
  ASSERT_FALSE(live_doc["channels"].get(live_ch)) << json.out;
  ASSERT_TRUE(live_ch.is_object()) << json.out;
  ASSERT_FALSE(off_doc["layers"].at(8)["channels"].get(off_ch)) << offline.out;
  EXPECT_EQ(simdjson::minify(live_ch), simdjson::minify(off_ch));
  EXPECT_EQ(live_ch["count"].get_uint64().value(), 32u);

  auto text = sigdump("query", {bad_layer, "--pair", "net", "--channels"});
  EXPECT_EQ(text.exit_code, 1) << describe(text);
  for (const char* part : {"channels: C=32 (axis 3)", "  worst: c",
                           "largest |a-b| at n,h,w,c:", "       c        COS       RMSE"}) {
    EXPECT_NE(text.out.find(part), std::string::npos) << part << " in\n" << text.out;
  }
  // Its input: a fine COS overall, yet two channels ~100x wider than the rest.
  text = sigdump("query", {"conv3_1/expand/bn_xx_xx", "--pair", "net", "--channels"});
  EXPECT_EQ(text.exit_code, 0) << describe(text);
  EXPECT_NE(text.out.find("outlier channels (peak > 10x the median channel's): c5 c21"),
            std::string::npos)
      << text.out;
  // Without --channels the reply's "channels" is null.
  auto plain = sigdump("query", {bad_layer, "--pair", "net", "--json"});
  simdjson::dom::parser p3;
  simdjson::dom::element plain_doc;
  ASSERT_FALSE(p3.parse(plain.out).get(plain_doc)) << plain.out;
  EXPECT_TRUE(plain_doc["channels"].is_null()) << plain.out;
}

}  // namespace
