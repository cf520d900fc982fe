// Reading the quantization parameters save_quant_param.py writes.
#include "sigdump/quant_params.h"

#include <simdjson.h>

#include <cmath>
#include <string>
#include <string_view>

namespace sigdump {

namespace {

std::unexpected<error> json_error(const std::string& path, std::string message) {
  return make_error(errc::usage, path, no_record, no_offset, std::move(message));
}

result<std::vector<double>> number_list(const std::string& path, std::size_t index,
                                        simdjson::dom::object obj, const char* key) {
  simdjson::dom::element e;
  if (obj[key].get(e)) {
    return json_error(path, "element " + std::to_string(index) + ": missing \"" + key + "\"");
  }
  std::vector<double> out;
  double single = 0;
  if (!e.get_double().get(single)) {
    out.push_back(single);
    return out;
  }
  simdjson::dom::array arr;
  if (e.get_array().get(arr)) {
    return json_error(path, "element " + std::to_string(index) + ": \"" + key +
                                "\" must be a number or a list of numbers");
  }
  for (auto v : arr) {
    double d = 0;
    if (v.get_double().get(d)) {
      return json_error(
          path, "element " + std::to_string(index) + ": \"" + key + "\" holds a non-number");
    }
    out.push_back(d);
  }
  return out;
}

}  // namespace

result<std::vector<quant_param>> load_quant_params(const std::string& path) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.load(path).get(doc)) {
    return json_error(path,
                      std::string("cannot read quant params: ") + simdjson::error_message(err));
  }
  simdjson::dom::array arr;
  if (doc.get_array().get(arr)) {
    return json_error(path, "quant params must be a JSON list of {name, min, max, bit} objects");
  }
  std::vector<quant_param> out;
  std::size_t index = 0;
  for (auto item : arr) {
    simdjson::dom::object obj;
    if (item.get_object().get(obj)) {
      return json_error(path, "element " + std::to_string(index) + ": not an object");
    }
    quant_param q;
    std::string_view name;
    if (obj["name"].get_string().get(name)) {
      return json_error(path, "element " + std::to_string(index) + ": missing string \"name\"");
    }
    q.name = std::string(name);
    auto mn = number_list(path, index, obj, "min");
    if (!mn) return std::unexpected(mn.error());
    auto mx = number_list(path, index, obj, "max");
    if (!mx) return std::unexpected(mx.error());
    q.min = std::move(*mn);
    q.max = std::move(*mx);
    double bit = 0;
    if (obj["bit"].get_double().get(bit) || !std::isfinite(bit)) {
      return json_error(
          path, "element " + std::to_string(index) + " (" + q.name + "): missing number \"bit\"");
    }
    // A bit width is a whole number a tensor can have; anything else (and a
    // cast of a huge double to int, undefined behaviour) is refused.
    if (bit < 1 || bit > 64 || bit != std::floor(bit)) {
      return json_error(path, "element " + std::to_string(index) + " (" + q.name +
                                  "): \"bit\" must be a whole number from 1 to 64");
    }
    q.bit = static_cast<int>(bit);
    out.push_back(std::move(q));
    ++index;
  }
  return out;
}

}  // namespace sigdump
