#include "record_header.h"

#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>

#include "parse_util.h"

namespace sigdump::detail {

namespace {

struct field_cursor {
  std::string_view s;
  std::size_t pos = 0;

  bool eat(std::string_view lit) noexcept {
    if (s.substr(pos).starts_with(lit)) {
      pos += lit.size();
      return true;
    }
    return false;
  }
  void spaces() noexcept {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t')) ++pos;
  }
  template <class T>
  bool number(T& out) noexcept {
    const char* b = s.data() + pos;
    auto [ptr, ec] = std::from_chars(b, s.data() + s.size(), out);
    if (ec != std::errc{} || ptr == b) return false;
    pos += static_cast<std::size_t>(ptr - b);
    return true;
  }
  // A token up to the next space.
  std::string_view word() noexcept {
    std::size_t e = s.find_first_of(" \t", pos);
    if (e == std::string_view::npos) e = s.size();
    std::string_view w = s.substr(pos, e - pos);
    pos = e;
    return w;
  }
  bool at_end() noexcept {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\r')) ++pos;
    return pos == s.size();
  }
};

}  // namespace

bool parse_line1(std::string_view line, record& r, field_error& err) {
  field_cursor c{rstrip(line)};
  auto fail = [&](std::string msg, errc code = errc::bad_header) {
    err.code = code;
    err.column = c.pos;
    err.message = std::move(msg);
    return false;
  };
  if (c.eat(out_prefix)) {
    r.kind = record_kind::out;
  } else if (c.eat(in_prefix)) {
    r.kind = record_kind::in;
  } else {
    return fail("expected '//out K' or '//in K'");
  }
  c.spaces();
  if (!c.number(r.port)) return fail("expected the port number K after '//out'/'//in'");
  c.spaces();
  if (!c.eat("s:")) return fail("expected 's:' (scale) after the port number");
  c.spaces();
  {
    std::size_t at = c.pos;
    std::string_view w = c.word();
    c.pos = at;
    if (!c.number(r.scale) || c.pos != at + w.size()) {
      c.pos = at;
      return fail("scale 's:' is not a number: " + detail::quote_bytes(w));
    }
  }
  c.spaces();
  if (!c.eat("z:")) return fail("expected 'z:' (zero point) after the scale");
  c.spaces();
  {
    std::size_t at = c.pos;
    std::string_view w = c.word();
    c.pos = at;
    if (!c.number(r.zero_point) || c.pos != at + w.size()) {
      c.pos = at;
      return fail("zero point 'z:' is not an integer: " + detail::quote_bytes(w));
    }
  }
  c.spaces();
  if (!c.eat("type:")) return fail("expected 'type:' after the zero point");
  c.spaces();
  std::string_view type = c.word();
  if (type.empty()) return fail("empty 'type:'");
  r.type_name.assign(type);
  r.type = parse_vendor_dtype(type);
  c.spaces();
  if (!c.eat("name:")) return fail("expected 'name:' after the type");
  c.spaces();
  std::size_t bc = c.s.find(" bConstant:", c.pos);
  if (bc == std::string_view::npos) return fail("expected 'bConstant:' after the name");
  r.name.assign(rstrip(c.s.substr(c.pos, bc - c.pos)));
  c.pos = bc + 1 + std::string_view("bConstant:").size();
  c.spaces();
  if (c.eat("0")) {
    r.constant = false;
  } else if (c.eat("1")) {
    r.constant = true;
  } else {
    return fail("'bConstant:' must be 0 or 1");
  }
  c.spaces();
  if (!c.eat("shape:")) return fail("expected 'shape:[...]' after bConstant");
  c.spaces();
  if (!c.eat("[")) return fail("expected '[' after 'shape:'");
  c.spaces();
  r.shape.clear();
  if (!c.eat("]")) {
    while (true) {
      std::int64_t d = 0;
      c.spaces();
      if (!c.number(d)) return fail("shape dimension is not an integer");
      if (d < 0) return fail("negative shape dimension " + std::to_string(d), errc::bad_shape);
      r.shape.push_back(d);
      c.spaces();
      if (c.eat(",")) continue;
      if (c.eat("]")) break;
      return fail("expected ',' or ']' in the shape");
    }
  }
  c.spaces();
  if (!c.eat("dims:")) return fail("expected 'dims:' after the shape");
  c.spaces();
  if (!c.number(r.dims)) return fail("'dims:' is not a number");
  if (!c.at_end())
    return fail("unexpected text after 'dims:': " + detail::quote_bytes(c.s.substr(c.pos)));
  if (r.dims != r.shape.size()) {
    c.pos = 0;
    return fail("dims:" + std::to_string(r.dims) + " does not match shape " +
                    format_shape(r.shape) + " of rank " + std::to_string(r.shape.size()),
                errc::bad_shape);
  }
  return true;
}

// Header line 2: "op_out[I] OPTYPE = {".
bool parse_line2(std::string_view line, record& r, field_error& err) {
  field_cursor c{rstrip(line)};
  auto fail = [&](std::string msg) {
    err.code = errc::bad_header;
    err.column = c.pos;
    err.message = std::move(msg);
    return false;
  };
  if (!c.eat("op_out[") && !c.eat("op_in[")) {
    return fail("expected 'op_out[I] OPTYPE = {' as line 2, found " + detail::quote_bytes(line));
  }
  if (!c.number(r.op_index)) return fail("op index in 'op_out[I]' is not an integer");
  if (!c.eat("]")) return fail("expected ']' after the op index");
  std::string_view rest = rstrip(c.s.substr(c.pos));
  if (!rest.ends_with("{")) {
    c.pos = c.s.size();
    return fail("expected '= {' at the end of line 2");
  }
  rest.remove_suffix(1);
  rest = rstrip(rest);
  if (rest.ends_with("=")) rest.remove_suffix(1);
  r.op_type.assign(lstrip(rstrip(rest)));
  return true;
}

// Header line 3: "//buffer data size: N".
bool parse_line3(std::string_view line, std::uint64_t& n, field_error& err) {
  field_cursor c{rstrip(line)};
  auto fail = [&](std::string msg, errc code) {
    err.code = code;
    err.column = c.pos;
    err.message = std::move(msg);
    return false;
  };
  if (!c.eat(size_prefix)) {
    return fail("expected '//buffer data size: N' as line 3, found " + detail::quote_bytes(line),
                errc::bad_header);
  }
  c.spaces();
  if (c.pos < c.s.size() && c.s[c.pos] == '-') {
    return fail("negative payload size " + std::string(c.s.substr(c.pos)), errc::bad_size);
  }
  const char* b = c.s.data() + c.pos;
  auto [ptr, ec] = std::from_chars(b, c.s.data() + c.s.size(), n);
  if (ec == std::errc::result_out_of_range || (ec == std::errc{} && n > max_declared)) {
    return fail("payload size " + std::string(c.s.substr(c.pos)) + " is impossibly large",
                errc::bad_size);
  }
  if (ec != std::errc{} || ptr == b) {
    return fail("payload size is not a number: " + detail::quote_bytes(c.s.substr(c.pos)),
                errc::bad_header);
  }
  c.pos += static_cast<std::size_t>(ptr - b);
  if (!c.at_end()) {
    return fail("unexpected text after the payload size: " + detail::quote_bytes(c.s.substr(c.pos)),
                errc::bad_header);
  }
  return true;
}

bool zero_point_fits(dtype t, std::int64_t z) {
  switch (t) {
    case dtype::u8: return z >= 0 && z <= 255;
    case dtype::s8: return z >= -128 && z <= 127;
    case dtype::u16: return z >= 0 && z <= 65535;
    case dtype::s16: return z >= -32768 && z <= 32767;
    case dtype::s32: return z >= INT32_MIN && z <= INT32_MAX;
    case dtype::boolean: return z >= 0 && z <= 1;
    case dtype::f32:
    case dtype::unknown: return true;
  }
  return true;
}

void fit_binary(record& r) {
  std::size_t es = dtype_size(r.storage);
  std::uint64_t need = r.elements * es;
  r.inner_stride = r.inner;
  if (r.payload_bytes == need) {
    r.fit = payload_fit::exact;
    return;
  }
  if (r.payload_bytes < need) {
    r.fit = payload_fit::too_small;
    r.problem = "payload has " + std::to_string(r.payload_bytes) + " bytes but shape " +
                format_shape(r.shape) + " of " + r.type_name + " needs " + std::to_string(need);
    return;
  }
  if (r.inner > 0 && !r.shape.empty()) {
    std::uint64_t outer = r.elements / r.inner;
    std::uint64_t row = outer * es;
    if (row > 0 && r.payload_bytes % row == 0) {
      std::uint64_t padded = r.payload_bytes / row;
      if (padded > r.inner) {
        r.fit = payload_fit::unpadded_inner;
        r.inner_stride = padded;
        return;
      }
    }
  }
  r.fit = payload_fit::truncated;
}

}  // namespace sigdump::detail
