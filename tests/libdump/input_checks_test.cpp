// Suspicious inputs as a table: a float sample against a fixed-point
// benchmark, integer records with scale 0, and pairs that are one file
// (same inode, a hard link) or two files with the same bytes; then what
// compare_dumps reports for them.
#include "sigdump/input_checks.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "sigdump/compare.h"
#include "sigdump/dump_writer.h"
#include "test_support.h"

namespace sigdump {
namespace {

using testing::temp_dir;
namespace fs = std::filesystem;

// A two-record dump: "a" and "b", 4 values each; in an isFloat: 0 file the
// records are SGS_S16 with scale `scale_b` for "b".
void write(const std::string& path, bool is_float, double scale_b = 0.5, float shift = 0) {
  writer_options o;
  o.is_float = is_float;
  auto w = dump_writer::create(path, o);
  ASSERT_TRUE(w.has_value());
  for (const char* name : {"a", "b"}) {
    tensor_spec s;
    s.name = name;
    s.shape = {1, 4};
    s.type = is_float ? dtype::f32 : dtype::s16;
    s.scale = std::string(name) == "b" ? scale_b : 0.5;
    ASSERT_TRUE(w->write(s, std::vector<float>{1 + shift, 2, 3, 4}).has_value());
  }
  ASSERT_TRUE(w->close().has_value());
}

dump_file must_open(const std::string& path) {
  auto f = dump_file::open(path);
  if (!f) throw std::runtime_error(f.error().describe());
  return std::move(f).value();
}

std::vector<std::string> codes(const std::vector<input_warning>& ws) {
  std::vector<std::string> out;
  for (const auto& w : ws) out.push_back(w.code);
  return out;
}

TEST(InputChecks, Table) {
  temp_dir t;
  write(t.file("float.bin"), true);
  write(t.file("fixed.bin"), false);
  write(t.file("zero.bin"), false, 0.0);
  write(t.file("copy.bin"), true);               // same bytes as float.bin
  write(t.file("other.bin"), true, 0.5, 0.25f);  // same size, other bytes
  ASSERT_EQ(::link(t.file("float.bin").c_str(), t.file("link.bin").c_str()), 0);
  auto open = [&](const char* name) { return must_open(t.file(name)); };
  struct row {
    const char *sample, *bench;
    bool content;
    std::vector<std::string> want;
  };
  const std::vector<row> rows = {
      {"fixed.bin", "float.bin", true, {}},
      {"float.bin", "fixed.bin", true, {"swapped_arguments"}},
      {"float.bin", "float.bin", false, {"identical_files"}},
      {"float.bin", "link.bin", false, {"identical_files"}},
      {"float.bin", "copy.bin", true, {"identical_files"}},
      {"float.bin", "copy.bin", false, {}},
      {"float.bin", "other.bin", true, {}},
      {"zero.bin", "float.bin", true, {"zero_scale"}},
      {"float.bin", "zero.bin", true, {"swapped_arguments", "zero_scale"}},
      {"zero.bin", "zero.bin", false, {"identical_files", "zero_scale", "zero_scale"}},
  };
  compare_options o;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const row& r = rows[i];
    auto s = open(r.sample), b = open(r.bench);
    EXPECT_EQ(codes(check_inputs(s, b, o, r.content)), r.want) << "row " << i;
  }
  // The zero-scale warning names the file, the record and its offset.
  auto z = open("zero.bin");
  auto f = open("float.bin");
  auto ws = check_inputs(z, f, o);
  ASSERT_EQ(ws.size(), 1u);
  EXPECT_EQ(ws[0].where.record, 1);
  EXPECT_EQ(ws[0].where.offset, z.records()[1].header_offset);
  EXPECT_EQ(ws[0].text().rfind(t.file("zero.bin") + ": record 1 (b) at offset " +
                                   std::to_string(z.records()[1].header_offset) +
                                   ": scale 0 (s: 0) in an isFloat: 0 file",
                               0),
            0u)
      << ws[0].text();
  // Swapped arguments name both files.
  auto sw = check_inputs(f, open("fixed.bin"), o);
  ASSERT_EQ(sw.size(), 1u);
  EXPECT_NE(sw[0].text().find(t.file("fixed.bin")), std::string::npos) << sw[0].text();
  EXPECT_NE(sw[0].text().find("probably swapped"), std::string::npos) << sw[0].text();
}

TEST(InputChecks, CompareDumpsCarriesThem) {
  temp_dir t;
  write(t.file("float.bin"), true);
  write(t.file("zero.bin"), false, 0.0);
  auto s = dump_file::open(t.file("float.bin"));
  auto b = dump_file::open(t.file("zero.bin"));
  ASSERT_TRUE(s && b);
  auto r = compare_dumps(*s, *b, compare_options{});
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(codes(r->warnings), (std::vector<std::string>{"swapped_arguments", "zero_scale"}));
}

}  // namespace
}  // namespace sigdump
