// `sigdump wait` against a real sigdumpd under both event loops, fed by real
// writers: the first bad layer and the end of the next run with their exit
// statuses, the current run's first bad layer found in what the daemon
// replays, a run that ended before wait started not counted, --timeout,
// and an unknown pair.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>

#include "daemon_support.h"
#include "ipc_test_client.h"
#include "pair_run_fixture.h"

namespace sigdump::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class Wait : public PairRunTest {
 protected:
  // Clients connected, our own status call included.
  std::int64_t clients() {
    raw_client c(socket());
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    std::int64_t n = -1;
    if (p.parse(c.call("status", R"({"only":"daemon"})").result).get(doc) ||
        doc["daemon"]["clients"].get_int64().get(n)) {
      return -1;
    }
    return n;
  }
  // `sigdump wait` left running; returns once it is connected. The daemon
  // counts the waits still running and this status call; one that ended, or
  // an earlier status call, may be counted a little longer, so the count is
  // first let fall to that (it cannot then start too high).
  std::unique_ptr<child> start_wait(const std::vector<std::string>& more) {
    std::int64_t running = 0;
    for (child* w : waits_) running += w->alive() ? 1 : 0;
    const std::int64_t before = running + 1;
    EXPECT_TRUE(wait_until([&] { return clients() == before; }, 60s)) << clients();
    std::vector<std::string> argv{
        bin_path("sigdump"), "wait", "--socket", socket(), "--pair", "net"};
    argv.insert(argv.end(), more.begin(), more.end());
    auto w = std::make_unique<child>(argv);
    EXPECT_TRUE(wait_until([&] { return clients() > before; }, 60s)) << w->stderr_text();
    waits_.push_back(w.get());
    return w;
  }
  std::vector<child*> waits_;  // started by start_wait (owned by the tests)
  run_result wait_now(const std::vector<std::string>& more) {
    std::vector<std::string> argv{
        bin_path("sigdump"), "wait", "--socket", socket(), "--pair", "net"};
    argv.insert(argv.end(), more.begin(), more.end());
    return run(argv, {}, {}, 60s);
  }
};

TEST_P(Wait, FirstBadLayerOfTheNextRunExitsOne) {
  auto d = start();
  auto text = start_wait({"--for", "first-bad"});
  auto json = start_wait({"--for", "first-bad", "--json"});
  write_run("fixed");
  EXPECT_EQ(text->wait(60s), 1) << text->stderr_text();
  EXPECT_EQ(json->wait(60s), 1) << json->stderr_text();
  const std::string line = text->stdout_text();
  EXPECT_TRUE(line.starts_with("first bad layer 8 conv3_1/linear/bn_xx in net r")) << line;
  EXPECT_NE(line.find("(COS 0.942363 < 0.99"), std::string::npos) << line;
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << line;
  simdjson::dom::parser p;
  simdjson::dom::element ev;
  ASSERT_FALSE(p.parse(json->stdout_text()).get(ev)) << json->stdout_text();
  std::string_view kind;
  std::int64_t index = -1;
  ASSERT_FALSE(ev["event"].get_string().get(kind));
  EXPECT_EQ(kind, "layer");
  ASSERT_FALSE(ev["layer"]["index"].get_int64().get(index));
  EXPECT_EQ(index, 8);
}

TEST_P(Wait, RunEndExitsWithItsVerdict) {
  auto d = start();
  auto failing = start_wait({"--for", "run-end"});
  write_run("fixed");
  EXPECT_EQ(failing->wait(60s), 1) << failing->stderr_text();
  const std::string line = failing->stdout_text();
  EXPECT_TRUE(line.starts_with("run r")) << line;
  EXPECT_NE(line.find(" of net ended (closed): 13 layers, 5 suspect, verdict fail\n"),
            std::string::npos)
      << line;

  // A run identical to its benchmark passes; first-bad then reports its end.
  auto passing = start_wait({"--for", "run-end"});
  auto clean = start_wait({"--for", "first-bad"});
  write_run("float");
  EXPECT_EQ(passing->wait(60s), 0) << passing->stderr_text();
  EXPECT_NE(passing->stdout_text().find("0 suspect, verdict pass"), std::string::npos)
      << passing->stdout_text();
  EXPECT_EQ(clean->wait(60s), 0) << clean->stderr_text();
  EXPECT_EQ(clean->stdout_text(), passing->stdout_text());
}

TEST_P(Wait, CurrentRunCountsAnEndedOneDoesNot) {
  // The sample's writer keeps its file open: the run stays live.
  auto d = start({"--quiet-ms", "600000"});
  const std::vector<std::string> names{"l0", "l1", "l2"};
  {
    auto b = dump_writer::create(bench());
    ASSERT_TRUE(b);
    for (std::size_t i = 0; i < names.size(); ++i) {
      ASSERT_TRUE(b->write(spec_of(names[i], 256, static_cast<std::int64_t>(i)), ramp(256, 1)));
    }
    ASSERT_TRUE(b->close());
  }
  auto s = dump_writer::create(sample());
  ASSERT_TRUE(s);
  auto bad = ramp(256, -1);  // COS -1
  ASSERT_TRUE(s->write(spec_of("l0", 256, 0), ramp(256, 1)));
  ASSERT_TRUE(s->write(spec_of("l1", 256, 1), bad));
  ASSERT_EQ(d->wait_event([](const logged_event& e) {
               return e.event == "layer" && e.pair == "net" && e.index == 1;
             }).index,
            1);
  // Already known in the live run: at once, from the replayed state.
  auto now = wait_now({"--for", "first-bad", "--timeout", "30"});
  EXPECT_EQ(now.exit_code, 1) << now.err;
  EXPECT_TRUE(now.out.starts_with("first bad layer 1 l1 in net r")) << now.out;
  // With --json, the replayed layer event that names it.
  auto now_json = wait_now({"--for", "first-bad", "--json", "--timeout", "30"});
  EXPECT_EQ(now_json.exit_code, 1) << now_json.err;
  {
    simdjson::dom::parser p;
    simdjson::dom::element ev;
    std::string_view kind;
    std::int64_t index = -1;
    ASSERT_FALSE(p.parse(now_json.out).get(ev)) << now_json.out;
    EXPECT_FALSE(ev["event"].get_string().get(kind));
    EXPECT_EQ(kind, "layer") << now_json.out;
    EXPECT_FALSE(ev["first_bad"]["index"].get_int64().get(index));
    EXPECT_EQ(index, 1) << now_json.out;
  }
  auto not_yet = wait_now({"--for", "run-end", "--timeout", "0.3"});
  EXPECT_EQ(not_yet.exit_code, 3) << not_yet.out << not_yet.err;
  EXPECT_NE(not_yet.err.find("no run end in pair net within 0.3 s"), std::string::npos)
      << not_yet.err;
  EXPECT_EQ(not_yet.out, "");

  ASSERT_TRUE(s->write(spec_of("l2", 256, 2), ramp(256, 1)));
  ASSERT_TRUE(s->close());
  ASSERT_EQ(d->wait_event([](const logged_event& e) {
               return e.event == "run_end" && e.pair == "net";
             }).event,
            "run_end");
  // That run ended before: neither its first bad layer nor its end counts.
  for (const char* what : {"first-bad", "run-end"}) {
    auto ended = wait_now({"--for", what, "--timeout", "0.3"});
    EXPECT_EQ(ended.exit_code, 3) << what << ": " << ended.out << ended.err;
  }
}

TEST_P(Wait, UnknownPairAndBadUsageExitTwoAtOnce) {
  auto d = start();
  auto r = run(
      {bin_path("sigdump"), "wait", "--socket", socket(), "--pair", "nope", "--for", "first-bad"},
      {}, {}, 30s);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no pair 'nope'"), std::string::npos) << r.err;
  for (const std::vector<std::string>& bad : {std::vector<std::string>{"--for", "first_bad"},
                                              {"--for", "run-end", "--timeout", "0"},
                                              {"--for", "run-end", "--timeout", "soon"}}) {
    auto u = wait_now(bad);
    EXPECT_EQ(u.exit_code, 2) << bad[1] << ": " << u.err;
  }
  auto no_pair = run({bin_path("sigdump"), "wait", "--socket", socket(), "--for", "run-end"});
  EXPECT_EQ(no_pair.exit_code, 2);
  EXPECT_NE(no_pair.err.find("wait needs --pair P"), std::string::npos) << no_pair.err;
}

INSTANTIATE_TEST_SUITE_P(Loops, Wait, ::testing::Values("io_uring", "epoll"),
                         [](const auto& param) { return param.param; });

}  // namespace
}  // namespace sigdump::testing
