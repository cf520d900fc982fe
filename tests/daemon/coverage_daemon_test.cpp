// Coverage and verdict of live runs against a real sigdumpd: run_end says
// what was not compared, a benchmark that comes late is announced by
// run_revised, runs/status show the final verdict, and `sigdump subscribe
// --until-run-end` exits by the verdict of the run it followed.
#include <gtest/gtest.h>
#include <simdjson.h>

#include "ipc_test_client.h"

namespace sigdump::testing {
namespace {

using namespace std::chrono_literals;

class CoverageDaemon : public ::testing::TestWithParam<std::string> {
 protected:
  std::vector<std::string> env() const { return {"SIGDUMP_EVENT_LOOP=" + GetParam()}; }
};

// Writes a closed dump of layers [0, n) named like pair_writer's.
void write_layers(const std::string& path, int n, bool sample) {
  auto w = dump_writer::create(path);
  ASSERT_TRUE(w.has_value());
  for (int i = 0; i < n; ++i) {
    tensor_spec s;
    s.name = pair_writer::name(i);
    s.shape = {8};
    s.op_index = i;
    std::vector<float> v(8);
    for (std::size_t j = 0; j < v.size(); ++j) {
      v[j] = static_cast<float>(j + 1) + (sample ? 0.0001f : 0.0f);
    }
    ASSERT_TRUE(w->write(s, v).has_value());
  }
  ASSERT_TRUE(w->close().has_value());
}

// The next event of one of these kinds (others are skipped).
std::optional<simdjson::dom::element> next_of(raw_client& c, simdjson::dom::parser& p,
                                              const std::string& kind) {
  for (;;) {
    auto m = c.read_message(20s);
    if (!m) return std::nullopt;
    if (m->event != kind) continue;
    simdjson::dom::element doc;
    if (p.parse(m->raw).get(doc)) return std::nullopt;
    return doc;
  }
}

std::uint64_t count(simdjson::dom::element ev, const char* key) {
  std::uint64_t v = 0;
  if (ev["coverage"][key].get(v)) return ~std::uint64_t{0};
  return v;
}

std::string text(simdjson::dom::element ev, const char* key) {
  std::string_view v;
  if (ev[key].get(v)) return "<absent>";
  return std::string(v);
}

TEST_P(CoverageDaemon, NoBenchmarkIsNothingComparedThenALateOneRevisesTheRun) {
  temp_dir dir;
  ipc_daemon d(dir, env());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  raw_client c(d.socket());
  auto s = c.call("subscribe", R"({"pair":"p"})");
  ASSERT_TRUE(s.error_code.empty()) << s.raw;

  write_layers(d.sample(), 5, true);
  simdjson::dom::parser p1, p2;
  auto end = next_of(c, p1, "run_end");
  ASSERT_TRUE(end) << d.proc().stderr_text();
  EXPECT_EQ(count(*end, "sample_layers"), 5u);
  EXPECT_EQ(count(*end, "compared"), 0u);
  EXPECT_EQ(count(*end, "pending"), 5u);
  EXPECT_EQ(text(*end, "verdict"), "nothing_compared");

  // The CLI follows that run to its end and exits 1: nothing was compared.
  auto sub = run({bin_path("sigdump"), "subscribe", "--socket", d.socket(), "--pair", "p",
                  "--since", s.clock, "--until-run-end", "--allow-partial"});
  EXPECT_EQ(sub.exit_code, 1) << sub.out << sub.err;
  EXPECT_NE(sub.out.find("   coverage: 0 of 5 sample layers compared, 5 waiting for a benchmark "
                         "layer\n   verdict: nothing_compared\n"),
            std::string::npos)
      << sub.out;

  // The benchmark comes late: the ended run is compared after all, and says so.
  write_layers(d.bench(), 5, false);
  auto revised = next_of(c, p2, "run_revised");
  ASSERT_TRUE(revised) << d.proc().stderr_text();
  EXPECT_EQ(text(*revised, "run"), text(*end, "run"));
  EXPECT_EQ(count(*revised, "compared"), 5u);
  EXPECT_EQ(count(*revised, "pending"), 0u);
  EXPECT_EQ(text(*revised, "verdict"), "pass");
  EXPECT_EQ(text(*revised, "previous_verdict"), "nothing_compared");

  // runs and status show the final verdict.
  auto runs = c.call("runs", R"({"pair":"p"})");
  EXPECT_NE(runs.result.find("\"verdict\":\"pass\""), std::string::npos) << runs.result;
  EXPECT_NE(runs.result.find("\"compared\":5"), std::string::npos) << runs.result;
  auto status = c.call("status");
  EXPECT_NE(status.result.find("\"verdict\":\"pass\""), std::string::npos) << status.result;
}

TEST_P(CoverageDaemon, CutBenchmarkEndsIncomplete) {
  temp_dir dir;
  ipc_daemon d(dir, env());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  write_layers(d.bench(), 2, false);  // a float run that crashed after two layers
  raw_client c(d.socket());
  // The benchmark is seen before the sample starts.
  ASSERT_TRUE(wait_until([&] {
    return c.call("status").result.find("\"path\":\"" + d.bench() + "\"") != std::string::npos;
  }));
  auto s = c.call("subscribe", R"({"pair":"p"})");
  ASSERT_TRUE(s.error_code.empty()) << s.raw;
  write_layers(d.sample(), 5, true);
  simdjson::dom::parser p;
  auto end = next_of(c, p, "run_end");
  ASSERT_TRUE(end) << d.proc().stderr_text();
  EXPECT_EQ(end->at_key("layers").get_uint64().value(), 2u);
  EXPECT_EQ(count(*end, "compared"), 2u);
  EXPECT_EQ(count(*end, "sample_only"), 3u);
  EXPECT_EQ(count(*end, "pending"), 0u);
  EXPECT_EQ(end->at_key("coverage")["benchmark_ends_at"]["index"].get_int64().value(), 1);
  EXPECT_EQ(text(*end, "verdict"), "incomplete");

  auto sub = run({bin_path("sigdump"), "subscribe", "--socket", d.socket(), "--pair", "p",
                  "--since", s.clock, "--until-run-end"});
  EXPECT_EQ(sub.exit_code, 1) << sub.out << sub.err;
  EXPECT_NE(sub.out.find("coverage: 2 of 5 sample layers compared, 3 have no benchmark layer "
                         "(benchmark ends at 1) net/layer_1/conv)"),
            std::string::npos)
      << sub.out;
  sub = run({bin_path("sigdump"), "subscribe", "--socket", d.socket(), "--pair", "p", "--since",
             s.clock, "--until-run-end", "--allow-partial"});
  EXPECT_EQ(sub.exit_code, 0) << sub.out << sub.err;
}

INSTANTIATE_TEST_SUITE_P(Loops, CoverageDaemon, ::testing::Values("io_uring", "epoll"));

}  // namespace
}  // namespace sigdump::testing
