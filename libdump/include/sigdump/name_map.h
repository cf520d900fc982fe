// A name map file: which benchmark record a sample record is compared with
// when their names differ beyond sanitizing (compare_options::name_map).
#pragma once

#include <string>
#include <unordered_map>

#include "sigdump/error.h"

namespace sigdump {

/* Parses a name map: JSON object of sample name -> benchmark name. */
result<std::unordered_map<std::string, std::string>> load_name_map(const std::string& path);

}  // namespace sigdump
