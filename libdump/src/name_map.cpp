// Reading a name map file (JSON object of sample name -> benchmark name).
#include "sigdump/name_map.h"

#include <simdjson.h>

#include <string>
#include <string_view>

namespace sigdump {

namespace {

std::unexpected<error> json_error(const std::string& path, std::string message) {
  return make_error(errc::usage, path, no_record, no_offset, std::move(message));
}

}  // namespace

result<std::unordered_map<std::string, std::string>> load_name_map(const std::string& path) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.load(path).get(doc)) {
    return json_error(path, std::string("cannot read name map: ") + simdjson::error_message(err));
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) {
    return json_error(path, "name map must be a JSON object of sample name -> benchmark name");
  }
  std::unordered_map<std::string, std::string> map;
  for (auto field : obj) {
    std::string_view v;
    if (field.value.get_string().get(v)) {
      return json_error(path, "name map entry \"" + std::string(field.key) +
                                  "\": value must be a string (the benchmark name)");
    }
    map.insert_or_assign(std::string(field.key), std::string(v));
  }
  return map;
}

}  // namespace sigdump
