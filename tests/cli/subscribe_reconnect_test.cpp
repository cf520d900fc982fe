// `sigdump subscribe` across a daemon restart: a real sigdumpd is stopped
// and started again on the same socket and state folder while a real
// subscriber runs and real writer processes (sigdump simulate) write. The
// subscriber reconnects, says so on stderr, shows what happens after the
// restart, shows nothing twice, and --until-run-end still ends it by the
// verdict. --no-reconnect keeps the old exit; --since now shows only new
// events.
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>

#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "test_support.h"

namespace {

using namespace std::chrono_literals;
using sigdump::testing::bin_path;
using sigdump::testing::child;
using sigdump::testing::run;
using sigdump::testing::temp_dir;
using sigdump::testing::wait_until;

// A daemon on tmp/sock with state tmp/state, pair "net" = fixed.bin vs
// float.bin in tmp/w; stopped and started again as the test says.
class Restartable {
 public:
  explicit Restartable(const temp_dir& tmp) : tmp_(tmp) {
    std::filesystem::create_directories(tmp.file("w"));
  }
  void start() {
    proc_ = std::make_unique<child>(
        std::vector<std::string>{bin_path("sigdumpd"), "--foreground", "--socket", sock(),
                                 "--state-dir", tmp_.file("state"), "--watch", tmp_.file("w"),
                                 "--pair", "net:" + file("fixed.bin") + "=" + file("float.bin")},
        std::vector<std::string>{"XDG_CONFIG_HOME=" + tmp_.file("no-config")},
        tmp_.file("daemon" + std::to_string(++starts_)));
    ASSERT_TRUE(wait_until([&] { return clients() >= 0 || !proc_->alive(); }, 30s));
    ASSERT_TRUE(proc_->alive()) << proc_->stderr_text();
  }
  void stop() {
    ASSERT_TRUE(proc_->signal(SIGTERM));
    ASSERT_EQ(proc_->wait(30s), 0) << proc_->stderr_text();
  }
  // The daemon's client count (the asking client included), -1 if it does not answer.
  int clients() const {
    auto r = run({bin_path("sigdump"), "status", "--json", "--socket", sock()}, {}, {}, 30s);
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    std::int64_t n = -1;
    if (r.exit_code != 0 || p.parse(r.out).get(doc) || doc["daemon"]["clients"].get(n)) return -1;
    return static_cast<int>(n);
  }
  std::string sock() const { return tmp_.file("sock"); }
  std::string file(const std::string& name) const { return tmp_.file("w/" + name); }
  void simulate(const std::string& mode, std::vector<std::string> more = {}) const {
    std::vector<std::string> argv{bin_path("sigdump"),
                                  "simulate",
                                  "--mode",
                                  mode,
                                  "--out",
                                  file(mode == "float" ? "float.bin" : "fixed.bin")};
    argv.insert(argv.end(), more.begin(), more.end());
    auto w = run(argv, {}, {}, 60s);
    ASSERT_EQ(w.exit_code, 0) << w.err;
  }
  child& proc() { return *proc_; }

 private:
  const temp_dir& tmp_;
  std::unique_ptr<child> proc_;
  int starts_ = 0;
};

struct shown_event {
  std::string event, run, reason;
  std::int64_t index = -1;
  auto key() const { return std::tie(event, run, index); }
};

std::vector<shown_event> events_of(const std::string& ndjson) {
  std::vector<shown_event> out;
  std::istringstream in(ndjson);
  simdjson::dom::parser p;
  for (std::string line; std::getline(in, line);) {
    simdjson::dom::element doc;
    if (line.empty() || p.parse(line).get(doc)) continue;
    shown_event e;
    std::string_view v;
    if (!doc["event"].get_string().get(v)) e.event = v;
    if (!doc["run"].get_string().get(v)) e.run = v;
    if (!doc["reason"].get_string().get(v)) e.reason = v;
    std::int64_t i = -1;
    if (!doc["layer"]["index"].get_int64().get(i)) e.index = i;
    out.push_back(e);
  }
  return out;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(SubscribeReconnect, ADaemonRestartShowsWhatFollowsAndNothingTwice) {
  temp_dir tmp;
  Restartable d(tmp);
  d.start();
  d.simulate("float");
  // A run cut after 6 records before the restart; the restarted daemon
  // continues it (the file is unchanged) and sends its state whole.
  d.simulate("fixed", {"--cut-after", "6"});
  child sub({bin_path("sigdump"), "subscribe", "--socket", d.sock(), "--json", "--pair", "net",
             "--until-run-end"},
            {"XDG_STATE_HOME=" + tmp.file("xdg")}, tmp.file("sub"));
  ASSERT_TRUE(wait_until([&] { return !events_of(sub.stdout_text()).empty(); }, 30s))
      << sub.stderr_text();
  d.stop();
  ASSERT_TRUE(wait_until(
      [&] { return sub.stderr_text().find("lost the connection") != std::string::npos; }, 30s))
      << sub.stderr_text();
  d.start();
  ASSERT_TRUE(
      wait_until([&] { return sub.stderr_text().find("reconnected") != std::string::npos; }, 30s))
      << sub.stderr_text();
  // After the restart: the file is written again, whole (dequantized, so
  // its first line differs: a rewrite the daemon may see only after it is
  // done must not pass for the cut run growing); its run ends and fails
  // (the simulator's lossy layer), which ends the subscriber with 1.
  d.simulate("fixed", {"--dequant"});
  EXPECT_EQ(sub.wait(60s), 1) << sub.stdout_text() << sub.stderr_text();
  EXPECT_EQ(count_of(sub.stderr_text(), "lost the connection"), 1u) << sub.stderr_text();
  EXPECT_EQ(count_of(sub.stderr_text(), "reconnected"), 1u) << sub.stderr_text();

  const auto shown = events_of(sub.stdout_text());
  std::set<std::tuple<std::string, std::string, std::int64_t>> keys;
  std::map<std::string, int> layers_of_run;
  for (const auto& e : shown) {
    EXPECT_TRUE(keys.insert(e.key()).second)
        << "shown twice: " << e.event << " " << e.run << " " << e.index << "\n"
        << sub.stdout_text();
    if (e.event == "layer") ++layers_of_run[e.run];
  }
  // The run written after the restart is there whole, and its end.
  ASSERT_FALSE(shown.empty());
  EXPECT_EQ(shown.back().event, "run_end") << sub.stdout_text();
  EXPECT_EQ(shown.back().reason, "closed") << sub.stdout_text();
  EXPECT_GT(layers_of_run[shown.back().run], 6) << sub.stdout_text();
  EXPECT_NE(shown.back().run, shown.front().run) << sub.stdout_text();
}

TEST(SubscribeReconnect, NoReconnectExitsTwoAndSinceNowShowsOnlyNewEvents) {
  temp_dir tmp;
  Restartable d(tmp);
  d.start();
  d.simulate("float");
  d.simulate("fixed", {"--cut-after", "4"});
  // --since now: the run already there is not shown; the next one is.
  child now({bin_path("sigdump"), "subscribe", "--socket", d.sock(), "--json", "--pair", "net",
             "--since", "now", "--count", "1"},
            {"XDG_STATE_HOME=" + tmp.file("xdg")}, tmp.file("now"));
  child once(
      {bin_path("sigdump"), "subscribe", "--socket", d.sock(), "--pair", "net", "--no-reconnect"},
      {"XDG_STATE_HOME=" + tmp.file("xdg")}, tmp.file("once"));
  ASSERT_TRUE(wait_until([&] { return d.clients() >= 3; }, 30s));
  d.simulate("fixed");
  EXPECT_EQ(now.wait(30s), 0) << now.stderr_text();
  const auto first = events_of(now.stdout_text());
  ASSERT_EQ(first.size(), 1u) << now.stdout_text();
  EXPECT_EQ(now.stdout_text().find("\"replay\""), std::string::npos) << now.stdout_text();

  d.stop();
  EXPECT_EQ(once.wait(30s), 2) << once.stderr_text();
  EXPECT_EQ(once.stderr_text().find("reconnect"), std::string::npos) << once.stderr_text();
  EXPECT_NE(once.stderr_text().find("daemon closed the connection"), std::string::npos)
      << once.stderr_text();
}

}  // namespace
