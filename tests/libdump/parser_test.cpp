// The resumable parser: every variant round trip, cut at every byte,
// chunked feeding, malformed input, payload fits.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "dump_samples.h"
#include "sigdump/dump_parser.h"
#include "sigdump/dump_writer.h"

namespace sigdump::testing {
namespace {

struct variant_case {
  const char* name;
  writer_options options;
};

std::vector<variant_case> all_variants() {
  std::vector<variant_case> v;
  auto bin = [](trailer_style t, int blanks) {
    writer_options o;
    o.variant = dump_variant::binary;
    o.trailer = t;
    o.blank_lines = blanks;
    return o;
  };
  v.push_back({"binary_no_trailer", bin(trailer_style::none, 0)});
  v.push_back({"binary_simulator", bin(trailer_style::simulator, 0)});
  v.push_back({"binary_simulator_size", bin(trailer_style::simulator_size, 0)});
  v.push_back({"binary_no_trailer_blanks", bin(trailer_style::none, 2)});
  v.push_back({"binary_simulator_blanks", bin(trailer_style::simulator, 1)});
  v.push_back({"binary_simulator_size_blanks", bin(trailer_style::simulator_size, 3)});
  writer_options t;
  t.variant = dump_variant::text;
  v.push_back({"text", t});
  t.trailer = trailer_style::none;
  t.blank_lines = 1;
  v.push_back({"text_brace_only_blanks", t});
  writer_options one = t;
  one.write_first_line = false;
  v.push_back({"text_no_first_line", one});
  writer_options bin_nofirst = bin(trailer_style::simulator, 0);
  bin_nofirst.write_first_line = false;
  v.push_back({"binary_no_first_line", bin_nofirst});
  return v;
}

const dtype all_types[] = {dtype::f32, dtype::u8,  dtype::s8,     dtype::u16,
                           dtype::s16, dtype::s32, dtype::boolean};

TEST(DumpParser, RoundTripsEveryVariantTrailerAndType) {
  for (const auto& vc : all_variants()) {
    for (dtype type : all_types) {
      for (bool is_float : {true, false}) {
        if (!is_float && !vc.options.write_first_line) continue;  // no isFloat line: float only
        writer_options o = vc.options;
        o.is_float = is_float;
        auto recs = sample_records(type, type == dtype::boolean ? 1.0 : 0.25,
                                   type == dtype::u8 || type == dtype::u16 ? 40 : 0);
        std::string bytes = render_dump(o, recs);
        SCOPED_TRACE(std::string(vc.name) + " " + dtype_vendor_name(type) +
                     (is_float ? " isFloat:1" : " isFloat:0"));
        auto p = parse_bytes(bytes);
        ASSERT_FALSE(p.err) << p.err->describe();
        EXPECT_FALSE(p.pending);
        ASSERT_EQ(p.records.size(), recs.size());
        EXPECT_EQ(p.variant, o.variant);
        EXPECT_EQ(p.is_float, is_float);
        for (std::size_t i = 0; i < recs.size(); ++i) {
          const record& r = p.records[i];
          const tensor_spec& s = recs[i].spec;
          EXPECT_EQ(r.index, i);
          EXPECT_EQ(r.name, s.name);
          EXPECT_EQ(r.kind, s.kind);
          EXPECT_EQ(r.port, s.port);
          EXPECT_EQ(r.constant, s.constant);
          EXPECT_EQ(r.shape, s.shape);
          EXPECT_EQ(r.dims, s.shape.size());
          EXPECT_EQ(r.op_index, s.op_index);
          EXPECT_EQ(r.op_type, s.op_type);
          EXPECT_EQ(r.type, type);
          EXPECT_EQ(r.type_name, dtype_vendor_name(type));
          EXPECT_EQ(r.storage, is_float ? dtype::f32 : type);
          EXPECT_EQ(r.zero_point, s.zero_point);
          EXPECT_EQ(r.fit, payload_fit::exact);
          EXPECT_TRUE(r.ok()) << r.problem;
          auto vals = values_of(bytes, r, is_float, o.variant);
          ASSERT_EQ(vals.size(), recs[i].values.size());
          for (std::size_t k = 0; k < vals.size(); ++k) {
            ASSERT_DOUBLE_EQ(vals[k], expected_value(o, s, recs[i].values[k])) << "element " << k;
          }
        }
      }
    }
  }
}

// Complete records of the whole file that end at or before `cut`.
std::size_t complete_before(const std::vector<record>& full, std::size_t cut) {
  std::size_t n = 0;
  while (n < full.size() && full[n].end_offset <= cut) ++n;
  return n;
}

TEST(DumpParser, CutAtEveryByteGivesExactlyTheCompleteRecords) {
  for (const auto& vc : all_variants()) {
    for (bool is_float : {true, false}) {
      if (!is_float && !vc.options.write_first_line) continue;
      writer_options o = vc.options;
      o.is_float = is_float;
      auto recs = sample_records(is_float ? dtype::f32 : dtype::s16, 0.125);
      // Keep the files small: the test is quadratic in their size.
      recs[0].spec.shape = {1, 2, 3};
      recs[0].values.resize(6);
      recs[2].spec.shape = {1, 2, 5};
      recs[2].values.resize(10);
      std::string bytes = render_dump(o, recs);
      auto full = parse_bytes(bytes);
      ASSERT_FALSE(full.err) << full.err->describe();
      ASSERT_EQ(full.records.size(), recs.size());
      for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
        SCOPED_TRACE(std::string(vc.name) + (is_float ? " f" : " q") + " cut at " +
                     std::to_string(cut));
        std::string prefix = bytes.substr(0, cut);
        auto p = parse_bytes(prefix);
        ASSERT_FALSE(p.err) << p.err->describe();
        std::size_t want = complete_before(full.records, cut);
        ASSERT_EQ(p.records.size(), want);
        for (std::size_t i = 0; i < want; ++i) {
          expect_same_record(p.records[i], full.records[i]);
          EXPECT_EQ(values_of(prefix, p.records[i], is_float, o.variant),
                    values_of(bytes, full.records[i], is_float, o.variant));
        }
        if (want < full.records.size() && cut > full.records[want].header_offset) {
          ASSERT_TRUE(p.pending.has_value());
          EXPECT_EQ(p.pending->offset, full.records[want].header_offset);
          EXPECT_EQ(p.pending->record, static_cast<std::int64_t>(want));
          ASSERT_TRUE(p.tail.has_value());
          EXPECT_NE(p.tail->describe().find("record " + std::to_string(want)), std::string::npos)
              << p.tail->describe();
        }
      }
    }
  }
}

TEST(DumpParser, ChunkedFeedingMatchesOneFeed) {
  for (const auto& vc : all_variants()) {
    writer_options o = vc.options;
    auto recs = sample_records();
    std::string bytes = render_dump(o, recs);
    auto full = parse_bytes(bytes);
    ASSERT_FALSE(full.err);
    for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{17}, std::size_t{256}}) {
      SCOPED_TRACE(std::string(vc.name) + " chunk " + std::to_string(chunk));
      dump_parser p("t.bin");
      std::vector<record> got;
      for (std::size_t end = 0; end < bytes.size() + chunk; end += chunk) {
        std::size_t n = std::min(end, bytes.size());
        auto fed = p.feed(as_bytes(bytes).first(n), got);
        ASSERT_TRUE(fed.has_value()) << fed.error().describe();
        if (n == bytes.size()) break;
      }
      ASSERT_EQ(got.size(), full.records.size());
      for (std::size_t i = 0; i < got.size(); ++i) expect_same_record(got[i], full.records[i]);
      EXPECT_FALSE(p.pending());
      EXPECT_EQ(p.records_parsed(), full.records.size());
    }
  }
}

TEST(DumpParser, ExactHeaderLinesAreRead) {
  std::string bytes =
      "isFloat: 0\n"
      "//out 0 s: 0.000239 z: 0 type: SGS_S16 name: conv1/bn_xx_xx bConstant:0 shape:[1, 2, 2, 2] "
      "dims:4\n"
      "op_out[12] CONV_2D = {\n"
      "//buffer data size: 16\n" +
      std::string(16, '\x01') + "\n};\n";
  auto p = parse_bytes(bytes);
  ASSERT_FALSE(p.err) << p.err->describe();
  ASSERT_EQ(p.records.size(), 1u);
  const record& r = p.records[0];
  EXPECT_EQ(r.kind, record_kind::out);
  EXPECT_DOUBLE_EQ(r.scale, 0.000239);
  EXPECT_EQ(r.type, dtype::s16);
  EXPECT_EQ(r.storage, dtype::s16);
  EXPECT_EQ(r.name, "conv1/bn_xx_xx");
  EXPECT_EQ(r.op_index, 12);
  EXPECT_EQ(r.op_type, "CONV_2D");
  EXPECT_EQ(r.declared_bytes, 16u);
  EXPECT_EQ(r.payload_offset, bytes.find("\x01"));
  EXPECT_EQ(r.elements, 8u);
  auto v = values_of(bytes, r, false, dump_variant::binary);
  EXPECT_DOUBLE_EQ(v[0], 257 * 0.000239);
}

TEST(DumpParser, IsFloatOneMeansFloatPayloadWhateverTheType) {
  writer_options o;
  auto recs = sample_records(dtype::s8, 0.5);
  std::string bytes = render_dump(o, recs);
  auto p = parse_bytes(bytes);
  ASSERT_EQ(p.records.size(), 4u);
  EXPECT_EQ(p.records[0].type, dtype::s8);
  EXPECT_EQ(p.records[0].storage, dtype::f32);
  EXPECT_EQ(p.records[0].payload_bytes, 60u * 4);
  EXPECT_EQ(values_of(bytes, p.records[0], true, dump_variant::binary)[1], -7.25);
}

// z: 9223372036854775807 on SGS_U8 was dequantized into garbage metrics
// (and q - z can overflow): a zero point the type cannot hold is a problem
// of that record. In an isFloat: 1 file values are not dequantized.
TEST(DumpParser, AZeroPointOutsideItsTypeIsARecordProblem) {
  for (bool is_float : {false, true}) {
    SCOPED_TRACE(is_float ? "isFloat: 1" : "isFloat: 0");
    writer_options o;
    o.is_float = is_float;
    auto s = spec("q", {2, 4}, dtype::u8, 0.5, 0);
    std::string bytes = render_dump(o, {{s, {0, 1, 2, 3, 4, 5, 6, 7}}});
    const auto at = bytes.find("z: 0 ");
    ASSERT_NE(at, std::string::npos) << bytes.substr(0, 200);
    bytes.replace(at, 5, "z: 9223372036854775807 ");
    auto p = parse_bytes(bytes);
    ASSERT_EQ(p.records.size(), 1u);
    EXPECT_EQ(p.records[0].zero_point, 9223372036854775807);
    if (is_float) {
      EXPECT_TRUE(p.records[0].ok()) << p.records[0].problem;
    } else {
      EXPECT_NE(p.records[0].problem.find("zero point z: 9223372036854775807 is outside the range "
                                          "of SGS_U8"),
                std::string::npos)
          << p.records[0].problem;
    }
  }
}

TEST(DumpParser, DequantizesEveryIntegerType) {
  for (dtype t : {dtype::u8, dtype::s8, dtype::u16, dtype::s16, dtype::s32, dtype::boolean}) {
    SCOPED_TRACE(dtype_vendor_name(t));
    writer_options o;
    o.is_float = false;
    double scale = t == dtype::boolean ? 2.5 : 0.5;
    std::int64_t zero = t == dtype::u8 ? 128 : (t == dtype::s16 ? -3 : 0);
    auto s = spec("q", {2, 4}, t, scale, zero);
    std::vector<float> vals = {-2.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f, 10.0f, 63.5f};
    std::string bytes = render_dump(o, {{s, vals}});
    auto p = parse_bytes(bytes);
    ASSERT_EQ(p.records.size(), 1u);
    EXPECT_EQ(p.records[0].storage, t);
    EXPECT_EQ(p.records[0].payload_bytes, 8 * dtype_size(t));
    auto got = values_of(bytes, p.records[0], false, dump_variant::binary);
    for (std::size_t i = 0; i < vals.size(); ++i)
      EXPECT_DOUBLE_EQ(got[i], expected_value(o, s, vals[i]));
    if (t == dtype::s16) {
      EXPECT_DOUBLE_EQ(got[0], -2.0);
    }
    if (t == dtype::u8) {
      EXPECT_DOUBLE_EQ(got[6], 10.0);
    }
  }
  // isFloat: 0 with a float record: payload stays f32.
  writer_options o;
  o.is_float = false;
  auto s = spec("f", {3}, dtype::f32, 0.1, 7);
  std::string bytes = render_dump(o, {{s, {1.25f, -2.5f, 3.0f}}});
  auto p = parse_bytes(bytes);
  ASSERT_EQ(p.records.size(), 1u);
  EXPECT_EQ(p.records[0].storage, dtype::f32);
  EXPECT_EQ(values_of(bytes, p.records[0], false, dump_variant::binary),
            (std::vector<double>{1.25, -2.5, 3.0}));
}

TEST(DumpParser, PaddedInnerDimensionIsSkipped) {
  writer_options o;
  auto s = spec("pad", {1, 3, 2, 5}, dtype::f32);
  s.pad_inner_to = 8;
  auto vals = ramp(30, 0.0f, 1.0f);
  std::string bytes = render_dump(o, {{s, vals}});
  auto p = parse_bytes(bytes);
  ASSERT_EQ(p.records.size(), 1u);
  const record& r = p.records[0];
  EXPECT_EQ(r.fit, payload_fit::unpadded_inner);
  EXPECT_EQ(r.payload_bytes, 6u * 8 * 4);
  EXPECT_EQ(r.inner, 5u);
  EXPECT_EQ(r.inner_stride, 8u);
  EXPECT_TRUE(r.ok());
  auto got = values_of(bytes, r, true, dump_variant::binary);
  for (std::size_t i = 0; i < 30; ++i) EXPECT_EQ(got[i], static_cast<double>(i));
}

TEST(DumpParser, LargerPayloadThatIsNotPaddingIsTruncated) {
  writer_options o;
  auto s = spec("extra", {2, 3}, dtype::f32);
  s.extra_bytes = 5;  // not a multiple of a row: cannot be padding
  std::string bytes = render_dump(o, {{s, ramp(6, 1, 1)}, {spec("next", {1}), {9}}});
  auto p = parse_bytes(bytes);
  ASSERT_EQ(p.records.size(), 2u);
  EXPECT_EQ(p.records[0].fit, payload_fit::truncated);
  EXPECT_EQ(p.records[0].payload_bytes, 29u);
  EXPECT_TRUE(p.records[0].ok());
  EXPECT_EQ(values_of(bytes, p.records[0], true, dump_variant::binary),
            (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(values_of(bytes, p.records[1], true, dump_variant::binary), (std::vector<double>{9}));
}

TEST(DumpParser, SmallerPayloadIsAProblemNotAnError) {
  writer_options o;
  std::string bytes = dump_writer::render_first_line(o);
  std::vector<std::byte> payload(10);
  auto s = spec("small", {1, 4});
  bytes +=
      "//out 0 s: 1.000000 z: 0 type: float name: small bConstant:0 shape:[1, 4] dims:2\n"
      "op_out[0] CONV_2D = {\n//buffer data size: 10\n" +
      std::string(10, '\0') + "\n};\n";
  bytes += dump_writer::render(o, spec("after", {2}), std::vector<float>{1, 2});
  auto p = parse_bytes(bytes);
  ASSERT_FALSE(p.err);
  ASSERT_EQ(p.records.size(), 2u);
  EXPECT_EQ(p.records[0].fit, payload_fit::too_small);
  EXPECT_FALSE(p.records[0].ok());
  EXPECT_NE(p.records[0].problem.find("needs 16"), std::string::npos) << p.records[0].problem;
  EXPECT_FALSE(make_tensor_view(p.records[0], true, dump_variant::binary, as_bytes(bytes), nullptr)
                   .has_value());
  EXPECT_TRUE(p.records[1].ok());
}

TEST(DumpParser, UnknownTypeIsARecordProblem) {
  writer_options o;
  o.is_float = false;
  auto foo = spec("weird", {2, 2}, dtype::s16);
  foo.type_name = "SGS_FOO";
  std::string bytes = dump_writer::render_first_line(o);
  bytes += dump_writer::render(o, spec("a", {2}, dtype::s8), std::vector<float>{1, 2});
  bytes += dump_writer::render(o, foo, std::vector<float>{1, 2, 3, 4});
  bytes += dump_writer::render(o, spec("b", {2}, dtype::s8), std::vector<float>{3, 4});
  auto p = parse_bytes(bytes);
  ASSERT_FALSE(p.err);
  ASSERT_EQ(p.records.size(), 3u);
  EXPECT_TRUE(p.records[0].ok());
  EXPECT_EQ(p.records[1].problem, "unknown type 'SGS_FOO'");
  EXPECT_EQ(p.records[1].type, dtype::unknown);
  EXPECT_EQ(p.records[1].payload_bytes, 8u);
  auto v = make_tensor_view(p.records[1], false, dump_variant::binary, as_bytes(bytes), nullptr,
                            "t.bin");
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code, errc::unknown_type);
  EXPECT_EQ(values_of(bytes, p.records[2], false, dump_variant::binary),
            (std::vector<double>{3, 4}));
}

TEST(DumpParser, EmptyFileAndFirstLineOnly) {
  auto e = parse_bytes("");
  EXPECT_FALSE(e.err);
  EXPECT_TRUE(e.records.empty());
  ASSERT_TRUE(e.tail);
  EXPECT_EQ(e.tail->code, errc::not_a_dump);
  EXPECT_EQ(e.tail->describe(), "t.bin: empty file");

  auto f = parse_bytes("isFloat: 1\n");
  EXPECT_FALSE(f.err);
  EXPECT_TRUE(f.records.empty());
  EXPECT_FALSE(f.pending);
  EXPECT_FALSE(f.tail);
  EXPECT_EQ(f.is_float, true);

  auto g = parse_bytes("isFloat: 0\n\n\n");
  EXPECT_FALSE(g.err);
  EXPECT_FALSE(g.pending);
  EXPECT_EQ(g.is_float, false);
}

TEST(DumpParser, DeclaredSizePastTheEndIsPendingThenATailError) {
  writer_options o;
  auto recs = sample_records();
  std::string bytes = render_dump(o, recs);
  auto full = parse_bytes(bytes);
  const record& last = full.records[3];
  std::string cut = bytes.substr(0, last.payload_offset + 9);
  auto p = parse_bytes(cut, {}, "run3.bin");
  ASSERT_FALSE(p.err);
  EXPECT_EQ(p.records.size(), 3u);
  ASSERT_TRUE(p.pending);
  EXPECT_EQ(p.pending->offset, last.header_offset);
  EXPECT_EQ(p.pending->name, "split#1");
  EXPECT_EQ(p.pending->needed, last.payload_offset + 80 - last.header_offset);
  EXPECT_EQ(p.pending->available, cut.size() - last.header_offset);
  ASSERT_TRUE(p.tail);
  EXPECT_EQ(p.tail->code, errc::bad_size);
  EXPECT_EQ(p.tail->describe(), "run3.bin: record 3 (split#1) at offset " +
                                    std::to_string(last.header_offset) +
                                    ": claims 80 bytes but only 9 remain");
}

TEST(DumpParser, HugeDeclaredSizeNeverAllocates) {
  std::string head =
      "isFloat: 1\n//out 0 s: 1.000000 z: 0 type: float name: big bConstant:0 shape:[1] dims:1\n"
      "op_out[0] X = {\n//buffer data size: ";
  auto p = parse_bytes(head + "999999999999999\n1234");
  EXPECT_FALSE(p.err);
  ASSERT_TRUE(p.tail);
  EXPECT_NE(p.tail->message.find("claims 999999999999999 bytes but only 4 remain"),
            std::string::npos);
  auto q = parse_bytes(head + "99999999999999999999999\n");
  ASSERT_TRUE(q.err);
  EXPECT_EQ(q.err->code, errc::bad_size);
  auto r = parse_bytes(head + "2305843009213693953\n");
  ASSERT_TRUE(r.err);
  EXPECT_EQ(r.err->code, errc::bad_size);
}

struct bad_case {
  const char* what;
  std::string bytes;
  errc code;
  std::int64_t record;
  std::string needle;  // must appear in the message
};

std::string rec(const std::string& line1, const std::string& line2 = "op_out[0] CONV_2D = {",
                const std::string& line3 = "//buffer data size: 4",
                std::string payload = "\0\0\0\0") {
  if (payload == std::string("\0\0\0\0")) payload = std::string(4, '\0');
  return line1 + "\n" + line2 + "\n" + line3 + "\n" + payload + "\n};\n";
}

const std::string good1 =
    "//out 0 s: 1.000000 z: 0 type: float name: a bConstant:0 shape:[1] dims:1";

TEST(DumpParser, MalformedInputIsAnErrorNamingFileRecordAndOffset) {
  std::vector<bad_case> cases = {
      {"garbage first line",
       "\x7f"
       "ELF\x02\x01\x01\n\0\0\0",
       errc::not_a_dump, no_record, "not a tensor dump"},
      {"bad isFloat", "isFloat: 2\n", errc::bad_header, no_record, "isFloat"},
      {"missing s:",
       "isFloat: 1\n" + rec("//out 0 z: 0 type: float name: a bConstant:0 shape:[1] dims:1"),
       errc::bad_header, 0, "'s:'"},
      {"reordered z before s",
       "isFloat: 1\n" + rec("//out 0 z: 0 s: 1.0 type: float name: a bConstant:0 shape:[1] dims:1"),
       errc::bad_header, 0, "'s:'"},
      {"non-numeric scale",
       "isFloat: 1\n" + rec("//out 0 s: abc z: 0 type: float name: a bConstant:0 shape:[1] dims:1"),
       errc::bad_header, 0, "scale"},
      {"missing name",
       "isFloat: 1\n" + rec("//out 0 s: 1 z: 0 type: float bConstant:0 shape:[1] dims:1"),
       errc::bad_header, 0, "'name:'"},
      {"bad bConstant",
       "isFloat: 1\n" + rec("//out 0 s: 1 z: 0 type: float name: a bConstant:7 shape:[1] dims:1"),
       errc::bad_header, 0, "bConstant"},
      {"dims mismatch",
       "isFloat: 1\n" +
           rec("//out 0 s: 1 z: 0 type: float name: a bConstant:0 shape:[1, 1] dims:3"),
       errc::bad_shape, 0, "dims:3"},
      {"negative dim",
       "isFloat: 1\n" +
           rec("//out 0 s: 1 z: 0 type: float name: a bConstant:0 shape:[1, -4] dims:2"),
       errc::bad_shape, 0, "negative"},
      {"shape overflow",
       "isFloat: 1\n" + rec("//out 0 s: 1 z: 0 type: float name: a bConstant:0 shape:[4294967296, "
                            "4294967296] dims:2"),
       errc::bad_shape, 0, "more elements"},
      {"bad line 2", "isFloat: 1\n" + rec(good1, "CONV_2D"), errc::bad_header, 0, "line 2"},
      {"bad line 3", "isFloat: 1\n" + rec(good1, "op_out[0] X = {", "//buffer size: 4"),
       errc::bad_header, 0, "line 3"},
      {"negative size", "isFloat: 1\n" + rec(good1, "op_out[0] X = {", "//buffer data size: -4"),
       errc::bad_size, 0, "negative"},
      {"non-numeric size",
       "isFloat: 1\n" + rec(good1, "op_out[0] X = {", "//buffer data size: four"), errc::bad_header,
       0, "not a number"},
      {"garbage between records", "isFloat: 1\n" + rec(good1) + "garbage here\n" + rec(good1),
       errc::not_a_dump, 1, "expected a '//out '"},
      {"binary garbage after payload",
       "isFloat: 1\n" + rec(good1) + std::string("\x01\x02\x03\x00\xff\n", 6), errc::not_a_dump, 1,
       "header line"},
      {"header line too long",
       "isFloat: 1\n//out 0 s: 1 z: 0 type: float name: " + std::string(70000, 'a'),
       errc::bad_header, 0, "longer than"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    auto p = parse_bytes(c.bytes, {}, "bad.bin");
    ASSERT_TRUE(p.err.has_value());
    EXPECT_EQ(errc_name(p.err->code), std::string(errc_name(c.code)));
    EXPECT_EQ(p.err->record, c.record);
    EXPECT_EQ(p.err->file, "bad.bin");
    EXPECT_NE(p.err->offset, no_offset);
    std::string d = p.err->describe();
    EXPECT_TRUE(d.starts_with("bad.bin")) << d;
    EXPECT_NE(d.find("offset"), std::string::npos) << d;
    if (c.record != no_record) {
      EXPECT_NE(d.find("record " + std::to_string(c.record)), std::string::npos) << d;
    }
    EXPECT_NE(d.find(c.needle), std::string::npos) << d;
    // The parser stays failed.
    dump_parser again("bad.bin");
    std::vector<record> out;
    ASSERT_FALSE(again.feed(as_bytes(c.bytes), out).has_value());
    EXPECT_FALSE(again.feed(as_bytes(c.bytes), out).has_value());
  }
}

TEST(DumpParser, IncompleteLinesAtTheEndArePendingNotErrors) {
  auto p = parse_bytes("isFloat: 1\n//out 0 s: 1 z: 0 type: float name: a bConst");
  EXPECT_FALSE(p.err);
  ASSERT_TRUE(p.pending);
  EXPECT_EQ(p.pending->offset, 11u);
  auto q = parse_bytes("isFl");
  EXPECT_FALSE(q.err);
  EXPECT_TRUE(q.pending);
  auto r = parse_bytes("isFloat: 1\n" + rec(good1) + "//o");
  EXPECT_FALSE(r.err);
  EXPECT_EQ(r.records.size(), 1u);
  EXPECT_TRUE(r.pending);
  // A trailer without its final newline is not a cut record.
  auto s = parse_bytes("isFloat: 1\n" + rec(good1).substr(0, rec(good1).size() - 1));
  EXPECT_FALSE(s.err);
  EXPECT_EQ(s.records.size(), 1u);
  EXPECT_FALSE(s.pending);
}

TEST(DumpParser, VariantOverrideForcesTheReading) {
  // A zero-size first record followed by a brace line reads both ways.
  std::string ambiguous =
      "isFloat: 1\n//out 0 s: 1 z: 0 type: float name: e bConstant:0 shape:[0] dims:1\n"
      "op_out[0] X = {\n//buffer data size: 0\n\n}\n";
  auto auto_p = parse_bytes(ambiguous);
  EXPECT_FALSE(auto_p.err);
  EXPECT_TRUE(auto_p.records.empty());
  ASSERT_TRUE(auto_p.tail);
  EXPECT_NE(auto_p.tail->message.find("binary or text"), std::string::npos);
  for (dump_variant v : {dump_variant::binary, dump_variant::text}) {
    auto p = parse_bytes(ambiguous, parse_options{v});
    ASSERT_FALSE(p.err) << p.err->describe();
    ASSERT_EQ(p.records.size(), 1u);
    EXPECT_EQ(p.variant, v);
    EXPECT_EQ(p.records[0].elements, 0u);
  }
  // Forcing text on a binary file is an error, not a crash.
  writer_options o;
  std::string bin = render_dump(o, sample_records());
  auto t = parse_bytes(bin, parse_options{dump_variant::text});
  EXPECT_TRUE(t.err);
}

TEST(DumpParser, TextValuesCountAgainstTheShape) {
  std::string head =
      "//out 0 s: 1.000000 z: 0 type: float name: t bConstant:0 shape:[1, 3] dims:2\n"
      "op_out[0] X = {\n//buffer data size: 12\n\n";
  auto few = parse_bytes(head + "1.000000, 2.000000, \n};\n");
  ASSERT_EQ(few.records.size(), 1u);
  EXPECT_EQ(few.variant, dump_variant::text);
  EXPECT_EQ(few.records[0].fit, payload_fit::too_small);
  EXPECT_FALSE(few.records[0].ok());
  std::string many_bytes = head + "1.000000, 2.000000, 3.500000, 4.0, \n}\n";
  auto many = parse_bytes(many_bytes);
  ASSERT_EQ(many.records.size(), 1u);
  EXPECT_EQ(many.records[0].fit, payload_fit::truncated);
  EXPECT_EQ(values_of(many_bytes, many.records[0], true, dump_variant::text),
            (std::vector<double>{1, 2, 3.5}));
  // Once the file is known to be text, a stray byte in the values is an error.
  auto bad = parse_bytes(head + "1.0, 2.0, 3.0\n}\n" + head + "1.0, 2.0, x\n}\n");
  ASSERT_TRUE(bad.err);
  EXPECT_NE(bad.err->describe().find("record 1 (t)"), std::string::npos);
  std::string nan_bytes = head + "nan, -inf, 1e3, \n}\n";
  auto nan = parse_bytes(nan_bytes);
  ASSERT_EQ(nan.records.size(), 1u);
  auto v = values_of(nan_bytes, nan.records[0], true, dump_variant::text);
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_TRUE(std::isinf(v[1]));
  EXPECT_EQ(v[2], 1000.0);
}

TEST(DumpParser, CarriageReturnsAreTolerated) {
  std::string bytes =
      "isFloat: 1\r\n//out 0 s: 1.000000 z: 0 type: float name: crlf bConstant:0 shape:[1] "
      "dims:1\r\n"
      "op_out[0] X = {\r\n//buffer data size: 4\r\n" +
      std::string(4, '\0') + "\r\n};\r\n";
  auto p = parse_bytes(bytes);
  ASSERT_FALSE(p.err) << p.err->describe();
  ASSERT_EQ(p.records.size(), 1u);
  EXPECT_EQ(p.records[0].name, "crlf");
}

}  // namespace
}  // namespace sigdump::testing
