#include "sigdump/dump_file.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "parse_util.h"

namespace sigdump {

namespace {

// Every read of mapped bytes below is a guarded_copy into memory we own
// (the parse's through copy_mapped): the writer may truncate the file
// between our stat and the read, and a vanished page raises SIGBUS. Only
// the copy runs under the guard; the parse, its allocations and its errors
// run on the copy, which says errc::truncated for a vanished page, naming
// the record being parsed and the lost byte's offset.

using detail::shrank_message;

// Parsing a binary dump reads its header lines only, but a fault on a
// header's page makes the kernel read the megabytes around it as well
// (mmap read-around): opening a cold dump of big layers read all of it, one
// record after the other, before a comparison could start. Once the first
// record shows the dump is binary, the rest is parsed with read-around off
// (MADV_RANDOM: a page per header), then the mapping is back to normal for
// the readers of its payloads. When the file was not in the page cache,
// the header pages read are then let go (MADV_PAGEOUT): a lone small page
// in the middle of a payload makes the kernel's read-ahead of that payload
// fall back to single pages, which cost it ten times the CPU time of
// large ones (0.3 s per GB on the build machine) and take longer to read.
// Text dumps are parsed whole either way.
constexpr std::size_t first_bytes = std::size_t{64} << 10;
constexpr std::size_t headers_only_above = std::size_t{4} << 20;

result<std::size_t> guarded_feed(dump_parser& parser, const mapping& map,
                                 std::vector<record>& out) {
  const std::span<const std::byte> bytes = map.bytes();
  void* whole = const_cast<std::byte*>(bytes.data());
  std::size_t fed = 0;
  unsigned char first_page = 1;  // bit 0: in the page cache before the parse
  if (bytes.size() > headers_only_above) ::mincore(whole, 1, &first_page);
  if (!parser.variant() && bytes.size() > headers_only_above) {
    // The first bytes in one read, and nothing around them: asked for,
    // they are in the page cache when parsed, so no fault reads around.
    ::madvise(whole, first_bytes, MADV_WILLNEED);
    auto head = parser.feed_copied(first_bytes, &copy_mapped, &map, out);
    if (!head) return head;
    fed = *head;
    if (parser.more()) return fed;  // the rest on the next feed
  }
  const bool headers_only = parser.variant() == dump_variant::binary &&
                            bytes.size() - parser.resume_offset() > headers_only_above;
  if (headers_only) ::madvise(whole, bytes.size(), MADV_RANDOM);
  auto rest = parser.feed_copied(bytes.size(), &copy_mapped, &map, out);
  if (headers_only) {
    ::madvise(whole, bytes.size(), MADV_NORMAL);
    if ((first_page & 1) == 0) ::madvise(whole, bytes.size(), MADV_PAGEOUT);
  }
  if (!rest) return rest;
  return fed + *rest;
}

}  // namespace

result<dump_file> dump_file::open(const std::string& path, parse_options options) {
  auto map = mapping::open(path);
  if (!map) return std::unexpected(map.error());
  return from_mapping(std::move(*map), options);
}

result<dump_file> dump_file::from_mapping(std::shared_ptr<const mapping> map,
                                          parse_options options) {
  if (!map) return make_error(errc::usage, {}, no_record, no_offset, "no mapping given");
  dump_file f;
  f.path_ = map->path();
  f.options_ = options;
  f.map_ = std::move(map);
  f.parser_ = std::make_unique<dump_parser>(f.path_, options);
  auto fed = guarded_feed(*f.parser_, *f.map_, f.records_);
  if (!fed) return std::unexpected(fed.error());
  f.index_.add(f.records_, 0);
  return f;
}

result<dump_file::refresh_status> dump_file::refresh() {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    return make_error(errc::io, path_, no_record, no_offset,
                      std::string("stat failed: ") + std::strerror(errno));
  }
  const file_identity id{st.st_dev, st.st_ino};
  const auto size = static_cast<std::uint64_t>(st.st_size);

  auto start_over = [&]() -> result<refresh_status> {
    auto map = mapping::open(path_);
    if (!map) return std::unexpected(map.error());
    auto parser = std::make_unique<dump_parser>(path_, options_);
    std::vector<record> records;
    auto fed = guarded_feed(*parser, **map, records);
    // Adopt the new run even when it is malformed or shrank: the old one is
    // gone.
    map_ = std::move(*map);
    parser_ = std::move(parser);
    records_ = std::move(records);
    index_.clear();
    index_.add(records_, 0);
    if (!fed) return std::unexpected(fed.error());
    return refresh_status::reset;
  };

  if (id != map_->identity() || size < parser_->resume_offset()) return start_over();

  // Same inode, not shorter than what was parsed: an in-place rewrite still
  // shows as a different first line.
  const std::string& first = parser_->first_line();
  if (!first.empty() && size >= first.size()) {
    if (map_->size() >= first.size() && map_->probe(0, first.size())) {
      std::string now(first.size(), '\0');
      const void* fault = nullptr;
      // A page gone since the probe means the file was cut: start over.
      if (!guarded_copy(map_->bytes().data(), first.size(), now.data(), &fault) || now != first) {
        return start_over();
      }
    }
  }
  if (size != map_->size()) {
    auto map = mapping::open(path_);
    if (!map) return std::unexpected(map.error());
    if ((*map)->identity() != map_->identity() || (*map)->size() < parser_->resume_offset()) {
      return start_over();  // replaced between stat and open
    }
    // Readers holding views keep the old mapping alive through shared_ptr.
    map_ = std::move(*map);
  } else if (!parser_->more()) {
    return refresh_status::unchanged;
  }
  const std::size_t before = records_.size();
  auto fed = guarded_feed(*parser_, *map_, records_);
  index_.add(records_, before);
  if (!fed) return std::unexpected(fed.error());
  return records_.size() > before ? refresh_status::grew : refresh_status::unchanged;
}

dump_file::storage dump_file::grown_copy(std::size_t capacity) const {
  storage s;
  s.records.reserve(std::max(capacity, records_.size()));
  s.records.insert(s.records.end(), records_.begin(), records_.end());
  s.index = index_;
  s.index.reserve(s.records.capacity());
  return s;
}

bool dump_file::adopt(storage& s) {
  if (s.records.size() != records_.size() || s.index.size() != index_.size()) return false;
  if (!records_.empty()) {
    const record& a = records_.back();
    const record& b = s.records.back();
    if (a.header_offset != b.header_offset || a.end_offset != b.end_offset || a.name != b.name) {
      return false;
    }
  }
  records_.swap(s.records);
  std::swap(index_, s.index);
  return true;
}

result<tensor_view> dump_file::view(std::uint32_t i) const {
  if (i >= records_.size()) {
    return make_error(errc::not_found, path_, i, no_offset,
                      "no such record (the file has " + std::to_string(records_.size()) + ")");
  }
  const record& r = records_[i];
  // The file may have been truncated under the mapping since it was parsed:
  // check the pages exist before handing out a view that reads them. A file
  // is cut from its end, so the payload's last byte there means all of it
  // is (probing every page of a 16 MiB payload on a fresh mapping costs
  // milliseconds; the SIGBUS guard stays the last line of defence).
  if (r.payload_bytes > 0 && !map_->probe(r.payload_offset + r.payload_bytes - 1, 1)) {
    return make_error(errc::io, path_, i, r.payload_offset,
                      "payload is no longer in the file (truncated or replaced since it was read)",
                      r.name);
  }
  if (variant() != dump_variant::text || !r.ok()) {
    // Binary views point into the mapping and read nothing here.
    return make_tensor_view(r, is_float(), variant(), map_->bytes(), map_, path_);
  }
  // Text values are parsed from a private copy: the parse allocates, so it
  // must not run where a vanished page would jump out of it.
  if (r.payload_offset > map_->size() || r.payload_bytes > map_->size() - r.payload_offset) {
    return make_tensor_view(r, is_float(), variant(), map_->bytes(), map_, path_);
  }
  std::string text(static_cast<std::size_t>(r.payload_bytes), '\0');
  const void* fault = nullptr;
  if (!guarded_copy(map_->bytes().data() + r.payload_offset, text.size(), text.data(), &fault)) {
    std::uint64_t at = map_->offset_of(fault);
    return make_error(errc::truncated, path_, i, at == no_offset ? r.payload_offset : at,
                      shrank_message, r.name);
  }
  record local = r;
  local.payload_offset = 0;
  auto v = make_tensor_view(local, is_float(), variant(), std::as_bytes(std::span(text)), nullptr,
                            path_);
  if (!v && v.error().offset == 0) v.error().offset = r.payload_offset;
  return v;
}

result<tensor_view> dump_file::pending_view() const {
  const auto& p = pending();
  if (!p || !p->header) {
    return make_error(errc::not_found, path_, p ? p->record : no_record, no_offset,
                      "no cut binary record with a complete header at the end of the file");
  }
  const record& r = *p->header;
  if (r.payload_offset > map_->size()) {
    return make_error(errc::truncated, path_, r.index, r.payload_offset,
                      "payload starts beyond the mapped bytes", r.name);
  }
  // make_tensor_view reads no byte of a binary record and takes its layout
  // from the header (fit, strides): hand it the payload's start only.
  record local = r;
  local.payload_offset = 0;
  local.payload_bytes = 0;
  return make_tensor_view(local, is_float(), variant(),
                          std::span<const std::byte>(map_->bytes().data() + r.payload_offset, 0),
                          map_, path_);
}

}  // namespace sigdump
