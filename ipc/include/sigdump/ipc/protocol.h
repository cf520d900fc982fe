// The NDJSON protocol of docs/protocol.md: error codes, request parsing and
// the shapes of reply and event lines. Pure functions over strings; no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace sigdump::ipc {

inline constexpr int protocol_version = 1;
/* Longest accepted line, newline excluded. */
inline constexpr std::size_t max_line_bytes = std::size_t{1} << 20;

enum class error_code : std::uint8_t {
  parse_error,
  invalid_request,
  unknown_method,
  invalid_params,
  not_found,
  unavailable,
  line_too_long,
  overloaded,
  forbidden,
  internal,
};

/* The wire spelling ("invalid_params"). */
const char* error_code_name(error_code code) noexcept;

/* Why a request failed; becomes one error reply. */
struct protocol_error {
  error_code code = error_code::internal;
  std::string message;
};

/* Shorthand for handlers: return std::unexpected(fail(code, "...")). */
inline protocol_error fail(error_code code, std::string message) {
  return protocol_error{code, std::move(message)};
}

/* One parsed request. id and params are kept as JSON text. */
struct request {
  std::string id = "null";  // number or string as JSON text; "null" when missing
  std::string method;
  std::string params = "{}";  // always an object
};

/* A line that is not a valid request, with the id when one could be read. */
struct bad_request {
  std::string id = "null";
  protocol_error error;
};

/* Parses request lines (simdjson DOM); reuses its buffers between lines.
   Not thread-safe: one per thread. */
class request_parser {
 public:
  request_parser();
  ~request_parser();
  request_parser(request_parser&&) noexcept;
  request_parser& operator=(request_parser&&) noexcept;

  /* Parses one line (no newline). Errors: parse_error (not JSON),
     invalid_request (not an object, id neither number nor string, method
     missing or not a string, params not an object), line_too_long. */
  std::expected<request, bad_request> parse(std::string_view line);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/* Typed access to a request's params object with invalid_params errors that
   name the key and the expected type. Absent keys and null are nullopt. */
class params_reader {
 public:
  /* params_json must be an object (request::params guarantees it). */
  explicit params_reader(std::string_view params_json);
  ~params_reader();
  params_reader(const params_reader&) = delete;
  params_reader& operator=(const params_reader&) = delete;

  template <class T>
  using field = std::expected<std::optional<T>, protocol_error>;

  bool has(std::string_view key) const;
  field<std::string> get_string(std::string_view key) const;
  field<std::int64_t> get_int(std::string_view key) const;
  /* Integer within [lo, hi]. */
  field<std::int64_t> get_int(std::string_view key, std::int64_t lo, std::int64_t hi) const;
  field<double> get_double(std::string_view key) const;
  field<bool> get_bool(std::string_view key) const;
  /* A two-integer array [A, B] with 0 <= A <= B. */
  field<std::pair<std::int64_t, std::int64_t>> get_range(std::string_view key) const;
  /* A string or a number, returned as JSON text (for ids). */
  field<std::string> get_id(std::string_view key) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/* {"id":ID,"result":RESULT}\n; result_json must be a JSON value (newlines in
   it, which JSON allows only as whitespace, are blanked: one line out). */
std::string result_line(std::string_view id, std::string_view result_json);
/* {"id":ID,"error":{"code":..,"message":..}}\n */
std::string error_line(std::string_view id, error_code code, std::string_view message);
std::string error_line(std::string_view id, const protocol_error& e);
/* {"id":ID,<the members of event_object>}\n; event_object is a JSON object
   text like {"event":"layer","clock":..}. */
std::string event_line(std::string_view id, std::string_view event_object);

}  // namespace sigdump::ipc
