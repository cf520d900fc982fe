#include "sigdump/error.h"

#include <string>

namespace sigdump {

const char* errc_name(errc code) noexcept {
  switch (code) {
    case errc::io: return "io";
    case errc::not_a_dump: return "not_a_dump";
    case errc::bad_header: return "bad_header";
    case errc::bad_size: return "bad_size";
    case errc::bad_shape: return "bad_shape";
    case errc::unknown_type: return "unknown_type";
    case errc::truncated: return "truncated";
    case errc::not_found: return "not_found";
    case errc::mismatch: return "mismatch";
    case errc::usage: return "usage";
    case errc::protocol: return "protocol";
  }
  return "unknown";
}

std::string error::describe() const {
  std::string out;
  if (!file.empty()) out += file;
  if (record != no_record) {
    if (!out.empty()) out += ": ";
    out += "record " + std::to_string(record);
    if (!record_name.empty()) out += " (" + record_name + ")";
  }
  if (offset != no_offset) {
    out += out.empty() ? "at offset " : " at offset ";
    out += std::to_string(offset);
  }
  if (!out.empty()) out += ": ";
  out += message;
  return out;
}

}  // namespace sigdump
