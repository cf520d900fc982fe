// The one-line archive summary that `sigdump status` and `sigdump top`
// print from the `archive` object of the daemon's `status` reply.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>

namespace sigdump::cli::live {

/* "512 B", "1.2 GiB", "10 GiB" (binary units, one decimal when below 10). */
std::string human_bytes(std::uint64_t bytes);

/* "archive: DIR 1.2 GiB of 10 GiB, 5 copies (1 copying)" (", 1 failed"
   when some failed; "(no budget)" when max_bytes is 0), without newline. */
std::string archive_line(simdjson::dom::element archive);

}  // namespace sigdump::cli::live
