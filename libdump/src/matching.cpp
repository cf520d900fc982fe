// Layer matching: a sample record's benchmark record by exact name, then
// sanitized name, then the name map, among records of the same kind and
// port; the ordinal picks among repeated runs in one file.
#include "sigdump/matching.h"

#include <string_view>
#include <vector>

namespace sigdump {

const char* match_rule_name(match_rule r) noexcept {
  switch (r) {
    case match_rule::exact: return "exact";
    case match_rule::sanitized: return "sanitized";
    case match_rule::name_map: return "name_map";
  }
  return "exact";
}

bool is_compared(const record& r, const compare_options& options) noexcept {
  if (r.constant && !options.include_constants) return false;
  if (r.kind == record_kind::in && !options.include_inputs) return false;
  return true;
}

namespace {

constexpr std::uint32_t last_occurrence = ~std::uint32_t{0};

std::int64_t pick(const std::vector<record>& recs, const std::vector<std::uint32_t>& candidates,
                  const record& sample, std::uint32_t ordinal) {
  std::int64_t last = -1;
  std::uint32_t seen = 0;
  for (std::uint32_t i : candidates) {
    const record& r = recs[i];
    if (r.kind != sample.kind || r.port != sample.port) continue;
    if (seen == ordinal) return i;
    ++seen;
    last = i;
  }
  return last;
}

std::int64_t find_by_name(const dump_file& bench, std::string_view name, const record& sample,
                          std::uint32_t ordinal, bool sanitized) {
  const auto& recs = bench.records();
  auto candidates =
      sanitized ? bench.index().find_sanitized(recs, name) : bench.index().find(recs, name);
  return pick(recs, candidates, sample, ordinal);
}

}  // namespace

std::int64_t match_record(const dump_file& bench, const record& sample, std::uint32_t ordinal,
                          const compare_options& options, match_rule* rule) {
  std::int64_t b = find_by_name(bench, sample.name, sample, ordinal, false);
  match_rule how = match_rule::exact;
  if (b < 0) {
    b = find_by_name(bench, sample.name, sample, ordinal, true);
    how = match_rule::sanitized;
  }
  if (b < 0) {
    auto it = options.name_map.find(sample.name);
    if (it != options.name_map.end()) {
      b = find_by_name(bench, it->second, sample, ordinal, false);
      if (b < 0) b = find_by_name(bench, it->second, sample, ordinal, true);
      how = match_rule::name_map;
    }
  }
  if (b >= 0 && rule) *rule = how;
  return b;
}

std::int64_t match_record(const dump_file& bench, const record& sample,
                          const compare_options& options, match_rule* rule) {
  return match_record(bench, sample, last_occurrence, options, rule);
}

std::uint32_t occurrence_ordinal(const dump_file& file, std::uint32_t rec) {
  const auto& recs = file.records();
  if (rec >= recs.size()) return 0;
  const record& r = recs[rec];
  std::uint32_t n = 0;
  for (std::uint32_t i : file.index().find(recs, r.name)) {
    if (i >= rec) break;
    if (recs[i].kind == r.kind && recs[i].port == r.port) ++n;
  }
  return n;
}

}  // namespace sigdump
