// `sigdump compare` and `sigdump split` as users run them: the real binary
// on dumps written with dump_writer.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "sigdump/dump_file.h"
#include "sigdump/dump_writer.h"
#include "test_support.h"

namespace sigdump {
namespace {

using testing::bin_path;
using testing::read_file;
using testing::run;
using testing::temp_dir;

namespace fs = std::filesystem;

struct layer {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<float> values;
  std::string op = "CONV_2D";
  record_kind kind = record_kind::out;
  std::int64_t op_index = 0;
};

void write_dump(const std::string& path, const std::vector<layer>& layers) {
  auto w = dump_writer::create(path);
  ASSERT_TRUE(w.has_value());
  for (const auto& l : layers) {
    tensor_spec s;
    s.name = l.name;
    s.shape = l.shape;
    s.op_type = l.op;
    s.kind = l.kind;
    s.op_index = l.op_index;
    ASSERT_TRUE(w->write(s, l.values).has_value());
  }
  ASSERT_TRUE(w->close().has_value());
}

// A three-layer pair: layer 1 is off (suspect), layer 0 and 2 are fine.
void write_pair(const temp_dir& t) {
  write_dump(t.file("sample.bin"),
             {{"data", {4}, {1, 2, 3, 4}, "INPUT", record_kind::out, 0},
              {"conv1",
               {1, 2, 2, 3},
               {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -12},
               "CONV_2D",
               record_kind::out,
               1},
              {"prob/x:0", {2}, {0.25f, 0.75f}, "SOFTMAX", record_kind::out, 2}});
  write_dump(t.file("bench.bin"),
             {{"data", {4}, {1, 2, 3, 4}, "INPUT", record_kind::out, 0},
              {"conv1",
               {1, 2, 2, 3},
               {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
               "CONV_2D",
               record_kind::out,
               1},
              {"prob_x0", {2}, {0.25f, 0.75f}, "SOFTMAX", record_kind::out, 2}});
}

TEST(CompareCli, TextOutputAndExitCodes) {
  temp_dir t;
  write_pair(t);
  auto r = run({bin_path("sigdump"), "compare", t.file("sample.bin"), t.file("bench.bin")});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.out,
            "0) data MSE: 0.000000 COS: 1.000000 RMSE: 0.000000\n"
            "1) conv1 MSE: 48.000000 COS: 0.556923 RMSE: 0.307692\n"
            "2) prob/x:0 MSE: 0.000000 COS: 1.000000 RMSE: 0.000000\n"
            "\n"
            "summary: 3 layer(s) compared; suspect when COS < 0.99 or RMSE > 0.1\n"
            "coverage: 3 of 3 sample layers compared\n"
            "unmatched: 0 in sample only, 0 in benchmark only\n"
            "suspect: 1 layer(s): 1) conv1\n"
            "first bad layer: 1) conv1: COS 0.556923 < 0.99, RMSE 0.307692 > 0.1\n"
            // The suspect layer's channels: only channel 2 differs.
            "channels: per-channel evidence (sample vs benchmark values)\n"
            "  1) conv1: C=3 (axis 3 of [1, 2, 2, 3]); worst c2 COS -0.066667 RMSE 0.800000 "
            "max|a-b| 24, c0 COS 1.000000 RMSE 0.000000 max|a-b| 0, c1 COS 1.000000 RMSE 0.000000 "
            "max|a-b| 0\n"
            "    largest |a-b| at n,h,w,c: [0,1,1,2] 24 (-12 vs 12)\n"
            "verdict: fail: 1 suspect\n"
            "diagnosis: drift: metrics degrade gradually, without a lasting step; the first "
            "layer past a threshold is 1) conv1 (COS 0.556923 < 0.99, RMSE 0.307692 > 0.1): look "
            "there first; 1) conv1 changes abruptly (COS 0.556923, RMSE 0.307692) but 1 of the 1 "
            "following layer(s) are back near the level before it: a dip, not a lasting step\n"
            "advice: no INT16 candidate: precision breaks at 1) conv1 (drift), a convolution\n"
            "  skipped 1) conv1: the network's first convolution (INT16 input has no effect "
            "there)\n");
  EXPECT_NE(r.out.find("first bad layer: 1) conv1: COS 0.556923 < 0.99, RMSE 0.307692 > 0.1"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);  // a pipe: no colour
  EXPECT_EQ(r.err, "");
  // Looser thresholds: nothing suspect, exit 0.
  r = run({bin_path("sigdump"), "compare", t.file("sample.bin"), t.file("bench.bin"), "--cos-min",
           "0.5", "--rmse-max=0.5"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // The same file against itself.
  r = run({bin_path("sigdump"), "compare", t.file("bench.bin"), t.file("bench.bin")});
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

TEST(CompareCli, BadUsageAndUnreadableInputsExit2) {
  temp_dir t;
  write_pair(t);
  testing::write_file(t.file("junk.bin"), "this is not a dump\n");
  const std::vector<std::vector<std::string>> cases = {
      {"compare"},
      {"compare", t.file("sample.bin")},
      {"compare", t.file("sample.bin"), t.file("missing.bin")},
      {"compare", t.file("junk.bin"), t.file("bench.bin")},
      {"compare", t.file("sample.bin"), t.file("bench.bin"), "--cos-min", "x"},
      {"compare", t.file("sample.bin"), t.file("bench.bin"), "--json", "--csv"},
      {"compare", t.file("sample.bin"), t.file("bench.bin"), "--bogus"},
      {"compare", t.file("sample.bin"), t.file("bench.bin"), "--name-map", t.file("none.json")},
      {"compare", t.file("sample.bin"), t.file("bench.bin"), "--format-sample", "xml"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv{bin_path("sigdump")};
    argv.insert(argv.end(), c.begin(), c.end());
    auto r = run(argv);
    EXPECT_EQ(r.exit_code, 2) << c.size() << " " << r.err;
    EXPECT_EQ(r.err.rfind("sigdump: error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.out, "");
  }
  auto h = run({bin_path("sigdump"), "compare", "--help"});
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_NE(h.out.find("usage: sigdump compare SAMPLE BENCHMARK"), std::string::npos);
}

TEST(CompareCli, JsonCsvAndThreadsAgree) {
  temp_dir t;
  write_pair(t);
  auto j1 = run({bin_path("sigdump"), "compare", t.file("sample.bin"), t.file("bench.bin"),
                 "--json", "--threads", "1"});
  auto j2 = run({bin_path("sigdump"), "compare", t.file("sample.bin"), t.file("bench.bin"),
                 "--json", "--threads", "2"});
  EXPECT_EQ(j1.exit_code, 1);
  EXPECT_EQ(j1.out, j2.out);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_EQ(p.parse(j1.out).get(doc), simdjson::SUCCESS) << j1.out;
  simdjson::dom::array layers = doc["layers"];
  ASSERT_EQ(layers.size(), 3u);
  EXPECT_EQ(std::string_view(layers.at(2)["match"]), "sanitized");
  EXPECT_EQ(std::string_view(layers.at(2)["benchmark_name"]), "prob_x0");
  EXPECT_EQ(int64_t(doc["first_bad"]["index"]), 1);
  auto c =
      run({bin_path("sigdump"), "compare", t.file("sample.bin"), t.file("bench.bin"), "--csv"});
  EXPECT_EQ(c.exit_code, 1);
  EXPECT_EQ(std::count(c.out.begin(), c.out.end(), '\n'), 4);
  EXPECT_NE(c.out.find("\n1,conv1,conv1,CONV_2D,\"[1, 2, 2, 3]\",12,exact,48,"), std::string::npos)
      << c.out;
}

TEST(CompareCli, ExportFoldersDefaultNameAndOneRow) {
  temp_dir t;
  write_pair(t);
  // Default folder name, relative to the working directory.
  auto r = run({"/bin/sh", "-c",
                "cd '" + t.path().string() + "' && exec '" + bin_path("sigdump") +
                    "' compare sample.bin bench.bin --export"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const std::string def = t.file("Undefined_bench.bin_DumpDebug_out");
  EXPECT_EQ(read_file(def + "/1/sample.txt"),
            "conv1 [1, 2, 2, 3]\n1.000000, 2.000000, 3.000000, 4.000000, 5.000000, 6.000000, "
            "7.000000, 8.000000, 9.000000, 10.000000, 11.000000, -12.000000\n");
  EXPECT_TRUE(fs::exists(def + "/0/benchmark.txt"));
  EXPECT_TRUE(fs::exists(def + "/2/benchmark.txt"));
  // Explicit folder, one value per row through SAVE_ONE_ROW=1.
  r = run({bin_path("sigdump"), "compare", t.file("sample.bin"), t.file("bench.bin"), "--export",
           t.file("out")},
          {}, {"SAVE_ONE_ROW=1"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(read_file(t.file("out/2/benchmark.txt")), "prob_x0 [2]\n0.250000\n0.750000\n");
  // --export DIR given before the files.
  r = run({bin_path("sigdump"), "compare", "--export", t.file("out2"), "--one-per-row",
           t.file("sample.bin"), t.file("bench.bin")});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(read_file(t.file("out2/0/sample.txt")),
            "data [4]\n1.000000\n2.000000\n3.000000\n4.000000\n");
}

TEST(SplitCli, VendorNamesRawRecordsAndText) {
  temp_dir t;
  write_dump(t.file("d.bin"), {{"data", {3}, {1, 2, 3}, "CONV_2D", record_kind::in, 0},
                               {"conv1/bn:0", {3}, {4, 5, 6}, "CONV_2D", record_kind::out, 0},
                               {"conv1/bn:0", {3}, {7, 8, 9}, "CONV_2D", record_kind::out, 0}});
  auto r = run({bin_path("sigdump"), "split", t.file("d.bin"), t.file("parts")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(t.file("parts"))) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"0.conv1_bn0.xx.output0", "0.conv1_bn0.xx.output0.1",
                                             "0.data.xx.inputs"}));
  // Each part is a one-record dump holding the same values.
  auto part = dump_file::open(t.file("parts/0.conv1_bn0.xx.output0.1"));
  ASSERT_TRUE(part.has_value()) << part.error().describe();
  ASSERT_EQ(part->records().size(), 1u);
  auto v = part->view(0);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->at(2), 9.0);
  // An existing folder is refused.
  r = run({bin_path("sigdump"), "split", t.file("d.bin"), t.file("parts")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("sigdump: error: ", 0), 0u);
  // Text parts.
  r = run({bin_path("sigdump"), "split", t.file("d.bin"), t.file("text"), "--text"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string txt = read_file(t.file("text/0.conv1_bn0.xx.output0"));
  EXPECT_NE(txt.find("4.000000"), std::string::npos) << txt;
  auto tpart = dump_file::open(t.file("text/0.conv1_bn0.xx.output0"));
  ASSERT_TRUE(tpart.has_value()) << tpart.error().describe();
  EXPECT_EQ(tpart->variant(), dump_variant::text);
  // No temp folders left behind.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(t.path())) ++entries;
  EXPECT_EQ(entries, 3u);  // d.bin, parts, text
}

// split --text writes stored S32 values as they are: above 2^24 too.
TEST(SplitCli, TextKeepsInt32AboveTwoToThe24) {
  temp_dir t;
  writer_options o;
  o.is_float = false;
  auto w = dump_writer::create(t.file("q.bin"), o);
  ASSERT_TRUE(w.has_value());
  tensor_spec s;
  s.name = "acc";
  s.type = dtype::s32;
  s.shape = {3};
  const std::int32_t q[3] = {16777217, -16777219, 2147483647};
  ASSERT_TRUE(w->write_raw(s, std::as_bytes(std::span(q))).has_value());
  ASSERT_TRUE(w->close().has_value());
  auto r = run({bin_path("sigdump"), "split", t.file("q.bin"), t.file("text"), "--text"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string txt = read_file(t.file("text/0.acc.xx.output0"));
  EXPECT_NE(txt.find("16777217, -16777219, 2147483647,"), std::string::npos) << txt;
  // Read back, the text part holds the same values as the binary record.
  auto part = dump_file::open(t.file("text/0.acc.xx.output0"));
  ASSERT_TRUE(part.has_value()) << part.error().describe();
  auto v = part->view(0);
  ASSERT_TRUE(v.has_value()) << v.error().describe();
  EXPECT_EQ(v->at(0), 16777217.0);
  EXPECT_EQ(v->at(1), -16777219.0);
}

TEST(CompareCli, ChannelsInJsonAndOnRequest) {
  temp_dir t;
  write_pair(t);
  auto r =
      run({bin_path("sigdump"), "compare", t.file("sample.bin"), t.file("bench.bin"), "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  simdjson::dom::parser p;
  simdjson::dom::element doc = p.parse(r.out).value();
  // Only the suspect layer has a "channels" object.
  EXPECT_TRUE(doc["layers"].at(0)["channels"].error() == simdjson::NO_SUCH_FIELD);
  simdjson::dom::element ch = doc["layers"].at(1)["channels"].value();
  EXPECT_EQ(ch["count"].get_uint64().value(), 3u);
  EXPECT_EQ(ch["worst"].at(0)["c"].get_uint64().value(), 2u);
  EXPECT_DOUBLE_EQ(ch["worst"].at(0)["max_abs"].get_double().value(), 24.0);
  EXPECT_EQ(ch["top"].get_array().value().size(), 1u);  // one element differs
  EXPECT_EQ(ch["top"].at(0)["index"].get_uint64().value(), 11u);
  EXPECT_DOUBLE_EQ(ch["top"].at(0)["sample"].get_double().value(), -12.0);
  EXPECT_DOUBLE_EQ(ch["top"].at(0)["benchmark"].get_double().value(), 12.0);
  EXPECT_EQ(ch["per_channel"].get_array().value().size(), 3u);

  // --channels: every compared layer gets them, in text and JSON.
  r = run({bin_path("sigdump"), "compare", t.file("sample.bin"), t.file("bench.bin"), "--json",
           "--channels"});
  simdjson::dom::parser p2;
  doc = p2.parse(r.out).value();
  EXPECT_EQ(doc["layers"].at(0)["channels"]["count"].get_uint64().value(), 1u);  // 1-D: one
  EXPECT_EQ(doc["layers"].at(2)["channels"]["axis"].get_int64().value(), -1);
  r = run(
      {bin_path("sigdump"), "compare", t.file("sample.bin"), t.file("bench.bin"), "--channels"});
  EXPECT_NE(r.out.find("\n  0) data: C=1 (the whole tensor)"), std::string::npos) << r.out;
}

TEST(CompareCli, ShowChannelsAgainstABenchmark) {
  temp_dir t;
  write_pair(t);
  auto r = run({bin_path("sigdump"), "show", t.file("sample.bin"), "conv1", "--channels",
                "--against", t.file("bench.bin")});
  EXPECT_EQ(r.exit_code, 1) << r.err;  // suspect against its benchmark
  EXPECT_NE(r.out.find("channels against " + t.file("bench.bin") +
                       " record 1 (layout same)\n"
                       "  MSE: 48.000000 COS: 0.556923 RMSE: 0.307692  (suspect)\n"
                       "  C=3 (axis 3 of [1, 2, 2, 3]); worst c2 COS -0.066667"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  largest |a-b| at n,h,w,c: [0,1,1,2] 24 (-12 vs 12)\n"), std::string::npos)
      << r.out;
  // The table of every channel.
  EXPECT_NE(r.out.find("       2  -0.066667   0.800000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("       0   1.000000   0.000000"), std::string::npos) << r.out;

  r = run({bin_path("sigdump"), "show", t.file("sample.bin"), "conv1", "--channels", "--against",
           t.file("bench.bin"), "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  simdjson::dom::parser p;
  simdjson::dom::element doc = p.parse(r.out).value();
  EXPECT_EQ(doc["comparison"]["channels"]["worst"].at(0)["c"].get_uint64().value(), 2u);
  EXPECT_EQ(doc["comparison"]["channels"]["top"].at(0)["at"].at(1).get_int64().value(), 1);
  EXPECT_TRUE(doc["stats"].is_object());

  // A layer that matches: exit 0; usage errors: exit 2.
  r = run({bin_path("sigdump"), "show", t.file("sample.bin"), "data", "--channels", "--against",
           t.file("bench.bin")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(
      run({bin_path("sigdump"), "show", t.file("sample.bin"), "conv1", "--channels"}).exit_code, 2);
  EXPECT_EQ(run({bin_path("sigdump"), "show", t.file("sample.bin"), "conv1", "--against",
                 t.file("bench.bin")})
                .exit_code,
            2);
  r = run({bin_path("sigdump"), "show", t.file("sample.bin"), "prob/x:0", "--channels", "--against",
           t.file("sample.bin") + ".missing"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace sigdump
