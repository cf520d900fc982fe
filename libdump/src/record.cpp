#include "sigdump/record.h"

#include <string>

namespace sigdump {

const char* dtype_vendor_name(dtype t) noexcept {
  switch (t) {
    case dtype::f32: return "float";
    case dtype::u8: return "SGS_U8";
    case dtype::s8: return "SGS_S8";
    case dtype::u16: return "SGS_U16";
    case dtype::s16: return "SGS_S16";
    case dtype::s32: return "SGS_S32";
    case dtype::boolean: return "SGS_BOOL";
    case dtype::unknown: break;
  }
  return "unknown";
}

const char* dtype_short_name(dtype t) noexcept {
  switch (t) {
    case dtype::f32: return "f32";
    case dtype::u8: return "u8";
    case dtype::s8: return "s8";
    case dtype::u16: return "u16";
    case dtype::s16: return "s16";
    case dtype::s32: return "s32";
    case dtype::boolean: return "bool";
    case dtype::unknown: break;
  }
  return "unknown";
}

std::size_t dtype_size(dtype t) noexcept {
  switch (t) {
    case dtype::f32:
    case dtype::s32: return 4;
    case dtype::u16:
    case dtype::s16: return 2;
    case dtype::u8:
    case dtype::s8:
    case dtype::boolean: return 1;
    case dtype::unknown: break;
  }
  return 0;
}

dtype parse_vendor_dtype(std::string_view s) noexcept {
  if (s == "float" || s == "FLOAT" || s == "float32" || s == "SGS_FLOAT") return dtype::f32;
  if (s == "SGS_U8") return dtype::u8;
  if (s == "SGS_S8") return dtype::s8;
  if (s == "SGS_U16") return dtype::u16;
  if (s == "SGS_S16") return dtype::s16;
  if (s == "SGS_S32") return dtype::s32;
  if (s == "SGS_BOOL") return dtype::boolean;
  return dtype::unknown;
}

std::string sanitize_name(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == ':') continue;
    out += c == '/' ? '_' : c;
  }
  return out;
}

std::string format_shape(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  out += ']';
  return out;
}

}  // namespace sigdump
