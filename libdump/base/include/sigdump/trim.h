// Trimming text read from files and the command line.
#pragma once

#include <string>
#include <string_view>

namespace sigdump {

/* s without its leading and trailing white space (space, \t, \n, \v, \f,
   \r: std::isspace in the C locale). */
std::string trim(std::string_view s);

}  // namespace sigdump
