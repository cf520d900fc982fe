// Errors are values: every fallible call of the sigdump libraries returns
// result<T>, an std::expected whose error names the file, the record and the
// byte offset.
#pragma once

#include <cstdint>
#include <expected>
#include <string>

namespace sigdump {

enum class errc : std::uint8_t {
  io,            // open/stat/mmap/read/write failed (message carries strerror)
  not_a_dump,    // the bytes are not any dump variant we know
  bad_header,    // a header line is malformed (missing/reordered field, bad number)
  bad_size,      // declared payload size is impossible (negative, overflow, past the end)
  bad_shape,     // shape product overflows, dims do not match the shape
  unknown_type,  // a record's type: is not one we can read
  truncated,     // a record is cut by the end of the file (pending, not corrupt)
  not_found,     // a name or record that does not exist
  mismatch,      // two tensors cannot be compared (element count, dtype)
  usage,         // bad arguments from the caller
  protocol,      // a protocol message is malformed
};

/* Returns the stable lower_snake name of an error code ("bad_header"). */
const char* errc_name(errc code) noexcept;

inline constexpr std::int64_t no_record = -1;
inline constexpr std::uint64_t no_offset = ~std::uint64_t{0};

struct error {
  errc code = errc::io;
  std::string file;                  // path as the user gave it; may be empty
  std::int64_t record = no_record;   // 0-based record index, or no_record
  std::string record_name;           // tensor name when known
  std::uint64_t offset = no_offset;  // byte offset in the file, or no_offset
  std::string message;               // what happened and what was expected

  /* Formats "FILE: record 17 (NAME) at offset 1234: MESSAGE", omitting the
     parts that are unknown. No "sigdump: error: " prefix. */
  std::string describe() const;
};

template <class T>
using result = std::expected<T, error>;

/* Builds an error; the small helper keeps call sites on one line. */
inline std::unexpected<error> make_error(errc code, std::string file, std::int64_t record,
                                         std::uint64_t offset, std::string message,
                                         std::string record_name = {}) {
  return std::unexpected(
      error{code, std::move(file), record, std::move(record_name), offset, std::move(message)});
}

}  // namespace sigdump
