#include "sigdump/record_index.h"

#include <xxhash.h>

#include <algorithm>
#include <string>
#include <tuple>
#include <unordered_set>

namespace sigdump {

namespace {

std::uint64_t hash_name(std::string_view s) noexcept { return XXH3_64bits(s.data(), s.size()); }

}  // namespace

void record_index::add(const std::vector<record>& records, std::size_t first) {
  if (first > records.size()) first = records.size();
  for (std::size_t i = first; i < records.size(); ++i) {
    const auto id = static_cast<std::uint32_t>(i);
    const std::string& name = records[i].name;
    exact_[hash_name(name)].push_back(id);
    sanitized_[hash_name(sanitize_name(name))].push_back(id);
  }
  indexed_ = records.size();
}

std::vector<std::uint32_t> record_index::find(const std::vector<record>& records,
                                              std::string_view name) const {
  std::vector<std::uint32_t> out;
  auto it = exact_.find(hash_name(name));
  if (it == exact_.end()) return out;
  for (std::uint32_t id : it->second) {
    // A hash match is only a candidate: confirm the full name.
    if (id < records.size() && records[id].name == name) out.push_back(id);
  }
  return out;
}

std::vector<std::uint32_t> record_index::find_sanitized(const std::vector<record>& records,
                                                        std::string_view name) const {
  std::vector<std::uint32_t> out;
  const std::string key = sanitize_name(name);
  auto it = sanitized_.find(hash_name(key));
  if (it == sanitized_.end()) return out;
  for (std::uint32_t id : it->second) {
    if (id < records.size() && sanitize_name(records[id].name) == key) out.push_back(id);
  }
  return out;
}

std::int64_t record_index::find_one(const std::vector<record>& records, std::string_view name,
                                    record_kind kind, std::uint32_t port) const {
  auto ids = find(records, name);
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    const record& r = records[*it];
    if (r.kind == kind && r.port == port) return *it;
  }
  return -1;
}

void record_index::reserve(std::size_t records) {
  exact_.reserve(records);
  sanitized_.reserve(records);
}

void record_index::clear() {
  exact_.clear();
  sanitized_.clear();
  indexed_ = 0;
}

namespace {

// Levenshtein distance in one row: the cell to the left and the one above
// it on the left stay in registers, so a cell loads one value and stores
// one (a scan of long names under a sanitizer checks every access: half
// the time of two rows and a std::min over a list).
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  std::size_t* const r = row.data();
  const char* const pb = b.data();
  for (std::size_t i = 1; i <= a.size(); ++i) {
    const char ca = a[i - 1];
    std::size_t diag = r[0], left = i;
    r[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = r[j];
      left = std::min(std::min(up, left) + 1, diag + (ca == pb[j - 1] ? 0 : 1));
      r[j] = left;
      diag = up;
    }
  }
  return r[b.size()];
}

std::size_t common_prefix(std::string_view a, std::string_view b) {
  std::size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

}  // namespace

std::vector<std::string> closest_names(const std::vector<record>& records, std::string_view name,
                                       std::size_t limit) {
  std::vector<std::string> names;
  names.reserve(records.size());
  for (const record& r : records) names.push_back(r.name);
  return closest_names(names, name, limit);
}

std::vector<std::string> closest_names(const std::vector<std::string>& names, std::string_view name,
                                       std::size_t limit) {
  const std::string key = sanitize_name(name);
  // Beyond this distance a suggestion is noise, unless one contains the other.
  const std::size_t max_distance = std::max<std::size_t>(3, key.size() / 2);
  std::unordered_set<std::string_view> seen;
  std::vector<std::tuple<std::size_t, std::size_t, std::string_view>> scored;
  for (const std::string& n : names) {
    if (!seen.insert(n).second) continue;
    std::string cand = sanitize_name(n);
    std::size_t d = edit_distance(key, cand);
    bool contains = !key.empty() &&
                    (cand.find(key) != std::string::npos || key.find(cand) != std::string::npos);
    if (d > max_distance && !contains) continue;
    scored.emplace_back(d, key.size() - std::min(key.size(), common_prefix(key, cand)), n);
  }
  std::sort(scored.begin(), scored.end());
  std::vector<std::string> out;
  for (std::size_t i = 0; i < scored.size() && out.size() < limit; ++i) {
    out.emplace_back(std::get<2>(scored[i]));
  }
  return out;
}

}  // namespace sigdump
