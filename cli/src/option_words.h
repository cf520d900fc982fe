// The pieces the commands that parse their own words share: an option word
// split at its '=', the option's value taken inline or from the next word,
// and the number forms their options take.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sigdump::cli {

struct option_word {
  std::string name;                         // "--out" of "--out=x.html"
  std::optional<std::string> inline_value;  // "x.html"; none without '='
};

/* Splits "--name=value" at its first '='; any other word is its own name. */
option_word split_option(std::string_view word);

/* The value of the option at args[i]: its inline value, else the next word
   (and `i` moves past it); none when the option is the last word. */
std::optional<std::string> option_value(const option_word& w, const std::vector<std::string>& args,
                                        std::size_t& i);

/* A whole word that is a finite number. */
std::optional<double> parse_double(std::string_view s);

/* A whole word that is a count from 0 to `max`. */
std::optional<unsigned> parse_count(std::string_view s, unsigned max);

}  // namespace sigdump::cli
