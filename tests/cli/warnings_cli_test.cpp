// `sigdump compare` on suspicious inputs: one warning line each on stderr,
// the same warnings with their codes in --json and in the HTML report.
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

// Three layers; in an isFloat: 0 file SGS_S16, layer "l1" with scale `s1`.
void write(const std::string& path, bool is_float, double s1 = 0.01) {
  writer_options o;
  o.is_float = is_float;
  auto w = dump_writer::create(path, o);
  ASSERT_TRUE(w.has_value());
  for (int i = 0; i < 3; ++i) {
    tensor_spec s;
    s.name = "l" + std::to_string(i);
    s.shape = {1, 8};
    s.op_index = i;
    s.type = is_float ? dtype::f32 : dtype::s16;
    s.scale = i == 1 ? s1 : 0.01;
    ASSERT_TRUE(w->write(s, std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}).has_value());
  }
  ASSERT_TRUE(w->close().has_value());
}

std::size_t lines_with(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

TEST(WarningsCli, SwappedArgumentsZeroScaleAndIdenticalFiles) {
  temp_dir t;
  const std::string flt = t.file("float.bin"), fix = t.file("fixed.bin");
  write(flt, true);
  write(fix, false, 0.0);

  // In the right order: the zero scale, with file, record and offset.
  auto r = run({bin_path("sigdump"), "compare", fix, flt});
  EXPECT_EQ(lines_with(r.err, "sigdump: warning: "), 1u) << r.err;
  EXPECT_NE(r.err.find("sigdump: warning: " + fix + ": record 1 (l1) at offset "),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("scale 0 (s: 0) in an isFloat: 0 file"), std::string::npos) << r.err;

  // Swapped: one more line, and --json carries both with their codes.
  r = run({bin_path("sigdump"), "compare", flt, fix, "--json", "--html", t.file("r.html")});
  EXPECT_EQ(lines_with(r.err, "sigdump: warning: "), 2u) << r.err;
  EXPECT_NE(r.err.find("probably swapped"), std::string::npos) << r.err;
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_FALSE(p.parse(r.out).get(doc)) << r.out;
  simdjson::dom::array ws;
  ASSERT_FALSE(doc["warnings"].get_array().get(ws));
  std::vector<std::string> codes;
  for (auto w : ws) codes.emplace_back(std::string_view(w["code"]));
  EXPECT_EQ(codes, (std::vector<std::string>{"swapped_arguments", "zero_scale"}));
  EXPECT_EQ(std::int64_t(ws.at(1).value()["record"]), 1);
  EXPECT_EQ(std::string_view(ws.at(1).value()["file"]), fix);
  const std::string html = read_file(t.file("r.html"));
  EXPECT_NE(html.find("<ul id=\"warnings\""), std::string::npos);
  EXPECT_NE(html.find("data-code=\"swapped_arguments\""), std::string::npos);
  EXPECT_NE(html.find("data-code=\"zero_scale\""), std::string::npos);

  // A file against itself: every layer matches, and the user is told why.
  r = run({bin_path("sigdump"), "compare", flt, flt});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines_with(r.err, "sigdump: warning: "), 1u) << r.err;
  EXPECT_NE(r.err.find("are the same file or hold the same bytes"), std::string::npos) << r.err;

  // Nothing suspicious: no warning, an empty array.
  write(t.file("fixed_ok.bin"), false);
  r = run({bin_path("sigdump"), "compare", t.file("fixed_ok.bin"), flt, "--json"});
  EXPECT_EQ(r.err.find("warning"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("\"warnings\":[]"), std::string::npos);
}

}  // namespace
}  // namespace sigdump
