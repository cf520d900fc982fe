// Private: the layer counts the text and JSON renderings both print.
#pragma once

#include <cstddef>

#include "sigdump/compare.h"

namespace sigdump::detail {

/* Layers flagged suspect. */
inline std::size_t count_suspect(const compare_report& r) {
  std::size_t n = 0;
  for (const auto& l : r.layers) n += l.suspect ? 1 : 0;
  return n;
}

/* Layers that could not be compared. */
inline std::size_t count_errors(const compare_report& r) {
  std::size_t n = 0;
  for (const auto& l : r.layers) n += l.error.empty() ? 0 : 1;
  return n;
}

}  // namespace sigdump::detail
