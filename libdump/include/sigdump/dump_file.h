// A dump file opened for reading: its mapping, its records, its name index.
// Works for finished files and for files that are still being written.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sigdump/dump_parser.h"
#include "sigdump/error.h"
#include "sigdump/mapping.h"
#include "sigdump/record.h"
#include "sigdump/record_index.h"
#include "sigdump/tensor.h"

namespace sigdump {

class dump_file {
 public:
  /* Maps the file and parses every complete record. A cut tail is not an
     error (see pending()); a malformed header is. A file that shrinks while
     it is read gives errc::truncated ("file shrank while being read",
     naming the record and offset), never SIGBUS; opening again is safe. */
  static result<dump_file> open(const std::string& path, parse_options options = {});

  /* Parses an already-taken mapping (its path names errors; refresh() looks
     at that path). Bytes that vanished since it was mapped give the same
     errc::truncated error as open(). */
  static result<dump_file> from_mapping(std::shared_ptr<const mapping> map,
                                        parse_options options = {});

  enum class refresh_status {
    unchanged,  // same file, no new complete record
    grew,       // new complete records were appended to records()
    reset,      // replaced, truncated below what was parsed, or first line changed:
                // records() now describes the new content from scratch
  };
  /* Looks at the file again (stat, remap if it grew, parse new bytes).
     errc::truncated means the file shrank while being read: records() stays
     consistent (complete records only) and a later refresh() or open()
     starts over. With parse_options::records_per_feed, open() and each
     refresh() parse at most that many records; more() says bytes already
     in the file are left for the next refresh(). */
  result<refresh_status> refresh();

  const std::string& path() const noexcept { return path_; }
  const std::vector<record>& records() const noexcept { return records_; }
  const record_index& index() const noexcept { return index_; }
  const dump_parser& parser() const noexcept { return *parser_; }
  const std::optional<pending_tail>& pending() const noexcept { return parser_->pending(); }
  bool more() const noexcept { return parser_->more(); }
  bool is_float() const noexcept { return parser_->is_float().value_or(true); }
  dump_variant variant() const noexcept {
    return parser_->variant().value_or(dump_variant::binary);
  }
  std::shared_ptr<const mapping> current_mapping() const noexcept { return map_; }

  /* records() and index(), as grown_copy() makes them and adopt() takes. */
  struct storage {
    std::vector<record> records;
    record_index index;
  };
  /* A copy of records() and index() with room for `capacity` records, so
     that refreshes appending up to that many move and rehash nothing: the
     doubling a refresh would do (a copy and a rehash of every record,
     milliseconds at 20,000 records) done beforehand. Reads only: another
     thread may call it while no refresh() runs. */
  storage grown_copy(std::size_t capacity) const;
  /* Takes s's records and index when they are a copy of records() as they
     are now (as many, the same last record); s then holds the old ones.
     False (nothing changed) when records() changed since the copy. */
  bool adopt(storage& s);

  /* Real values of records()[i]; text records are parsed here. Errors for
     a record with a problem, errc::truncated/io when its bytes are gone.
     Reading a binary view's values later can still meet a truncation: use
     tensor_view::read_checked / compute_stats_checked (or guarded_read). */
  result<tensor_view> view(std::uint32_t i) const;
  /* A view of the cut binary record (pending()->header) over the current
     mapping. Only its first pending()->available bytes (counted from the
     record's header) are in the file: read only elements lying there
     (compute_chunk with the chunk's end checked, as the daemon does). */
  result<tensor_view> pending_view() const;

 private:
  dump_file() = default;
  std::string path_;
  parse_options options_;
  std::shared_ptr<const mapping> map_;
  std::unique_ptr<dump_parser> parser_;
  std::vector<record> records_;
  record_index index_;
};

}  // namespace sigdump
