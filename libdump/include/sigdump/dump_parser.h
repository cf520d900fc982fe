// The resumable record parser. It is fed the whole file prefix each time
// (a mapping of the file at its current size) and continues where it
// stopped, never re-reading records it already returned. It touches header
// bytes only: binary payloads are skipped by their declared size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sigdump/error.h"
#include "sigdump/record.h"

namespace sigdump {

struct parse_options {
  /* Force the variant; by default it is detected from the bytes. Needed only
     when a file is ambiguous (see docs/format.md). */
  std::optional<dump_variant> variant;
  /* At most this many records per feed() (0: all). A feed that stops there
     leaves the rest of its bytes to the next feed: more() says so. Lets a
     caller that must stay responsive parse a big growth in slices. */
  std::size_t records_per_feed = 0;
};

/* Where parsing stopped because the file ends inside a record. */
struct pending_tail {
  std::uint64_t offset = 0;     // resume offset: first byte of the cut record
  std::int64_t record = 0;      // index the cut record will get
  std::string name;             // its name when the header line was complete
  std::uint64_t needed = 0;     // bytes the record needs from offset (0 if unknown yet)
  std::uint64_t available = 0;  // bytes there are from offset
  // A binary record whose three header lines are complete and whose payload
  // is cut: the record as it will be once complete (payload fields set, not
  // all of its bytes in the file yet). Lets a reader work on the payload's
  // first bytes while the rest arrives.
  std::optional<sigdump::record> header;
};

namespace detail {
class window_text;
}

class dump_parser {
 public:
  explicit dump_parser(std::string file_name, parse_options options = {});

  /* Parses complete records in bytes[resume_offset(), bytes.size()). `bytes`
     is the file from offset 0 and must extend the prefix given before.
     Appends new records to `out` and returns how many were appended. A hard
     error (malformed header, garbage) is returned as an error naming the
     file, record and offset; the parser then stays failed. A record cut by
     the end of `bytes` is not an error: see pending(). */
  result<std::size_t> feed(std::span<const std::byte> bytes, std::vector<record>& out);

  /* Copies the file's bytes [offset, offset + to.size()) into `to`; false
     when they are gone (the file was cut), with the offset of the lost byte
     in *lost. Called with an empty `to` (and no `lost`), it is a hint that
     the bytes at offset are wanted next: it may start fetching them (no
     byte may be read: they may be gone); its result is ignored. */
  using copy_fn = bool (*)(const void* ctx, std::uint64_t offset, std::span<std::byte> to,
                           std::uint64_t* lost);

  /* feed() for a file of `total` bytes that must not be read in place (a
     mapping a writer may cut): the parser parses private copies it makes
     with `copy`. A window starts at the record the parser is at and holds
     what its header needs (as long as the last record's header, and some),
     never past the end of that 4 KiB page at first; small records (held
     whole) get the rest of the page, text records spans of 64 KiB; a
     record that does not fit gets more bytes appended (at least twice as
     many). It copies gap and header lines and the value text of text
     records, each byte once a window; a binary payload is skipped by its
     declared size, and none of it is copied past the page its header ends
     on. A copy that fails is errc::truncated naming the record the lost
     byte is in and its offset; the records before it stay in `out`, and a
     later feed resumes at the cut record. */
  result<std::size_t> feed_copied(std::uint64_t total, copy_fn copy, const void* ctx,
                                  std::vector<record>& out);

  /* The last feed stopped at options.records_per_feed with bytes left to
     parse: pending() says nothing about them until a feed reaches them. */
  bool more() const noexcept { return more_; }

  /* The cut record at the end of the last feed, if any. */
  const std::optional<pending_tail>& pending() const noexcept { return pending_; }

  /* First byte not yet consumed by a complete record. */
  std::uint64_t resume_offset() const noexcept { return offset_; }

  /* Known once the first line has been read. */
  std::optional<bool> is_float() const noexcept { return is_float_; }
  std::optional<dump_variant> variant() const noexcept { return variant_; }
  /* The first line ("isFloat: 1") as read, for detecting rewrites. */
  const std::string& first_line() const noexcept { return first_line_; }
  std::uint32_t records_parsed() const noexcept { return next_index_; }
  const std::string& file_name() const noexcept { return file_; }

  /* Error to report when the file is known to be complete but pending() is
     set: "record 17 (conv4_1/dwise) claims 401408 bytes but only 9000 remain". */
  std::optional<error> tail_error() const;

 private:
  result<std::size_t> parse(const detail::window_text& s, std::uint64_t total, std::size_t before,
                            std::vector<record>& out);
  std::string file_;
  parse_options options_;
  std::optional<bool> is_float_;
  std::optional<dump_variant> variant_;
  std::string first_line_;
  std::uint64_t offset_ = 0;
  std::uint32_t next_index_ = 0;
  std::optional<pending_tail> pending_;
  std::optional<error> failed_;
  record scratch_;      // the record being parsed
  std::string window_;  // the bytes feed_copied parses: a copy of some of the file
  // feed_copied's guess of what a record's gap and header lines take, from
  // the last record parsed, and whether that record was held whole (small
  // records: a window takes the rest of the page).
  std::uint32_t head_bytes_ = 512;
  bool dense_ = false;
  // The last parse() stopped where the held bytes end, before the file does.
  bool held_short_ = false;
  // During feed_copied: its copy_fn, called with no bytes to copy where the
  // next window will start once a payload is skipped (a hint to prefetch).
  copy_fn hint_ = nullptr;
  const void* hint_ctx_ = nullptr;
  // What tail_error() reports for the current pending_ (a finished file).
  struct tail_state {
    errc code = errc::truncated;
    std::int64_t record = no_record;
    std::uint64_t offset = no_offset;
    std::string message;
  };
  std::optional<tail_state> tail_;
  bool first_line_done_ = false;
  bool more_ = false;
  // Scan progress through a cut text record, so a growing text dump is not
  // rescanned from the record's start on every feed.
  struct text_progress {
    std::uint64_t payload = 0, values_begin = 0, line = 0, tokens = 0;
  };
  std::optional<text_progress> text_progress_;
};

}  // namespace sigdump
