// Records' marks: taken by the looks, checked by the looks (the first
// record) and by the workers after each comparison (record_marks.h).
#include "core/record_marks.h"

#include <xxhash.h>

#include <algorithm>
#include <span>

namespace sigdump::daemon {

namespace {

// What run_mark hashes, and its result. A leaf under the SIGBUS guard: it
// allocates nothing and owns nothing to destroy.
struct mark_call {
  const std::byte* base = nullptr;
  std::uint64_t header = 0, payload = 0, end = 0;
  std::uint64_t out = 0;
};

void run_mark(void* p) {
  auto* c = static_cast<mark_call*>(p);
  constexpr std::uint64_t part = 64;
  const std::uint64_t n = c->end - c->payload;
  std::uint64_t h = XXH3_64bits(c->base + c->header, c->payload - c->header);
  h = XXH3_64bits_withSeed(c->base + c->payload, std::min(n, part), h);
  if (n > part) h = XXH3_64bits_withSeed(c->base + c->end - part, part, h);
  c->out = h == 0 ? 1 : h;  // 0 means "not noted"
}

}  // namespace

std::uint64_t record_mark(const dump_file& f, std::size_t rec) noexcept {
  const auto map = f.current_mapping();
  if (!map || rec >= f.records().size()) return 0;
  const record& r = f.records()[rec];
  const std::span<const std::byte> bytes = map->bytes();
  if (r.header_offset > r.payload_offset || r.payload_offset > r.end_offset ||
      r.end_offset > bytes.size()) {
    return 0;
  }
  mark_call c{bytes.data(), r.header_offset, r.payload_offset, r.end_offset, 0};
  if (!guarded_read({bytes}, &run_mark, &c)) return 0;
  return c.out;
}

bool mark_records(tracked_file& tf, std::size_t first) {
  if (first == 0) tf.marks.clear();
  if (!tf.file) return true;
  const std::size_t n = tf.file->records().size();
  const std::size_t from = std::min({first, n, tf.marks.size()});  // none left unmarked
  tf.marks.resize(n);
  for (std::size_t i = from; i < n; ++i) tf.marks[i] = record_mark(*tf.file, i);
  return tf.marks.empty() || tf.marks[0] == 0 || record_mark(*tf.file, 0) == tf.marks[0];
}

record_check check_of(const tracked_file& tf, std::size_t rec) {
  record_check c;
  c.rec = rec;
  if (rec < tf.marks.size()) c.mark = tf.marks[rec];
  if (!tf.marks.empty()) c.head = tf.marks[0];
  return c;
}

bool still_holds(const dump_file& f, const record_check& c) noexcept {
  // A record whose bytes can no longer be read was cut off since: not held,
  // also when its mark was not noted (the file was cut between the look's
  // parse and its marks, so neither the marks nor the noted tail can tell).
  const std::uint64_t now = record_mark(f, c.rec);
  if (now == 0 || (c.mark != 0 && now != c.mark)) return false;
  return c.head == 0 || c.rec == 0 || record_mark(f, 0) == c.head;
}

void note_written_again(daemon_state& state, const dump_file* f) {
  if (f == nullptr) return;
  auto it = state.files.find(f->path());
  if (it == state.files.end() || it->second->file.get() != f) return;
  tracked_file& tf = *it->second;
  tf.written_over = true;
  tf.refresh_wanted = true;
}

}  // namespace sigdump::daemon
