// One tensor record of a dump, as its three header lines describe it, plus
// where its payload lies in the file. Payload bytes are never copied here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sigdump {

/* Element type of a record's payload as stored in the file. */
enum class dtype : std::uint8_t { f32, u8, s8, u16, s16, s32, boolean, unknown };

/* "float", "SGS_U8", ... as the vendor spells it; "unknown" for unknown. */
const char* dtype_vendor_name(dtype t) noexcept;
/* "f32", "u8", "s8", "u16", "s16", "s32", "bool" (used in JSON locators). */
const char* dtype_short_name(dtype t) noexcept;
/* Bytes per element; 0 for unknown. */
std::size_t dtype_size(dtype t) noexcept;
/* Parses the vendor spelling ("float", "SGS_S16", ...); unknown on failure. */
dtype parse_vendor_dtype(std::string_view s) noexcept;

enum class record_kind : std::uint8_t { out, in };

/* Which dump family a file is. */
enum class dump_variant : std::uint8_t { binary, text };

/* What the reader did when the payload size did not equal the shape. */
enum class payload_fit : std::uint8_t {
  exact,           // bytes == product(shape) * element size
  unpadded_inner,  // innermost dimension padded in the file; padding skipped
  truncated,       // more bytes than the shape needs; first elements kept
  too_small,       // fewer bytes than the shape needs: record has a problem
};

struct record {
  std::uint32_t index = 0;  // 0-based position in the file
  record_kind kind = record_kind::out;
  std::uint32_t port = 0;           // K of "//out K" / "//in K"
  double scale = 0.0;               // s:
  std::int64_t zero_point = 0;      // z:
  std::string type_name;            // type: as written
  dtype type = dtype::unknown;      // type: parsed
  dtype storage = dtype::unknown;   // element type of the payload bytes
                                    // (f32 when the file says isFloat: 1)
  std::string name;                 // name:
  bool constant = false;            // bConstant:
  std::vector<std::int64_t> shape;  // shape:[...]
  std::uint32_t dims = 0;           // dims:
  std::int64_t op_index = -1;       // I of op_out[I] / op_in[I]
  std::string op_type;              // OPTYPE of line 2

  std::uint64_t header_offset = 0;   // first byte of "//out"/"//in"
  std::uint64_t payload_offset = 0;  // first payload byte (binary) or first value text byte
  std::uint64_t payload_bytes = 0;   // binary: N from line 3; text: bytes of value text
  std::uint64_t declared_bytes = 0;  // N from "//buffer data size: N"
  std::uint64_t end_offset = 0;      // first byte after the payload (binary) or after the
                                     // closing '}' (text); trailers and blank lines that
                                     // follow belong to the gap before the next record

  std::uint64_t elements = 0;      // product(shape) (what readers expose)
  std::uint64_t inner = 0;         // innermost dimension in elements (1 for rank 0)
  std::uint64_t inner_stride = 0;  // elements between rows in the file (>= inner)
  payload_fit fit = payload_fit::exact;

  std::string problem;  // empty when the record is usable; otherwise why not

  bool ok() const noexcept { return problem.empty(); }
  bool is_layer_output() const noexcept { return kind == record_kind::out && !constant; }
};

/* The vendor's sanitized name: '/' -> '_', ':' removed. */
std::string sanitize_name(std::string_view name);

/* "[1, 112, 112, 32]" */
std::string format_shape(const std::vector<std::int64_t>& shape);

}  // namespace sigdump
