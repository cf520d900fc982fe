// A sample run is compared against one benchmark run, and the daemon says
// which: against a real sigdumpd under both event loops, with the
// benchmark rewritten while the sample is being written, every layer of
// the sample run ends up compared with the new benchmark run (it used to
// mix both), run_end, runs and status name that run (in JSON and in the
// text a person reads), a restart keeps it, and `sigdump report RUN` reads
// that run rather than guessing by time.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>
#include <string>
#include <vector>

#include "pair_daemon_support.h"

namespace sigdump::testing {
namespace {

class BenchmarkRun : public PairDaemonTest {
 protected:
  // The daemon of the fixture, with a quiet spell long enough that the
  // sample written in two goes stays one live run.
  std::unique_ptr<test_daemon> start_patient() {
    auto a = args();
    a.insert(a.end(), {"--quiet-ms", "60000"});
    auto d = std::make_unique<test_daemon>(dir_, a, loop());
    EXPECT_TRUE(d->wait_ready()) << d->proc().stderr_text();
    return d;
  }
  // The string `key` of the first events-log line of this event and run.
  static std::string logged_field(const std::string& events_log, const std::string& event,
                                  const std::string& run, const char* key) {
    const std::string line = first_event_line(events_log, event, "run", run);
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    std::string_view v;
    if (line.empty() || p.parse(line).get(doc)) return "<no event>";
    return doc[key].get(v) ? "<none>" : std::string(v);
  }
  // The string `key` of run `run` in a runs or status reply's `list`.
  static std::string listed_field(const std::string& json, const char* list, const char* id_key,
                                  const std::string& id, const char* key) {
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    simdjson::dom::array a;
    if (p.parse(json).get(doc) || doc[list].get_array().get(a)) return "<no list>";
    for (simdjson::dom::element e : a) {
      std::string_view i, v;
      if (e[id_key].get(i) || i != id) continue;
      return e[key].get(v) ? "<none>" : std::string(v);
    }
    return "<not listed>";
  }
};

TEST_P(BenchmarkRun, ABenchmarkRewrittenMidRunIsTheOneEveryLayerIsComparedWith) {
  constexpr int layers = 6;
  std::string sample_run, old_bench, new_bench;
  {
    auto d = start_patient();
    write_dump(bench_, layers, 1.0f);
    old_bench = d->wait_event([&](const logged_event& e) {
                   return e.event == "run_end" && e.path == bench_;
                 }).run;
    ASSERT_FALSE(old_bench.empty()) << d->proc().stderr_text();
    // The first half of the sample is compared with the benchmark as it is.
    auto w = dump_writer::create(sample_);
    ASSERT_TRUE(w);
    for (int i = 0; i < layers / 2; ++i) {
      ASSERT_TRUE(w->write(spec_of("net/l" + std::to_string(i), 256, i), ramp(256, 1.01f)));
    }
    auto l = d->wait_event([&](const logged_event& e) {
      return e.event == "layer" && e.path == sample_ && e.index == layers / 2 - 1;
    });
    ASSERT_EQ(l.event, "layer") << read_file(d->events_path());
    sample_run = l.run;
    EXPECT_EQ(logged_field(d->events_path(), "run_start", sample_run, "benchmark_run"), old_bench);
    // The benchmark is written again, with other values, before the rest
    // (a new file: a rewrite in place ends its run only when quiet).
    fs::remove(bench_);
    write_dump(bench_, layers, 1.5f);
    new_bench = d->wait_event([&](const logged_event& e) {
                   return e.event == "run_end" && e.path == bench_ && e.run != old_bench;
                 }).run;
    ASSERT_FALSE(new_bench.empty()) << read_file(d->events_path());
    for (int i = layers / 2; i < layers; ++i) {
      ASSERT_TRUE(w->write(spec_of("net/l" + std::to_string(i), 256, i), ramp(256, 1.01f)));
    }
    ASSERT_TRUE(w->close());
    ASSERT_EQ(d->wait_event([&](const logged_event& e) {
                 return e.event == "run_end" && e.run == sample_run;
               }).event,
              "run_end")
        << read_file(d->events_path());
    // Each index as last published: all of them against the new benchmark,
    // as `sigdump compare` on the files as they are now.
    std::map<std::int64_t, std::string> last;
    for (const auto& e : d->events()) {
      if (e.event == "layer" && e.run == sample_run) last[e.index] = e.layer;
    }
    std::vector<std::string> live;
    for (const auto& [i, layer] : last) live.push_back(layer);
    EXPECT_EQ(live, offline_layers(sample_, bench_));
    EXPECT_EQ(logged_field(d->events_path(), "run_end", sample_run, "benchmark_run"), new_bench);
    ASSERT_TRUE(settled()) << d->proc().stderr_text();
    EXPECT_EQ(
        listed_field(sigdump("runs", {"--json"}).out, "runs", "run", sample_run, "benchmark_run"),
        new_bench);
    EXPECT_EQ(listed_field(sigdump("status", {"--json"}).out, "pairs", "run", sample_run,
                           "benchmark_run"),
              new_bench);
    stop(*d);
  }
  // Kept across a restart, and what `report RUN` compares with (the run
  // current when the sample run started was the old one).
  auto d = start();
  EXPECT_EQ(
      listed_field(sigdump("runs", {"--json"}).out, "runs", "run", sample_run, "benchmark_run"),
      new_bench);
  auto report = sigdump("report", {sample_run, "--out", dir_.file("r.html")});
  EXPECT_NE(report.out.find("benchmark " + bench_ + " (" + new_bench + ")"), std::string::npos)
      << report.out << report.err;
  // The text outputs say it too, where a person looks for it: the AGAINST
  // column of runs, the benchmark line of status, the end line of a run.
  auto runs = sigdump("runs", {"--pair", "p"});
  EXPECT_NE(runs.out.find(" AGAINST "), std::string::npos) << runs.out;
  EXPECT_NE(runs.out.find(sample_run + " "), std::string::npos) << runs.out;
  EXPECT_NE(runs.out.find(" p                " + new_bench + " "), std::string::npos) << runs.out;
  auto status = sigdump("status");
  EXPECT_NE(status.out.find("    benchmark: " + bench_ + "  run " + new_bench + "\n"),
            std::string::npos)
      << status.out;
  // The fresh state: run_start, the layers, run_end (whose replay did not
  // name the benchmark run).
  auto sub = sigdump("subscribe",
                     {"--pair", "p", "--no-reconnect", "--count", std::to_string(layers + 2)});
  EXPECT_NE(sub.out.find("-- run " + sample_run + " ended (closed): " + std::to_string(layers) +
                         " layers, " + std::to_string(layers) + " suspect, against benchmark run " +
                         new_bench + "\n"),
            std::string::npos)
      << sub.out << sub.err;
}

INSTANTIATE_TEST_SUITE_P(Loops, BenchmarkRun, ::testing::Values("io_uring", "epoll"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
}  // namespace sigdump::testing
