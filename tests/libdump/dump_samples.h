// Sample dumps for the reader tests: a few records of every kind, rendered
// with dump_writer in any variant, plus helpers to parse bytes in memory.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sigdump/dump_parser.h"
#include "sigdump/dump_writer.h"
#include "sigdump/tensor.h"

namespace sigdump::testing {

struct sample_record {
  tensor_spec spec;
  std::vector<float> values;
};

inline std::vector<float> ramp(std::size_t n, float start, float step) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = start + step * static_cast<float>(i);
  return v;
}

inline tensor_spec spec(std::string name, std::vector<std::int64_t> shape, dtype type = dtype::f32,
                        double scale = 1.0, std::int64_t zero = 0) {
  tensor_spec s;
  s.name = std::move(name);
  s.shape = std::move(shape);
  s.type = type;
  s.scale = scale;
  s.zero_point = zero;
  return s;
}

/* Four records: an input, a constant, two layer outputs (one a 2-output op). */
inline std::vector<sample_record> sample_records(dtype type = dtype::f32, double scale = 0.5,
                                                 std::int64_t zero = 0) {
  std::vector<sample_record> out;
  sample_record a{spec("data", {1, 3, 4, 5}, type, scale, zero), ramp(60, -7.5f, 0.25f)};
  a.spec.op_index = 0;
  a.spec.kind = record_kind::in;
  a.spec.op_type = "CONV_2D";
  sample_record b{spec("conv1/weights", {2, 3}, type, scale, zero), ramp(6, 1.0f, 0.5f)};
  b.spec.constant = true;
  b.spec.kind = record_kind::in;
  b.spec.port = 1;
  sample_record c{spec("conv1/bn_xx:0", {1, 2, 2, 17}, type, scale, zero), ramp(68, -4.0f, 0.125f)};
  c.spec.op_index = 0;
  sample_record d{spec("split#1", {1, 20}, type, scale, zero), ramp(20, 3.0f, -0.5f)};
  d.spec.op_index = 1;
  d.spec.port = 1;
  d.spec.op_type = "SPLIT";
  out.push_back(std::move(a));
  out.push_back(std::move(b));
  out.push_back(std::move(c));
  out.push_back(std::move(d));
  return out;
}

inline std::string render_dump(const writer_options& o, const std::vector<sample_record>& recs) {
  std::string bytes = dump_writer::render_first_line(o);
  for (std::size_t i = 0; i < recs.size(); ++i) {
    if (i > 0) bytes.append(static_cast<std::size_t>(o.blank_lines), '\n');
    bytes += dump_writer::render(o, recs[i].spec, recs[i].values);
  }
  return bytes;
}

inline std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

struct parsed {
  std::vector<record> records;
  std::optional<error> err;
  std::optional<pending_tail> pending;
  std::optional<error> tail;
  std::optional<dump_variant> variant;
  std::optional<bool> is_float;
};

inline parsed parse_bytes(const std::string& bytes, parse_options o = {},
                          const std::string& name = "t.bin") {
  dump_parser p(name, o);
  parsed r;
  auto fed = p.feed(as_bytes(bytes), r.records);
  if (!fed) r.err = fed.error();
  r.pending = p.pending();
  r.tail = p.tail_error();
  r.variant = p.variant();
  r.is_float = p.is_float();
  return r;
}

/* Field-by-field equality of two records. */
inline void expect_same_record(const record& a, const record& b) {
  EXPECT_EQ(a.index, b.index);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.port, b.port);
  EXPECT_EQ(a.scale, b.scale);
  EXPECT_EQ(a.zero_point, b.zero_point);
  EXPECT_EQ(a.type_name, b.type_name);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.storage, b.storage);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.constant, b.constant);
  EXPECT_EQ(a.shape, b.shape);
  EXPECT_EQ(a.dims, b.dims);
  EXPECT_EQ(a.op_index, b.op_index);
  EXPECT_EQ(a.op_type, b.op_type);
  EXPECT_EQ(a.header_offset, b.header_offset);
  EXPECT_EQ(a.payload_offset, b.payload_offset);
  EXPECT_EQ(a.payload_bytes, b.payload_bytes);
  EXPECT_EQ(a.declared_bytes, b.declared_bytes);
  EXPECT_EQ(a.end_offset, b.end_offset);
  EXPECT_EQ(a.elements, b.elements);
  EXPECT_EQ(a.inner, b.inner);
  EXPECT_EQ(a.inner_stride, b.inner_stride);
  EXPECT_EQ(a.fit, b.fit);
  EXPECT_EQ(a.problem, b.problem);
}

/* Real values of record r of `bytes` (whole file). */
inline std::vector<double> values_of(const std::string& bytes, const record& r, bool is_float,
                                     dump_variant variant) {
  auto v = make_tensor_view(r, is_float, variant, as_bytes(bytes), nullptr, "t.bin");
  EXPECT_TRUE(v.has_value()) << (v ? "" : v.error().describe());
  std::vector<double> out;
  if (!v) return out;
  out.resize(static_cast<std::size_t>(v->elements));
  v->read(0, out);
  return out;
}

/* What a reader must return for value v written with this spec/options. */
inline double expected_value(const writer_options& o, const tensor_spec& s, float v) {
  if (o.is_float || s.type == dtype::f32) {
    if (o.variant == dump_variant::text) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(v));
      return static_cast<double>(std::strtof(buf, nullptr));
    }
    return static_cast<double>(v);
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%f", s.scale);
  double scale = std::strtod(buf, nullptr);
  double lo = 0, hi = 0;
  switch (s.type) {
    case dtype::u8: hi = 255; break;
    case dtype::s8:
      lo = -128;
      hi = 127;
      break;
    case dtype::u16: hi = 65535; break;
    case dtype::s16:
      lo = -32768;
      hi = 32767;
      break;
    case dtype::s32:
      lo = -2147483648.0;
      hi = 2147483647.0;
      break;
    case dtype::boolean: hi = 1; break;
    default: break;
  }
  double q = std::nearbyint(static_cast<double>(v) / scale) + static_cast<double>(s.zero_point);
  q = std::min(hi, std::max(lo, q));
  return (q - static_cast<double>(s.zero_point)) * scale;
}

}  // namespace sigdump::testing
