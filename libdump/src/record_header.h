// The three header lines of a dump record ("//out K s: z: type: name: ...",
// "//op_out[I] OPTYPE", "//buffer data size: N") and how a binary payload
// fits its shape. Private to the parser (dump_parser.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sigdump/error.h"
#include "sigdump/record.h"

namespace sigdump::detail {

/* Why a header line was refused, and at which column. */
struct field_error {
  errc code = errc::bad_header;
  std::size_t column = 0;
  std::string message;
};

/* Line 1: kind, port, scale, zero point, type, name, constant, shape, dims. */
bool parse_line1(std::string_view line, record& r, field_error& err);
/* Line 2: the op index and op type. */
bool parse_line2(std::string_view line, record& r, field_error& err);
/* Line 3: the declared payload size N. */
bool parse_line3(std::string_view line, std::uint64_t& n, field_error& err);
/* Whether z lies in the range of integer type t. */
bool zero_point_fits(dtype t, std::int64_t z);
/* Fills elements/inner/fit for a binary record whose storage type is known. */
void fit_binary(record& r);

}  // namespace sigdump::detail
