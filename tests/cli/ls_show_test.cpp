// `sigdump ls` and `sigdump show` run as the built binary on files written
// with dump_writer: output, JSON validity and exit codes.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/stat.h>

#include <chrono>
#include <string>
#include <vector>

#include "sigdump/dump_writer.h"
#include "test_support.h"

namespace sigdump::testing {
namespace {

tensor_spec make_spec(std::string name, std::vector<std::int64_t> shape,
                      record_kind kind = record_kind::out, std::uint32_t port = 0,
                      bool constant = false) {
  tensor_spec s;
  s.name = std::move(name);
  s.shape = std::move(shape);
  s.kind = kind;
  s.port = port;
  s.constant = constant;
  return s;
}

std::vector<float> seq(std::size_t n, float start = 0, float step = 1) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = start + step * static_cast<float>(i);
  return v;
}

// data (in), conv1/weights (constant), conv1/bn_xx:0 (out), data (out), split (out+1)
std::string write_sample(const temp_dir& dir, const std::string& name, writer_options o = {}) {
  std::string path = dir.file(name);
  auto w = dump_writer::create(path, o);
  EXPECT_TRUE(w.has_value());
  auto in = make_spec("data", {1, 2, 2, 3}, record_kind::in);
  EXPECT_TRUE(w->write(in, seq(12, -1.0f, 0.5f)));
  auto wt = make_spec("conv1/weights", {3, 3}, record_kind::in, 1, true);
  EXPECT_TRUE(w->write(wt, seq(9)));
  auto bn = make_spec("conv1/bn_xx:0", {1, 2, 2, 4});
  bn.op_index = 1;
  EXPECT_TRUE(w->write(bn, seq(16, 0.0f, 0.25f)));
  auto data_out = make_spec("data", {1, 2, 2, 3});
  EXPECT_TRUE(w->write(data_out, seq(12, 10.0f, 1.0f)));
  auto split = make_spec("split", {1, 4}, record_kind::out, 1);
  split.op_index = 2;
  split.op_type = "SPLIT";
  EXPECT_TRUE(w->write(split, std::vector<float>{0.0f, 0.0f, 1.0f, -1.0f}));
  EXPECT_TRUE(w->close());
  return path;
}

TEST(CliLs, ListsRecordsAndSummary) {
  temp_dir dir;
  std::string path = write_sample(dir, "run.bin");
  auto r = run({bin_path("sigdump"), "ls", path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("conv1/bn_xx:0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("out+1"), std::string::npos);
  EXPECT_NE(r.out.find("SPLIT"), std::string::npos);
  EXPECT_NE(r.out.find("[1, 2, 2, 4]"), std::string::npos);
  EXPECT_NE(r.out.find("5 records (3 layer outputs, 1 constant)"), std::string::npos) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST(CliLs, JsonIsValidAndComplete) {
  temp_dir dir;
  writer_options o;
  o.is_float = false;
  std::string path = dir.file("we\"ird.bin");
  {
    auto w = dump_writer::create(path, o);
    ASSERT_TRUE(w);
    auto s = make_spec("name\\with\"quotes\ttab", {2});
    s.type = dtype::s8;
    ASSERT_TRUE(w->write(s, std::vector<float>{1.0f, 2.0f}));
    auto bad = make_spec("odd", {2});
    bad.type_name = "SGS_FOO";
    ASSERT_TRUE(w->write(bad, std::vector<float>{1.0f, 2.0f}));
    ASSERT_TRUE(w->append_bytes(
        "//out 0 s: 1.000000 z: 0 type: float name: cut bConstant:0 shape:[8] dims:1\n"
        "op_out[3] X = {\n//buffer data size: 32\n1234"));
  }
  auto r = run({bin_path("sigdump"), "ls", path, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("claims 32 bytes but only 4 remain"), std::string::npos) << r.err;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(std::string_view(doc["file"].get_string().value()), path);
  EXPECT_FALSE(doc["is_float"].get_bool().value());
  auto recs = doc["records"].get_array().value();
  ASSERT_EQ(recs.size(), 2u);
  auto first = recs.at(0).value();
  EXPECT_EQ(std::string_view(first["name"].get_string().value()), "name\\with\"quotes\ttab");
  EXPECT_EQ(std::string_view(first["kind"].get_string().value()), "out");
  EXPECT_EQ(first["output"].get_uint64().value(), 0u);
  EXPECT_EQ(first["op_index"].get_int64().value(), 0);
  EXPECT_EQ(std::string_view(first["op"].get_string().value()), "CONV_2D");
  EXPECT_EQ(first["shape"].get_array().value().size(), 1u);
  EXPECT_EQ(std::string_view(first["type"].get_string().value()), "SGS_S8");
  EXPECT_FALSE(first["constant"].get_bool().value());
  EXPECT_GT(first["offset"].get_uint64().value(), 0u);
  EXPECT_EQ(first["bytes"].get_uint64().value(), 2u);
  EXPECT_TRUE(first["problem"].is_null());
  EXPECT_EQ(std::string_view(recs.at(1)["problem"].get_string().value()), "unknown type 'SGS_FOO'");
  EXPECT_GT(doc["pending"]["offset"].get_uint64().value(), 0u);
}

TEST(CliLs, EdgeFilesAndErrors) {
  temp_dir dir;
  std::string empty = dir.file("empty.bin");
  write_file(empty, "");
  auto e = run({bin_path("sigdump"), "ls", empty});
  EXPECT_EQ(e.exit_code, 2);
  EXPECT_EQ(e.err, "sigdump: error: " + empty + ": empty file\n");

  std::string first = dir.file("first.bin");
  write_file(first, "isFloat: 1\n");
  auto f = run({bin_path("sigdump"), "ls", first});
  EXPECT_EQ(f.exit_code, 0);
  EXPECT_NE(f.out.find("no records"), std::string::npos);

  std::string garbage = dir.file("garbage.bin");
  write_file(garbage, std::string(200, '\x01') + "\n");
  auto g = run({bin_path("sigdump"), "ls", garbage});
  EXPECT_EQ(g.exit_code, 2);
  EXPECT_NE(g.err.find("not a tensor dump"), std::string::npos);
  EXPECT_EQ(std::count(g.err.begin(), g.err.end(), '\n'), 1);

  auto missing = run({bin_path("sigdump"), "ls", dir.file("missing.bin")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("missing.bin"), std::string::npos);

  auto usage = run({bin_path("sigdump"), "ls"});
  EXPECT_EQ(usage.exit_code, 2);
  auto bad_opt = run({bin_path("sigdump"), "ls", first, "--bogus"});
  EXPECT_EQ(bad_opt.exit_code, 2);
  auto help = run({bin_path("sigdump"), "ls", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("usage: sigdump ls"), std::string::npos);
}

// A FIFO where a dump should be: `sigdump ls` blocked in open() until
// killed. It is refused at once, like any file that is not a regular one.
TEST(CliLs, AFifoIsRefusedNotWaitedOn) {
  temp_dir dir;
  const std::string fifo = dir.file("sigma_outtensor_dump.bin");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const char* cmd : {"ls", "show"}) {
    std::vector<std::string> argv{bin_path("sigdump"), cmd, fifo};
    if (std::string(cmd) == "show") argv.push_back("conv1");
    auto r = run(argv, {}, {}, std::chrono::seconds(20));
    EXPECT_EQ(r.exit_code, 2) << cmd << " (-1: it hung and was killed)";
    EXPECT_NE(r.err.find("not a regular file"), std::string::npos) << r.err;
  }
  auto c = run({bin_path("sigdump"), "compare", fifo, fifo}, {}, {}, std::chrono::seconds(20));
  EXPECT_EQ(c.exit_code, 2) << "-1: it hung and was killed";
}

TEST(CliLs, CutTailListsCompleteRecordsAndWarns) {
  temp_dir dir;
  std::string path = write_sample(dir, "cut.bin");
  std::string bytes = read_file(path);
  write_file(path, bytes.substr(0, bytes.size() - 12));
  auto r = run({bin_path("sigdump"), "ls", path});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("4 records"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("pending: record 4 (split)"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("sigdump: warning: " + path + ": record 4 (split) at offset"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("claims 16 bytes but only"), std::string::npos) << r.err;
}

TEST(CliLs, FormatOverride) {
  temp_dir dir;
  writer_options o;
  o.variant = dump_variant::text;
  std::string path = write_sample(dir, "t.txt", o);
  auto r = run({bin_path("sigdump"), "ls", path, "--format", "text"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("text, isFloat: 1"), std::string::npos) << r.out;
  auto wrong = run({bin_path("sigdump"), "ls", path, "--format=binary"});
  EXPECT_EQ(wrong.exit_code, 2);
  auto bad = run({bin_path("sigdump"), "ls", path, "--format", "csv"});
  EXPECT_EQ(bad.exit_code, 2);
}

TEST(CliShow, ShowsHeaderStatsAndValues) {
  temp_dir dir;
  std::string path = write_sample(dir, "run.bin");
  auto r = run({bin_path("sigdump"), "show", path, "conv1/bn_xx:0", "--values", "2:5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("record 2: conv1/bn_xx:0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[1, 2, 2, 4]  (16 elements)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("count 16  min 0  max 3.75  mean 1.875"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("values [2, 5)\n  [2] 0.5 0.75 1\n"), std::string::npos) << r.out;

  // Sanitized name.
  auto s = run({bin_path("sigdump"), "show", path, "conv1_bn_xx0"});
  EXPECT_EQ(s.exit_code, 0);
  EXPECT_NE(s.out.find("matched by sanitized name"), std::string::npos);
}

TEST(CliShow, DuplicatesShowTheLastOutput) {
  temp_dir dir;
  std::string path = write_sample(dir, "run.bin");
  auto r = run({bin_path("sigdump"), "show", path, "data"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("record 3: data"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("occurs      2 times"), std::string::npos) << r.out;
  auto first = run({bin_path("sigdump"), "show", path, "data", "--occurrence", "0", "--json"});
  ASSERT_EQ(first.exit_code, 0);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(first.out).get(doc), simdjson::SUCCESS) << first.out;
  EXPECT_EQ(doc["record"]["index"].get_uint64().value(), 0u);
  EXPECT_EQ(std::string_view(doc["record"]["kind"].get_string().value()), "in");
  EXPECT_EQ(doc["occurrences"].get_array().value().size(), 2u);
  EXPECT_DOUBLE_EQ(doc["stats"]["min"].get_double().value(), -1.0);
  EXPECT_TRUE(doc["values"].is_null());
  auto out_of_range = run({bin_path("sigdump"), "show", path, "data", "--occurrence", "2"});
  EXPECT_EQ(out_of_range.exit_code, 2);
}

TEST(CliShow, UnknownNameListsClosestNames) {
  temp_dir dir;
  std::string path = write_sample(dir, "run.bin");
  auto r = run({bin_path("sigdump"), "show", path, "conv1/bn_xx"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no record named 'conv1/bn_xx'; closest names: 'conv1/bn_xx:0'"),
            std::string::npos)
      << r.err;
  auto usage = run({bin_path("sigdump"), "show", path});
  EXPECT_EQ(usage.exit_code, 2);
  auto bad_values = run({bin_path("sigdump"), "show", path, "data", "--values", "x"});
  EXPECT_EQ(bad_values.exit_code, 2);
}

TEST(CliShow, DequantizedValuesAndProblems) {
  temp_dir dir;
  writer_options o;
  o.is_float = false;
  std::string path = dir.file("q.bin");
  {
    auto w = dump_writer::create(path, o);
    ASSERT_TRUE(w);
    auto s = make_spec("q", {4});
    s.type = dtype::s16;
    s.scale = 0.5;
    s.zero_point = 2;
    ASSERT_TRUE(w->write(s, std::vector<float>{-1.0f, 0.0f, 0.5f, 100.0f}));
    auto bad = make_spec("odd", {2});
    bad.type_name = "SGS_FOO";
    ASSERT_TRUE(w->write(bad, std::vector<float>{1.0f, 2.0f}));
  }
  auto r = run({bin_path("sigdump"), "show", path, "q", "--values", ":"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("real = (q - 2) * 0.5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  [0] -1 0 0.5 100\n"), std::string::npos) << r.out;
  auto p = run({bin_path("sigdump"), "show", path, "odd"});
  EXPECT_EQ(p.exit_code, 1);
  EXPECT_NE(p.out.find("cannot be read: unknown type 'SGS_FOO'"), std::string::npos) << p.out;
}

}  // namespace
}  // namespace sigdump::testing
