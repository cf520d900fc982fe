// dump_writer: exact header and text formats, blank lines, quantization.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dump_samples.h"
#include "sigdump/dump_file.h"
#include "sigdump/dump_writer.h"
#include "test_support.h"

namespace sigdump::testing {
namespace {

TEST(DumpWriter, HeaderLinesAreTheVendorFormat) {
  writer_options o;
  o.is_float = false;
  tensor_spec s = spec("conv1/bn_xx_xx", {1, 112, 112, 32}, dtype::s16, 0.000239, 0);
  s.op_index = 12;
  std::vector<float> v(112 * 112 * 32, 0.0f);
  std::string r = dump_writer::render(o, s, v);
  EXPECT_TRUE(
      r.starts_with("//out 0 s: 0.000239 z: 0 type: SGS_S16 name: conv1/bn_xx_xx bConstant:0 "
                    "shape:[1, 112, 112, 32] dims:4\n"
                    "op_out[12] CONV_2D = {\n"
                    "//buffer data size: 802816\n"))
      << r.substr(0, 200);
  EXPECT_TRUE(r.ends_with("\n};\n"));
  EXPECT_EQ(dump_writer::render_first_line(o), "isFloat: 0\n");
  s.kind = record_kind::in;
  s.constant = true;
  s.port = 2;
  std::string in = dump_writer::render(o, s, v);
  EXPECT_TRUE(
      in.starts_with("//in 2 s: 0.000239 z: 0 type: SGS_S16 name: conv1/bn_xx_xx bConstant:1"));
  EXPECT_NE(in.find("\nop_in[12] CONV_2D = {\n"), std::string::npos);
}

TEST(DumpWriter, TrailerForms) {
  writer_options o;
  auto s = spec("t", {1});
  std::vector<float> v = {1.0f};
  o.trailer = trailer_style::none;
  EXPECT_TRUE(dump_writer::render(o, s, v).ends_with("//buffer data size: 4\n" +
                                                     std::string("\0\0\x80\x3f", 4)));
  o.trailer = trailer_style::simulator_size;
  EXPECT_TRUE(dump_writer::render(o, s, v).ends_with("\n};\n//buffer data size: 4\n"));
}

TEST(DumpWriter, TextValuesSixteenPerLine) {
  writer_options o;
  o.variant = dump_variant::text;
  auto s = spec("t", {1, 18});
  std::string r = dump_writer::render(o, s, ramp(18, 0.5f, 1.0f));
  std::string want_values =
      "0.500000, 1.500000, 2.500000, 3.500000, 4.500000, 5.500000, 6.500000, 7.500000, "
      "8.500000, 9.500000, 10.500000, 11.500000, 12.500000, 13.500000, 14.500000, 15.500000, \n"
      "16.500000, 17.500000, \n};\n";
  EXPECT_TRUE(r.ends_with("//buffer data size: 72\n\n" + want_values)) << r;
  o.is_float = false;
  auto q = spec("q", {3}, dtype::s8, 0.5, 0);
  std::string qr = dump_writer::render(o, q, std::vector<float>{1.0f, -2.0f, 100.0f});
  EXPECT_TRUE(qr.ends_with("\n\n     2,     -4,    127, \n};\n")) << qr;
}

TEST(DumpWriter, BlankLinesGoBetweenRecordsAndReadersSeeThem) {
  temp_dir dir;
  std::string path = dir.file("b.bin");
  writer_options o;
  o.blank_lines = 2;
  auto w = dump_writer::create(path, o);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->bytes_written(), 11u);
  auto recs = sample_records();
  for (auto& r : recs) ASSERT_TRUE(w->write(r.spec, r.values));
  std::vector<std::byte> raw(12, std::byte{0});
  ASSERT_TRUE(w->write_raw(spec("raw", {3}), raw));
  std::string bytes = read_file(path);
  EXPECT_EQ(bytes.size(), w->bytes_written());
  EXPECT_TRUE(bytes.starts_with("isFloat: 1\n//in 0 "));
  EXPECT_NE(bytes.find("\n};\n\n\n//in 1 "), std::string::npos);
  // Visible to a reader before close().
  auto f = dump_file::open(path);
  ASSERT_TRUE(f) << f.error().describe();
  EXPECT_EQ(f->records().size(), 5u);
  ASSERT_TRUE(w->close());
  EXPECT_FALSE(w->append_bytes("x"));
}

TEST(DumpWriter, QuantizationSaturatesAndRounds) {
  writer_options o;
  o.is_float = false;
  auto s = spec("u8", {4}, dtype::u8, 1.0, 10);
  std::string bytes = render_dump(o, {{s, {-20.0f, 0.4f, 0.6f, 1000.0f}}});
  auto p = parse_bytes(bytes);
  ASSERT_EQ(p.records.size(), 1u);
  EXPECT_EQ(values_of(bytes, p.records[0], false, dump_variant::binary),
            (std::vector<double>{-10.0, 0.0, 1.0, 245.0}));
}

}  // namespace
}  // namespace sigdump::testing
