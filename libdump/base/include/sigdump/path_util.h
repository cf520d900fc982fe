// Path text: the folder part and the last component of a '/'-separated
// path, worked out from the text alone (the file system is not asked).
#pragma once

#include <string>
#include <string_view>

namespace sigdump {

/* The folder holding `path`: "a/b" -> "a", "/a" -> "/", "a" -> ".". */
std::string parent_of(std::string_view path);

/* The last component of `path`: "a/b" -> "b", "a" -> "a", "a/" -> "". */
std::string base_name(std::string_view path);

}  // namespace sigdump
