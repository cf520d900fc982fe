// The JSON configuration file, read key by key through the option table.
#include <simdjson.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <vector>

#include "config/config_locations.h"
#include "config/daemon_options.h"
#include "config/option_table.h"
#include "config/paths.h"
#include "sigdump/json_util.h"
#include "sigdump/name_map.h"

namespace sigdump::daemon {

namespace {

namespace fs = std::filesystem;

// The configuration file being read and where its values are, so that every
// config_error points at FILE:LINE:COLUMN without its callers passing it.
struct located_config {
  const std::string* file;
  const config_locations* where;
};
thread_local const located_config* current_config = nullptr;

std::unexpected<error> config_error(const std::string& file, const std::string& field,
                                    const std::string& message) {
  std::string at = file;
  if (current_config != nullptr && *current_config->file == file) {
    // An unknown key is pointed at by its name, anything else by its value.
    const bool key = message.starts_with("unknown key");
    at = with_position(file, current_config->where->find(field == "(top level)" ? "" : field, key));
  }
  return make_error(errc::usage, at, no_record, no_offset,
                    field.empty() ? message : field + ": " + message);
}

const char* type_name(simdjson::dom::element_type t) {
  using simdjson::dom::element_type;
  switch (t) {
    case element_type::ARRAY: return "an array";
    case element_type::OBJECT: return "an object";
    case element_type::INT64:
    case element_type::UINT64: return "an integer";
    case element_type::DOUBLE: return "a number";
    case element_type::STRING: return "a string";
    case element_type::BOOL: return "a boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "a value";
}

// "a, b, c" + last_separator + "d": the keys under `section` (top level:
// empty), each once, in table order.
std::string key_list(std::string_view section, std::string_view last_separator) {
  std::vector<std::string_view> keys;
  for (const option_spec& o : option_table()) {
    std::string_view k = o.key;
    if (k.empty()) continue;
    if (section.empty()) {
      k = k.substr(0, k.find('.'));
    } else {
      if (!k.starts_with(section) || k.size() <= section.size() || k[section.size()] != '.') {
        continue;
      }
      k.remove_prefix(section.size() + 1);
    }
    if (std::ranges::find(keys, k) == keys.end()) keys.push_back(k);
  }
  std::string out;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) out += i + 1 == keys.size() ? last_separator : std::string_view(", ");
    out += keys[i];
  }
  return out;
}

const file_section* find_section(std::string_view name) {
  for (const file_section& s : file_sections()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

struct config_reader {
  const std::string& file;
  std::string base;

  std::unexpected<error> expected(const std::string& field, const std::string& what,
                                  simdjson::dom::element e) const {
    return config_error(file, field, "expected " + what + ", got " + type_name(e.type()));
  }
  result<std::string> str(const std::string& field, simdjson::dom::element e) const {
    std::string_view s;
    if (e.get_string().get(s)) return expected(field, "a string", e);
    return std::string(s);
  }
  result<std::uint64_t> uint(const std::string& field, simdjson::dom::element e, std::uint64_t min,
                             std::uint64_t max) const {
    std::uint64_t v = 0;
    if (e.get_uint64().get(v)) return expected(field, "a non-negative integer", e);
    if (v < min || v > max) {
      return config_error(file, field,
                          "expected an integer in [" + std::to_string(min) + ", " +
                              std::to_string(max) + "], got " + std::to_string(v));
    }
    return v;
  }
  result<double> number(const std::string& field, simdjson::dom::element e) const {
    double v = 0;
    if (e.get_double().get(v)) return expected(field, "a number", e);
    return v;
  }

  // {"name": NAME, "sample": PATH, "benchmark": PATH}, all three required;
  // optional are the pair's own "cos_min", "rmse_max" (the ranges of the
  // top-level keys) and "name_map" (a name map file, as --name-map).
  result<pair_config> pair(const std::string& at, simdjson::dom::element e) const {
    simdjson::dom::object obj;
    if (e.get_object().get(obj)) {
      return expected(at, "an object {\"name\",\"sample\",\"benchmark\"}", e);
    }
    pair_config p;
    std::string as_written[2];  // sample, benchmark: for the missing-name error
    for (auto [k, v] : obj) {
      std::string f = at + "." + std::string(k);
      if (k == "cos_min" || k == "rmse_max") {
        auto d = value(*find_key(k), f, v);
        if (!d) return std::unexpected(d.error());
        (k == "cos_min" ? p.cos_min : p.rmse_max) = d->number;
        continue;
      }
      auto s = str(f, v);
      if (!s) return std::unexpected(s.error());
      if (k == "name") {
        p.name = *s;
      } else if (k == "sample") {
        p.sample = resolve_against(base, *s);
        as_written[0] = *s;
      } else if (k == "benchmark") {
        p.benchmark = resolve_against(base, *s);
        as_written[1] = *s;
      } else if (k == "name_map") {
        auto map = load_name_map(resolve_against(base, *s));
        if (!map) return config_error(file, f, map.error().describe());
        p.name_map = std::move(*map);
      } else {
        return config_error(
            file, f,
            "unknown key (expected name, sample, benchmark, cos_min, rmse_max or name_map)");
      }
    }
    if (p.sample.empty()) return config_error(file, at, "missing \"sample\"");
    if (p.benchmark.empty()) return config_error(file, at, "missing \"benchmark\"");
    if (p.name.empty()) {
      std::string fix = "needs a name: {\"name\": \"NAME\", \"sample\": ";
      json_append_string(fix, as_written[0]);
      fix += ", \"benchmark\": ";
      json_append_string(fix, as_written[1]);
      return config_error(file, at, fix + "}");
    }
    if (p.sample == p.benchmark) {
      return config_error(file, at, "the sample and the benchmark are the same file");
    }
    return p;
  }

  // One value of option o at `field`.
  result<option_value> value(const option_spec& o, const std::string& field,
                             simdjson::dom::element e) const {
    option_value v;
    switch (o.kind) {
      case arg_kind::flag: break;
      case arg_kind::path: {
        auto s = str(field, e);
        if (!s) return std::unexpected(s.error());
        if (s->empty() && o.empty == empty_path::rejected) {
          return config_error(file, field,
                              std::string("expected a ") +
                                  (o.metavar == "DIR" ? "folder path" : "path") +
                                  ", got an empty string");
        }
        v.path = resolve_against(base, *s);
        break;
      }
      case arg_kind::count: {
        auto n = uint(field, e, o.min, o.max);
        if (!n) return std::unexpected(n.error());
        v.count = *n;
        break;
      }
      case arg_kind::number: {
        auto d = number(field, e);
        if (!d) return std::unexpected(d.error());
        if (o.number_problem != nullptr) {
          if (std::string why = o.number_problem(field, *d); !why.empty()) {
            // config_error names the field itself.
            if (why.starts_with(field + ": ")) why.erase(0, field.size() + 2);
            return config_error(file, field, why);
          }
        }
        v.number = *d;
        break;
      }
      case arg_kind::pair: {
        auto p = pair(field, e);
        if (!p) return std::unexpected(p.error());
        v.pair = std::move(*p);
        break;
      }
      case arg_kind::trigger: {
        auto t = parse_trigger_object(field, e);
        if (!t) return config_error(file, t.error().field, t.error().message);
        v.trigger = std::move(*t);
        break;
      }
    }
    return v;
  }

  // Option o's value (an array of them for a repeatable option) into out.
  result<void> option(const option_spec& o, const std::string& field, simdjson::dom::element e,
                      daemon_options& out) const {
    if (!o.repeatable) {
      auto v = value(o, field, e);
      if (!v) return std::unexpected(v.error());
      o.apply(out, *v);
      return {};
    }
    simdjson::dom::array arr;
    if (e.get_array().get(arr)) return expected(field, "an array of " + std::string(o.items), e);
    std::size_t i = 0;
    for (auto item : arr) {
      auto v = value(o, field + "[" + std::to_string(i++) + "]", item);
      if (!v) return std::unexpected(v.error());
      o.apply(out, *v);
    }
    return {};
  }

  // An object whose members are the options "SECTION.MEMBER".
  result<void> section(const file_section& s, simdjson::dom::element e, daemon_options& out) const {
    const std::string name(s.name);
    simdjson::dom::object obj;
    if (e.get_object().get(obj)) {
      std::string members;
      for (const option_spec& o : option_table()) {
        if (o.key.starts_with(name + ".")) {
          members +=
              (members.empty() ? "\"" : ",\"") + std::string(o.key.substr(name.size() + 1)) + "\"";
        }
      }
      return expected(name, "an object {" + members + "}", e);
    }
    if (s.reset != nullptr) s.reset(out);
    bool required_seen = s.required.empty();
    for (auto [k, v] : obj) {
      const std::string field = name + "." + std::string(k);
      const option_spec* o = find_key(field);
      if (o == nullptr) {
        return config_error(file, field, "unknown key (expected " + key_list(name, " or ") + ")");
      }
      if (auto r = option(*o, field, v, out); !r) return r;
      if (k == s.required) required_seen = true;
    }
    if (!required_seen) {
      return config_error(file, name, "missing \"" + std::string(s.required) + "\"");
    }
    return {};
  }
};

}  // namespace

result<void> load_config_file(const std::string& path, daemon_options& out) {
  simdjson::padded_string text;
  if (simdjson::padded_string::load(path).get(text) != simdjson::SUCCESS) {
    return config_error(path, {},
                        std::string("cannot read the configuration file: ") + std::strerror(errno));
  }
  // simdjson says what is wrong but not where: our own scan finds the line
  // and column of a syntax error and of every value.
  const config_locations where = config_locations::scan(std::string_view(text));
  if (const auto& bad = where.syntax_error()) {
    return make_error(errc::usage, with_position(path, bad->at), no_record, no_offset,
                      "not valid JSON: " + bad->message);
  }
  const located_config located{&path, &where};
  current_config = &located;
  struct reset_current {
    ~reset_current() { current_config = nullptr; }
  } reset_at_exit;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(text).get(doc)) {
    // Something our scan accepts: a number out of range, or worse (no position).
    if (err == simdjson::NUMBER_ERROR && where.first_huge_number().known()) {
      return make_error(errc::usage, with_position(path, where.first_huge_number()), no_record,
                        no_offset, "not valid JSON: number out of range");
    }
    return make_error(errc::usage, path, no_record, no_offset,
                      std::string("not valid JSON: ") + simdjson::error_message(err));
  }
  const config_reader rd{path, fs::path(normalize_path(path)).parent_path().string()};
  simdjson::dom::object root;
  if (doc.get_object().get(root)) return rd.expected("(top level)", "an object", doc);
  for (auto [key_sv, value] : root) {
    const std::string key(key_sv);
    const option_spec* o = key.find('.') == std::string::npos ? find_key(key) : nullptr;
    if (o != nullptr) {
      if (auto r = rd.option(*o, key, value, out); !r) return r;
    } else if (const file_section* s = find_section(key); s != nullptr) {
      if (auto r = rd.section(*s, value, out); !r) return r;
    } else {
      return config_error(path, key, "unknown key (expected " + key_list({}, ", ") + ")");
    }
  }
  return {};
}

}  // namespace sigdump::daemon
