// Per-pair thresholds and name maps of the configuration file against a real
// sigdumpd fed by real writer processes (sigdump simulate): a pair with its
// own cos_min and rmse_max is judged by them, the other pair by the global
// ones, and a reload applies a change.
#include <gtest/gtest.h>

#include "ipc_test_client.h"

namespace sigdump::testing {
namespace {

using namespace std::chrono_literals;

class PairThresholds : public ::testing::TestWithParam<std::string> {};

// The verdict of the newest run of `pair` in `runs` ("" when none).
std::string verdict_of(raw_client& c, const std::string& pair) {
  auto r = c.call("runs", R"({"pair":")" + pair + R"(","limit":1})");
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  std::string_view v;
  if (p.parse(r.result).get(doc) || doc["runs"].at(0)["verdict"].get_string().get(v)) return {};
  return std::string(v);
}

// Writes the simulator's float and fixed dumps into dir/NAME/ (one writer
// process each).
void simulate_into(const temp_dir& dir, const std::string& name) {
  std::filesystem::create_directories(dir.file(name));
  for (const char* mode : {"float", "fixed"}) {
    auto w = run({bin_path("sigdump"), "simulate", "--mode", mode, "--out",
                  dir.file(name + "/" + mode + ".bin")});
    ASSERT_EQ(w.exit_code, 0) << w.err;
  }
}

// The "own" member of pair `pair` in `status`, minified ("" when absent).
std::string own_of(raw_client& c, const std::string& pair) {
  auto r = c.call("status", R"({"only":"pairs"})");
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  simdjson::dom::array pairs;
  if (p.parse(r.result).get(doc) || doc["pairs"].get_array().get(pairs)) return {};
  for (simdjson::dom::element e : pairs) {
    std::string_view name;
    simdjson::dom::element own;
    if (!e["name"].get(name) && name == pair && !e["own"].get(own)) return simdjson::minify(own);
  }
  return {};
}

std::string pair_json(const temp_dir& dir, const std::string& name, const std::string& own) {
  return R"({"name":")" + name + R"(","sample":")" + dir.file(name + "/fixed.bin") +
         R"(","benchmark":")" + dir.file(name + "/float.bin") + "\"" + own + "}";
}

TEST_P(PairThresholds, APairWithItsOwnThresholdsGetsItsOwnVerdict) {
  temp_dir dir;
  // "strict" keeps the global thresholds, under which the simulator's lossy
  // layer fails the run; "lenient" accepts any COS and RMSE.
  const std::string cfg = dir.file("sigdumpd.json");
  const auto write_config = [&](const std::string& lenient_own) {
    write_file(cfg, R"({"cos_min":0.99,"pairs":[)" + pair_json(dir, "strict", "") + "," +
                        pair_json(dir, "lenient", lenient_own) + "]}");
  };
  write_config(R"(,"cos_min":-1,"rmse_max":1e9)");
  test_daemon d(dir,
                {"--config", cfg, "--watch", dir.file("strict"), "--watch", dir.file("lenient")},
                GetParam());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  simulate_into(dir, "strict");
  simulate_into(dir, "lenient");
  raw_client c(dir.file("sock"));
  ASSERT_TRUE(wait_until([&] { return verdict_of(c, "strict") == "fail"; }, 60s))
      << verdict_of(c, "strict") << d.proc().stderr_text();
  ASSERT_TRUE(wait_until([&] { return verdict_of(c, "lenient") == "pass"; }, 60s))
      << verdict_of(c, "lenient") << d.proc().stderr_text();
  // status shows what is the pair's own, and only that.
  EXPECT_EQ(own_of(c, "lenient"), R"({"cos_min":-1,"rmse_max":1000000000.0,"name_map":null})");
  EXPECT_EQ(own_of(c, "strict"), "null");
  auto text = run({bin_path("sigdump"), "status", "--socket", dir.file("sock")});
  EXPECT_NE(text.out.find("    own thresholds: cos_min -1, rmse_max 1e+09\n"), std::string::npos)
      << text.out;
  const auto strict = text.out.find("  strict ");
  EXPECT_EQ(text.out.substr(strict, text.out.find("  lenient ") - strict).find("own thresholds"),
            std::string::npos)
      << text.out;

  // A reload applies the pair's new values to the next run: without its own
  // values the lenient pair is judged by the global ones.
  write_config("");
  ASSERT_TRUE(d.proc().signal(SIGHUP));
  ASSERT_TRUE(d.wait_event([](const logged_event& e) { return e.event == "resync"; }).event ==
              "resync");
  simulate_into(dir, "lenient");
  ASSERT_TRUE(wait_until([&] { return verdict_of(c, "lenient") == "fail"; }, 60s))
      << verdict_of(c, "lenient") << d.proc().stderr_text();
  EXPECT_EQ(own_of(c, "lenient"), "null");
}

// A pair's name map matches sample layers to benchmark layers of another
// name: renamed in the benchmark, they are compared only with the map
// (without it the run compares nothing).
TEST_P(PairThresholds, APairsNameMapMatchesRenamedLayers) {
  temp_dir dir;
  std::filesystem::create_directories(dir.file("d"));
  for (const char* side : {"sample", "bench"}) {
    auto w = dump_writer::create(dir.file(std::string("d/") + side + ".bin"));
    ASSERT_TRUE(w.has_value());
    for (int i = 0; i < 3; ++i) {
      const std::string name = "layer" + std::to_string(i) + (side[0] == 'b' ? "_renamed" : "");
      ASSERT_TRUE(w->write(spec_of(name, 64, i), ramp(64, 1.0f)).has_value());
    }
    ASSERT_TRUE(w->close().has_value());
  }
  write_file(dir.file("map.json"),
             R"({"layer0":"layer0_renamed","layer1":"layer1_renamed","layer2":"layer2_renamed"})");
  const std::string cfg = dir.file("sigdumpd.json");
  write_file(cfg, R"({"pairs":[{"name":"mapped","sample":"d/sample.bin","benchmark":"d/bench.bin",
                       "name_map":"map.json"}]})");
  test_daemon d(dir, {"--config", cfg, "--watch", dir.file("d")}, GetParam());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  raw_client c(dir.file("sock"));
  EXPECT_TRUE(wait_until([&] { return verdict_of(c, "mapped") == "pass"; }, 60s))
      << verdict_of(c, "mapped") << d.proc().stderr_text();
  EXPECT_EQ(own_of(c, "mapped"), R"({"cos_min":null,"rmse_max":null,"name_map":3})");
}

// A reload whose pair lost its name is refused: the error is logged with
// the fix, and the pair configured before is still the one served.
TEST_P(PairThresholds, AReloadWithANamelessPairKeepsThePreviousPairs) {
  temp_dir dir;
  const std::string cfg = dir.file("sigdumpd.json");
  write_file(cfg, R"({"pairs":[)" + pair_json(dir, "kept", "") + "]}");
  test_daemon d(dir, {"--config", cfg}, GetParam());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  raw_client c(dir.file("sock"));
  const auto pair_names = [&] { return c.call("status", R"({"only":"pairs"})").result; };
  ASSERT_NE(pair_names().find(R"("name":"kept")"), std::string::npos) << pair_names();

  write_file(cfg, R"({"pairs":[{"sample":"kept/fixed.bin","benchmark":"kept/float.bin"}]})");
  ASSERT_TRUE(d.proc().signal(SIGHUP));
  const std::string refused = R"(pairs[0]: needs a name: {"name": "NAME", "sample": )"
                              R"("kept/fixed.bin", "benchmark": "kept/float.bin"})";
  ASSERT_TRUE(wait_until(
      [&] {
        const std::string err = d.proc().stderr_text();
        return err.find(refused) != std::string::npos &&
               err.find("keeping the previous configuration") != std::string::npos;
      },
      30s))
      << d.proc().stderr_text();
  EXPECT_NE(pair_names().find(R"("name":"kept")"), std::string::npos) << pair_names();
  EXPECT_TRUE(d.proc().alive());
}

INSTANTIATE_TEST_SUITE_P(Loops, PairThresholds, ::testing::Values("io_uring", "epoll"));

}  // namespace
}  // namespace sigdump::testing
