#include "sigdump/dump_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string_view>

namespace sigdump {

result<dump_file> dump_file::open(const std::string& path, parse_options options) {
  auto map = mapping::open(path);
  if (!map) return std::unexpected(map.error());
  dump_file f;
  f.path_ = path;
  f.options_ = options;
  f.map_ = std::move(*map);
  f.parser_ = std::make_unique<dump_parser>(path, options);
  auto fed = f.parser_->feed(f.map_->bytes(), f.records_);
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
    auto fed = parser->feed((*map)->bytes(), records);
    // Adopt the new run even when it is malformed: the old one is gone.
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
      std::string_view now(reinterpret_cast<const char*>(map_->bytes().data()), first.size());
      if (now != first) return start_over();
    }
  }
  if (size == map_->size()) return refresh_status::unchanged;

  auto map = mapping::open(path_);
  if (!map) return std::unexpected(map.error());
  if ((*map)->identity() != map_->identity() || (*map)->size() < parser_->resume_offset()) {
    return start_over();  // replaced between stat and open
  }
  // Readers holding views keep the old mapping alive through shared_ptr.
  map_ = std::move(*map);
  const std::size_t before = records_.size();
  auto fed = parser_->feed(map_->bytes(), records_);
  index_.add(records_, before);
  if (!fed) return std::unexpected(fed.error());
  return records_.size() > before ? refresh_status::grew : refresh_status::unchanged;
}

result<tensor_view> dump_file::view(std::uint32_t i) const {
  if (i >= records_.size()) {
    return make_error(errc::not_found, path_, i, no_offset,
                      "no such record (the file has " + std::to_string(records_.size()) + ")");
  }
  const record& r = records_[i];
  // The file may have been truncated under the mapping since it was parsed:
  // check the pages exist before handing out a view that reads them.
  if (r.payload_bytes > 0 && !map_->probe(r.payload_offset, r.payload_bytes)) {
    return make_error(errc::io, path_, i, r.payload_offset,
                      "payload is no longer in the file (truncated or replaced since it was read)",
                      r.name);
  }
  return make_tensor_view(r, is_float(), variant(), map_->bytes(), map_, path_);
}

}  // namespace sigdump
