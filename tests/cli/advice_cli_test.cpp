// `sigdump compare` advice flags as users run them: --advice all and
// --write-input-config on dumps from the built-in simulator.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
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

// The simulator's float and fixed dumps: 8) conv3_1/linear/bn_xx breaks.
void simulate(const temp_dir& t) {
  for (const char* mode : {"float", "fixed"}) {
    auto r = run({bin_path("sigdump"), "simulate", "--mode", mode, "--out",
                  t.file(std::string(mode) + ".bin")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
}

TEST(AdviceCli, RankedAdviceInTextAndJson) {
  temp_dir t;
  simulate(t);
  auto r = run({bin_path("sigdump"), "compare", t.file("fixed.bin"), t.file("float.bin")});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.out.find("advice: precision breaks at 8) conv3_1/linear/bn_xx (jump), a "
                       "convolution\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  1. conv3_1/expand/bn_xx_xx  (root cause: input of 8) "
                       "conv3_1/linear/bn_xx, where precision breaks"),
            std::string::npos)
      << r.out;
  // The block is the last thing printed: a sed from [CONV_CONFIG] to the end
  // captures nothing else.
  const std::string block =
      "[CONV_CONFIG]\ntensor_arrays='conv3_1/expand/bn_xx_xx,conv3_1/linear/bn_xx';\n";
  ASSERT_GE(r.out.size(), block.size());
  EXPECT_EQ(r.out.substr(r.out.size() - block.size()), block);

  auto j =
      run({bin_path("sigdump"), "compare", t.file("fixed.bin"), t.file("float.bin"), "--json"});
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_FALSE(p.parse(j.out).get(doc)) << j.out;
  EXPECT_EQ(std::string_view(doc["diagnosis"]["kind"]), "jump");
  EXPECT_EQ(std::int64_t(doc["diagnosis"]["at"]), 8);
  EXPECT_EQ(std::int64_t(doc["diagnosis"]["following"]), 4);
  EXPECT_EQ(std::string_view(doc["advice"]["kind"]), "int16");
  EXPECT_EQ(std::int64_t(doc["advice"]["root"]["layer"]), 8);
  simdjson::dom::array ranked = doc["advice"]["ranked"];
  ASSERT_EQ(ranked.size(), 2u);
  EXPECT_EQ(std::string_view(ranked.at(0)["tensor"]), "conv3_1/expand/bn_xx_xx");
  EXPECT_TRUE(bool(ranked.at(0)["root"]));
  EXPECT_EQ(std::int64_t(ranked.at(0)["layer"]), 8);
  EXPECT_EQ(std::uint64_t(doc["advice"]["shown"]), 2u);
  EXPECT_EQ(std::uint64_t(doc["advice"]["more"]), 0u);
  EXPECT_EQ(std::string_view(doc["advice"]["input_config"]), block);
}

TEST(AdviceCli, WriteInputConfigMergesAndKeepsOtherSections) {
  temp_dir t;
  simulate(t);
  const std::string ini = t.file("input_config.ini");
  testing::write_file(ini,
                      "[INPUT_CONFIG]\ninputs=data;\nmean_red=127.5;\n\n[CONV_CONFIG]\n"
                      "tensor_arrays='conv2_1/linear/bn_xx';\n\n[OUTPUT_CONFIG]\noutputs=prob;\n");
  auto r = run({bin_path("sigdump"), "compare", t.file("fixed.bin"), t.file("float.bin"), "--json",
                "--write-input-config", ini});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  EXPECT_FALSE(p.parse(r.out).get(doc)) << r.out;  // stdout stays one JSON object
  EXPECT_EQ(r.err,
            "sigdump: " + ini +
                ": [CONV_CONFIG] tensor_arrays += conv3_1/expand/bn_xx_xx, conv3_1/linear/bn_xx\n");
  EXPECT_EQ(read_file(ini),
            "[INPUT_CONFIG]\ninputs=data;\nmean_red=127.5;\n\n[CONV_CONFIG]\n"
            "tensor_arrays='conv2_1/linear/bn_xx,conv3_1/expand/bn_xx_xx,conv3_1/linear/bn_xx';"
            "\n\n[OUTPUT_CONFIG]\noutputs=prob;\n");

  // A new file holds just the section; the simulator reads it and the broken
  // layer is fixed.
  const std::string fresh = t.file("fresh.ini");
  r = run({bin_path("sigdump"), "compare", t.file("fixed.bin"), t.file("float.bin"),
           "--write-input-config=" + fresh});
  EXPECT_EQ(read_file(fresh),
            "[CONV_CONFIG]\ntensor_arrays='conv3_1/expand/bn_xx_xx,conv3_1/linear/bn_xx';\n");
  auto s = run({bin_path("sigdump"), "simulate", "--mode", "fixed", "--input-config", fresh,
                "--out", t.file("fixed16.bin")});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  r = run({bin_path("sigdump"), "compare", t.file("fixed16.bin"), t.file("float.bin")});
  EXPECT_EQ(r.exit_code, 0) << r.out;

  // Nothing to advise: the file is left alone, and stderr says why.
  r = run({bin_path("sigdump"), "compare", t.file("float.bin"), t.file("float.bin"),
           "--write-input-config", t.file("none.ini")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(t.file("none.ini")));
  EXPECT_NE(r.err.find("not written: no INT16 advice"), std::string::npos) << r.err;
}

// A chain of 8 convolutions whose error grows: 2) to 7) are suspect.
void write_chain(const temp_dir& t) {
  for (bool sample : {true, false}) {
    auto w = dump_writer::create(t.file(sample ? "chain_s.bin" : "chain_b.bin"));
    ASSERT_TRUE(w.has_value());
    for (int i = 0; i < 8; ++i) {
      tensor_spec in;
      in.kind = record_kind::in;
      in.name = i ? "c" + std::to_string(i - 1) : "data";
      in.op_index = i;
      in.shape = {4};
      ASSERT_TRUE(w->write(in, std::vector<float>{1, 2, 3, 4}).has_value());
      tensor_spec out = in;
      out.kind = record_kind::out;
      out.name = "c" + std::to_string(i);
      const float e = sample ? static_cast<float>(i) : 0.0f;
      ASSERT_TRUE(w->write(out, std::vector<float>{1, 2, 3, 4 + e}).has_value());
    }
    ASSERT_TRUE(w->close().has_value());
  }
}

TEST(AdviceCli, AdviceFlagIsCheckedAndAllIsAccepted) {
  temp_dir t;
  write_chain(t);
  auto r = run({bin_path("sigdump"), "compare", t.file("chain_s.bin"), t.file("chain_b.bin")});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.out.find("1 more suspect convolution(s) not listed: '--advice all' lists them"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("tensor_arrays='c1,c3,c2,c4,c5';"), std::string::npos) << r.out;
  r = run({bin_path("sigdump"), "compare", t.file("chain_s.bin"), t.file("chain_b.bin"),
           "--advice=all"});
  EXPECT_EQ(r.out.find("more suspect convolution"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tensor_arrays='c1,c3,c2,c4,c5,c6';"), std::string::npos) << r.out;
}

TEST(AdviceCli, AdviceFlagValues) {
  temp_dir t;
  simulate(t);
  auto r = run({bin_path("sigdump"), "compare", t.file("fixed.bin"), t.file("float.bin"),
                "--advice", "some"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "sigdump: error: --advice: expected 'top' or 'all', got 'some'\n");
  r = run({bin_path("sigdump"), "compare", t.file("fixed.bin"), t.file("float.bin"), "--advice",
           "all", "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_FALSE(p.parse(r.out).get(doc)) << r.out;
  EXPECT_EQ(std::uint64_t(doc["advice"]["more"]), 0u);
}

}  // namespace
}  // namespace sigdump
