// Reading the [CONV_CONFIG] section of the vendor's input_config.ini.
#include "sigdump/sim/input_config.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "sigdump/trim.h"

namespace sigdump::sim {

namespace {

// "'a,b';" -> "a,b"
std::string ini_value(std::string v) {
  v = trim(std::move(v));
  while (!v.empty() && (v.back() == ';' || std::isspace(static_cast<unsigned char>(v.back()))))
    v.pop_back();
  if (v.size() >= 2 && (v.front() == '\'' || v.front() == '"') && v.back() == v.front())
    v = v.substr(1, v.size() - 2);
  return trim(std::move(v));
}

}  // namespace

result<conv_config> read_input_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return make_error(errc::io, path, no_record, no_offset,
                      std::string("cannot read input config: ") + std::strerror(errno));
  }
  conv_config cfg;
  bool in_section = false;
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      in_section = line == "[CONV_CONFIG]";
      cfg.has_section = cfg.has_section || in_section;
      continue;
    }
    if (!in_section) continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = trim(line.substr(0, eq));
    const std::string value = ini_value(line.substr(eq + 1));
    if (key == "tensor_arrays") {
      std::stringstream ss(value);
      std::string name;
      while (std::getline(ss, name, ',')) {
        name = trim(name);
        if (!name.empty()) cfg.tensor_arrays.push_back(name);
      }
    } else if (key == "input_format") {
      cfg.all_int16 = value == "ALL_INT16";
    }
  }
  return cfg;
}

}  // namespace sigdump::sim
