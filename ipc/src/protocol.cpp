#include "sigdump/ipc/protocol.h"

#include <simdjson.h>

#include <limits>

#include "sigdump/json_util.h"

namespace sigdump::ipc {

const char* error_code_name(error_code code) noexcept {
  switch (code) {
    case error_code::parse_error: return "parse_error";
    case error_code::invalid_request: return "invalid_request";
    case error_code::unknown_method: return "unknown_method";
    case error_code::invalid_params: return "invalid_params";
    case error_code::not_found: return "not_found";
    case error_code::unavailable: return "unavailable";
    case error_code::line_too_long: return "line_too_long";
    case error_code::overloaded: return "overloaded";
    case error_code::forbidden: return "forbidden";
    case error_code::internal: return "internal";
  }
  return "internal";
}

namespace {

const char* type_name(simdjson::dom::element_type t) noexcept {
  using simdjson::dom::element_type;
  switch (t) {
    case element_type::ARRAY: return "an array";
    case element_type::OBJECT: return "an object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE: return "a number";
    case element_type::STRING: return "a string";
    case element_type::BOOL: return "a boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "something else";
}

bool is_number(simdjson::dom::element_type t) noexcept {
  using simdjson::dom::element_type;
  return t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE;
}

}  // namespace

struct request_parser::impl {
  simdjson::dom::parser parser;
};

request_parser::request_parser() : impl_(std::make_unique<impl>()) {}
request_parser::~request_parser() = default;
request_parser::request_parser(request_parser&&) noexcept = default;
request_parser& request_parser::operator=(request_parser&&) noexcept = default;

std::expected<request, bad_request> request_parser::parse(std::string_view line) {
  using simdjson::dom::element_type;
  auto bad = [](std::string id, error_code code, std::string message) {
    return std::unexpected(bad_request{std::move(id), protocol_error{code, std::move(message)}});
  };
  if (line.size() > max_line_bytes) {
    return bad("null", error_code::line_too_long,
               "line of " + std::to_string(line.size()) + " bytes exceeds the limit of " +
                   std::to_string(max_line_bytes));
  }
  simdjson::dom::element doc;
  if (auto err = impl_->parser.parse(line.data(), line.size()).get(doc); err) {
    return bad("null", error_code::parse_error,
               std::string("line is not JSON: ") + simdjson::error_message(err));
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) {
    return bad("null", error_code::invalid_request,
               std::string("request must be a JSON object, got ") + type_name(doc.type()));
  }
  request r;
  simdjson::dom::element id;
  if (!obj.at_key("id").get(id)) {
    const auto t = id.type();
    if (t == element_type::STRING || is_number(t)) {
      r.id = simdjson::minify(id);
    } else if (t != element_type::NULL_VALUE) {
      return bad("null", error_code::invalid_request,
                 std::string("'id' must be a number or a string, got ") + type_name(t));
    }
  }
  simdjson::dom::element method;
  if (obj.at_key("method").get(method)) {
    return bad(r.id, error_code::invalid_request, "'method' is missing");
  }
  std::string_view method_name;
  if (method.get_string().get(method_name)) {
    return bad(r.id, error_code::invalid_request,
               std::string("'method' must be a string, got ") + type_name(method.type()));
  }
  r.method = std::string(method_name);
  simdjson::dom::element params;
  if (!obj.at_key("params").get(params)) {
    if (params.type() == element_type::OBJECT) {
      r.params = simdjson::minify(params);
    } else if (params.type() != element_type::NULL_VALUE) {
      return bad(r.id, error_code::invalid_request,
                 std::string("'params' must be an object, got ") + type_name(params.type()));
    }
  }
  return r;
}

struct params_reader::impl {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  bool valid = false;

  // The element for key; nullopt when absent or null.
  std::optional<simdjson::dom::element> find(std::string_view key) const {
    if (!valid) return std::nullopt;
    simdjson::dom::element e;
    if (obj.at_key(key).get(e)) return std::nullopt;
    if (e.type() == simdjson::dom::element_type::NULL_VALUE) return std::nullopt;
    return e;
  }
};

params_reader::params_reader(std::string_view params_json) : impl_(std::make_unique<impl>()) {
  simdjson::dom::element doc;
  if (!impl_->parser.parse(params_json.data(), params_json.size()).get(doc)) {
    impl_->valid = !doc.get_object().get(impl_->obj);
  }
}
params_reader::~params_reader() = default;

namespace {

protocol_error wrong_type(std::string_view key, const char* expected,
                          simdjson::dom::element_type got) {
  return fail(error_code::invalid_params,
              "params." + std::string(key) + ": expected " + expected + ", got " + type_name(got));
}

}  // namespace

bool params_reader::has(std::string_view key) const { return impl_->find(key).has_value(); }

params_reader::field<std::string> params_reader::get_string(std::string_view key) const {
  auto e = impl_->find(key);
  if (!e) return std::nullopt;
  std::string_view s;
  if (e->get_string().get(s)) return std::unexpected(wrong_type(key, "a string", e->type()));
  return std::string(s);
}

params_reader::field<std::int64_t> params_reader::get_int(std::string_view key) const {
  return get_int(key, std::numeric_limits<std::int64_t>::min(),
                 std::numeric_limits<std::int64_t>::max());
}

params_reader::field<std::int64_t> params_reader::get_int(std::string_view key, std::int64_t lo,
                                                          std::int64_t hi) const {
  auto e = impl_->find(key);
  if (!e) return std::nullopt;
  std::int64_t v = 0;
  if (e->get_int64().get(v)) {
    return std::unexpected(wrong_type(key, "an integer", e->type()));
  }
  if (v < lo || v > hi) {
    return std::unexpected(
        fail(error_code::invalid_params, "params." + std::string(key) + ": " + std::to_string(v) +
                                             " is out of range [" + std::to_string(lo) + ", " +
                                             std::to_string(hi) + "]"));
  }
  return v;
}

params_reader::field<double> params_reader::get_double(std::string_view key) const {
  auto e = impl_->find(key);
  if (!e) return std::nullopt;
  double v = 0;
  if (!is_number(e->type()) || e->get_double().get(v)) {
    return std::unexpected(wrong_type(key, "a number", e->type()));
  }
  return v;
}

params_reader::field<bool> params_reader::get_bool(std::string_view key) const {
  auto e = impl_->find(key);
  if (!e) return std::nullopt;
  bool v = false;
  if (e->get_bool().get(v)) return std::unexpected(wrong_type(key, "a boolean", e->type()));
  return v;
}

params_reader::field<std::pair<std::int64_t, std::int64_t>> params_reader::get_range(
    std::string_view key) const {
  auto e = impl_->find(key);
  if (!e) return std::nullopt;
  simdjson::dom::array a;
  auto bad = [&] {
    return std::unexpected(
        fail(error_code::invalid_params,
             "params." + std::string(key) + ": expected [first, last] with 0 <= first <= last"));
  };
  if (e->get_array().get(a) || a.size() != 2) return bad();
  std::int64_t lo = 0, hi = 0;
  if (a.at(0).get_int64().get(lo) || a.at(1).get_int64().get(hi)) return bad();
  if (lo < 0 || hi < lo) return bad();
  return std::pair{lo, hi};
}

params_reader::field<std::string> params_reader::get_id(std::string_view key) const {
  auto e = impl_->find(key);
  if (!e) return std::nullopt;
  if (e->type() != simdjson::dom::element_type::STRING && !is_number(e->type())) {
    return std::unexpected(wrong_type(key, "a number or a string", e->type()));
  }
  return simdjson::minify(*e);
}

std::string result_line(std::string_view id, std::string_view result_json) {
  std::string out;
  out.reserve(id.size() + result_json.size() + 20);
  out += "{\"id\":";
  out += id;
  out += ",\"result\":";
  const std::size_t from = out.size();
  out += result_json;
  // Valid JSON has raw newlines only as whitespace between tokens (never in
  // strings), so a pretty-printed result becomes one line by blanking them.
  for (std::size_t i = out.find_first_of("\r\n", from); i != std::string::npos;
       i = out.find_first_of("\r\n", i + 1)) {
    out[i] = ' ';
  }
  out += "}\n";
  return out;
}

std::string error_line(std::string_view id, error_code code, std::string_view message) {
  std::string out = "{\"id\":";
  out += id;
  out += ",\"error\":{\"code\":\"";
  out += error_code_name(code);
  out += "\",\"message\":";
  json_append_string(out, message);
  out += "}}\n";
  return out;
}

std::string error_line(std::string_view id, const protocol_error& e) {
  return error_line(id, e.code, e.message);
}

std::string event_line(std::string_view id, std::string_view event_object) {
  std::string out;
  out.reserve(id.size() + event_object.size() + 8);
  out += "{\"id\":";
  out += id;
  if (event_object.size() > 2) {
    out += ',';
    out.append(event_object.substr(1));  // drops the object's own '{'
  } else {
    out += '}';
  }
  out += '\n';
  return out;
}

}  // namespace sigdump::ipc
