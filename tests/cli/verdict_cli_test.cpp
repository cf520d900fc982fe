// Coverage and verdict of `sigdump compare` as users run it: a benchmark cut
// short, a sample with nothing to compare, --allow-partial, --junit and the
// threshold ranges.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <vector>

#include "sigdump/dump_writer.h"
#include "test_support.h"

namespace sigdump {
namespace {

using testing::bin_path;
using testing::read_file;
using testing::run;
using testing::temp_dir;

struct layer {
  std::string name;
  std::vector<float> values;
};

void write_dump(const std::string& path, const std::vector<layer>& layers) {
  auto w = dump_writer::create(path);
  ASSERT_TRUE(w.has_value());
  for (std::size_t i = 0; i < layers.size(); ++i) {
    tensor_spec s;
    s.name = layers[i].name;
    s.shape = {static_cast<std::int64_t>(layers[i].values.size())};
    s.op_type = "CONV_2D";
    s.op_index = static_cast<std::int64_t>(i);
    ASSERT_TRUE(w->write(s, layers[i].values).has_value());
  }
  ASSERT_TRUE(w->close().has_value());
}

// Five sample layers; the benchmark ends after the first two (a float run
// that crashed), and `suspect_at` (when >= 0) is off in the benchmark.
void write_cut_pair(const temp_dir& t, std::size_t bench_layers, int suspect_at = -1) {
  std::vector<layer> s, b;
  for (int i = 0; i < 5; ++i) {
    layer l{"conv" + std::to_string(i), {1, 2, 3, static_cast<float>(i)}};
    s.push_back(l);
    if (i == suspect_at) l.values = {4, -3, 2, -1};
    if (b.size() < bench_layers) b.push_back(l);
  }
  write_dump(t.file("sample.bin"), s);
  write_dump(t.file("bench.bin"), b);
}

std::vector<std::string> compare_argv(const temp_dir& t, std::vector<std::string> more = {}) {
  std::vector<std::string> argv{bin_path("sigdump"), "compare", t.file("sample.bin"),
                                t.file("bench.bin")};
  argv.insert(argv.end(), more.begin(), more.end());
  return argv;
}

TEST(VerdictCli, CutBenchmarkIsIncompleteAndFailsUnlessAllowed) {
  temp_dir t;
  write_cut_pair(t, 2);
  auto r = run(compare_argv(t));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("coverage: 2 of 5 sample layers compared, 3 have no benchmark layer "
                       "(benchmark ends at 1) conv1)\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\nverdict: incomplete: 3 of 5 sample layers not compared"),
            std::string::npos)
      << r.out;

  r = run(compare_argv(t, {"--allow-partial"}));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("verdict: incomplete"), std::string::npos) << r.out;

  // A suspect layer among the compared ones fails even when partial is allowed.
  write_cut_pair(t, 2, 1);
  r = run(compare_argv(t, {"--allow-partial"}));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("verdict: fail: 1 suspect"), std::string::npos) << r.out;
}

TEST(VerdictCli, JsonCarriesCoverageAndVerdict) {
  temp_dir t;
  write_cut_pair(t, 3);
  auto r = run(compare_argv(t, {"--json"}));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_FALSE(p.parse(r.out).get(doc)) << r.out;
  auto c = doc["coverage"];
  EXPECT_EQ(c["sample_layers"].get_uint64().value(), 5u);
  EXPECT_EQ(c["compared"].get_uint64().value(), 3u);
  EXPECT_EQ(c["not_comparable"].get_uint64().value(), 0u);
  EXPECT_EQ(c["sample_only"].get_uint64().value(), 2u);
  EXPECT_EQ(c["benchmark_only"].get_uint64().value(), 0u);
  EXPECT_EQ(c["pending"].get_uint64().value(), 0u);
  EXPECT_EQ(c["benchmark_ends_at"]["index"].get_int64().value(), 2);
  EXPECT_EQ(std::string(c["benchmark_ends_at"]["name"].get_string().value()), "conv2");
  EXPECT_EQ(std::string(doc["verdict"].get_string().value()), "incomplete");

  write_cut_pair(t, 5);
  r = run(compare_argv(t, {"--json"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_FALSE(p.parse(r.out).get(doc)) << r.out;
  EXPECT_EQ(std::string(doc["verdict"].get_string().value()), "pass");
  EXPECT_TRUE(doc["coverage"]["benchmark_ends_at"].is_null());
}

TEST(VerdictCli, NothingComparedIsNeverSuccess) {
  temp_dir t;
  // A sample that holds no record at all.
  write_dump(t.file("sample.bin"), {});
  write_dump(t.file("bench.bin"), {{"conv0", {1, 2}}});
  for (const char* extra : {"", "--allow-partial"}) {
    std::vector<std::string> more;
    if (*extra) more.push_back(extra);
    auto r = run(compare_argv(t, more));
    EXPECT_EQ(r.exit_code, 1) << extra << r.out << r.err;
    EXPECT_NE(r.out.find("coverage: the sample has no layer to compare\n"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("verdict: nothing_compared"), std::string::npos) << r.out;
  }
  // Layers on both sides, none matching.
  write_dump(t.file("sample.bin"), {{"other", {1, 2}}});
  auto r = run(compare_argv(t, {"--allow-partial"}));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("coverage: 0 of 1 sample layer compared, 1 has no benchmark layer (other); "
                       "1 benchmark layer has no sample layer\n"),
            std::string::npos)
      << r.out;
}

TEST(VerdictCli, JunitHasOneTestcasePerSampleLayer) {
  temp_dir t;
  write_cut_pair(t, 3, 1);
  auto r = run(compare_argv(t, {"--junit", t.file("out.xml")}));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const std::string x = read_file(t.file("out.xml"));
  EXPECT_EQ(x.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites", 0), 0u) << x;
  EXPECT_NE(x.find("<testsuite name=\"sigdump.sample.bin\" tests=\"6\" failures=\"2\" "
                   "errors=\"0\" skipped=\"2\""),
            std::string::npos)
      << x;
  EXPECT_NE(x.find("<testcase classname=\"sigdump.sample.bin\" name=\"0) conv0\" time=\"0\"/>"),
            std::string::npos)
      << x;
  EXPECT_NE(x.find("name=\"1) conv1\" time=\"0\">\n      <failure type=\"suspect\" "
                   "message=\"COS "),
            std::string::npos)
      << x;
  EXPECT_NE(x.find("suspect when COS &lt; 0.99 or RMSE &gt; 0.1</failure>"), std::string::npos)
      << x;
  EXPECT_NE(x.find("name=\"conv3\" time=\"0\">\n      <skipped message=\"no benchmark layer"),
            std::string::npos)
      << x;
  EXPECT_NE(x.find("name=\"coverage\" time=\"0\">\n      <failure type=\"incomplete\""),
            std::string::npos)
      << x;
  // Accepted partial coverage: the coverage testcase passes.
  write_cut_pair(t, 3);
  r = run(compare_argv(t, {"--allow-partial", "--junit=" + t.file("ok.xml")}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::string ok = read_file(t.file("ok.xml"));
  EXPECT_NE(ok.find("failures=\"0\" errors=\"0\" skipped=\"2\""), std::string::npos) << ok;
  EXPECT_NE(ok.find("name=\"coverage\" time=\"0\"/>"), std::string::npos) << ok;
}

TEST(VerdictCli, ThresholdsOutOfRangeExit2) {
  temp_dir t;
  write_cut_pair(t, 5);
  for (const auto& bad : std::vector<std::vector<std::string>>{
           {"--cos-min", "1.5"}, {"--cos-min=-1.01"}, {"--rmse-max", "-0.1"}, {"--junit"}}) {
    auto r = run(compare_argv(t, bad));
    EXPECT_EQ(r.exit_code, 2) << bad[0] << r.out;
    EXPECT_EQ(r.err.rfind("sigdump: error: --", 0), 0u) << r.err;
    EXPECT_EQ(r.out, "");
  }
  auto r = run(compare_argv(t, {"--cos-min", "1.5"}));
  EXPECT_EQ(r.err, "sigdump: error: --cos-min: 1.5 is out of range: COS lies in [-1, 1]\n");
  // The ends of the ranges are fine.
  r = run(compare_argv(t, {"--cos-min", "-1", "--rmse-max", "0"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace sigdump
