// Matching: which sample records take part in a comparison, and which
// benchmark record each one is compared with (exact name, sanitized name,
// then the name map; repeated runs in one file paired by occurrence).
#pragma once

#include <cstdint>

#include "sigdump/compare_options.h"
#include "sigdump/dump_file.h"
#include "sigdump/record.h"

namespace sigdump {

/* How a sample record found its benchmark record. */
enum class match_rule : std::uint8_t { exact, sanitized, name_map };
/* "exact", "sanitized", "name_map" */
const char* match_rule_name(match_rule r) noexcept;

/* Whether a sample record takes part in a comparison under these options. */
bool is_compared(const record& r, const compare_options& options) noexcept;

/* Finds the benchmark record for a sample record: exact name + kind + port,
   then sanitized name, then the name map. Returns -1 when none. */
std::int64_t match_record(const dump_file& bench, const record& sample,
                          const compare_options& options, match_rule* rule = nullptr);

/* Same, picking among repeated benchmark records (repeated runs in one file)
   the `ordinal`-th candidate (0-based) when there are that many, else the last. */
std::int64_t match_record(const dump_file& bench, const record& sample, std::uint32_t ordinal,
                          const compare_options& options, match_rule* rule = nullptr);

/* How many records before `record` in `file` carry the same name, kind and
   port (0 for the first occurrence): the ordinal to pass to match_record. */
std::uint32_t occurrence_ordinal(const dump_file& file, std::uint32_t record);

}  // namespace sigdump
