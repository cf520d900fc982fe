// Name index over a dump's records: XXH3_64 of the name to the records that
// carry it, in file order, always confirmed against the full name. Lookups
// by exact name and by the vendor's sanitized name are expected O(1).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sigdump/record.h"

namespace sigdump {

class record_index {
 public:
  /* Indexes records[first..] (records before `first` are already indexed).
     Call again after the vector grew; references into it are not kept. */
  void add(const std::vector<record>& records, std::size_t first);

  /* Every record named exactly `name`, in file order (in and out records,
     repeated runs). Empty when there is none. */
  std::vector<std::uint32_t> find(const std::vector<record>& records, std::string_view name) const;

  /* Every record whose sanitized name equals sanitize_name(name). */
  std::vector<std::uint32_t> find_sanitized(const std::vector<record>& records,
                                            std::string_view name) const;

  /* The last record named `name` of the given kind and port, or -1. */
  std::int64_t find_one(const std::vector<record>& records, std::string_view name, record_kind kind,
                        std::uint32_t port) const;

  /* Room for `records` records in all, so that indexing them rehashes
     nothing more. */
  void reserve(std::size_t records);

  void clear();
  std::size_t size() const noexcept { return indexed_; }

 private:
  // Hash -> record indices. Most buckets hold one or two entries.
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> exact_;
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> sanitized_;
  std::size_t indexed_ = 0;
};

/* Names among `records` closest to `name` (edit distance, then prefix), at
   most `limit`, for "did you mean" messages. */
std::vector<std::string> closest_names(const std::vector<record>& records, std::string_view name,
                                       std::size_t limit = 5);
/* The same among plain names (pairs, runs, paths). */
std::vector<std::string> closest_names(const std::vector<std::string>& names, std::string_view name,
                                       std::size_t limit = 5);

}  // namespace sigdump
