// What the daemon knows of a tracked file's bytes: hashes of its records
// and of the tail of its complete records (a rewrite that outran the looks
// changes them), its fingerprint for a restart, and the clocks its looks
// count in. Loop thread only, but tail_holds (under the SIGBUS guard).
#include <sys/stat.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <span>

#include "core/file_runs.h"

namespace sigdump::daemon {

namespace {

// bigger (a content check, not a proof: identity, size and mtime come first).
// The only mapped bytes this file reads itself, each hash under its own
// guarded_read: a leaf that allocates nothing and owns nothing to destroy.
struct hash_call {
  std::span<const std::byte> bytes;
  std::uint64_t from = 0, to = 0;
  std::uint64_t out = 0;
};
void run_hash(void* p) {
  auto* c = static_cast<hash_call*>(p);
  constexpr std::uint64_t part = 64 * 1024;
  const std::byte* base = c->bytes.data();
  if (c->to - c->from <= 2 * part) {
    c->out = XXH3_64bits(base + c->from, c->to - c->from);
    return;
  }
  c->out = XXH3_64bits_withSeed(base + c->to - part, part, XXH3_64bits(base + c->from, part));
}

std::optional<std::uint64_t> record_hash(const mapping& map, const record& rec) {
  hash_call c{map.bytes(), rec.header_offset, rec.end_offset, 0};
  if (c.to < c.from || c.to > c.bytes.size()) return std::nullopt;
  if (!guarded_read({c.bytes}, &run_hash, &c)) return std::nullopt;
  return c.out;
}

}  // namespace

// The last 4 KiB of tf's complete records (several records when they are
// small: the last one alone may be a constant weight, the same bytes in
// every run): what a rewrite that outran our looks would have changed.
void note_tail(tracked_file& tf) {
  tf.tail_from = tf.tail_to = tf.tail_hash = tf.end_hash = 0;
  if (!tf.file || tf.file->records().empty()) return;
  const auto map = tf.file->current_mapping();
  if (!map) return;
  const std::uint64_t end = tf.file->records().back().end_offset;
  hash_call c{map->bytes(), end - std::min<std::uint64_t>(end, 4096), end, 0};
  if (c.to > c.bytes.size() || !guarded_read({c.bytes}, &run_hash, &c)) return;
  tf.tail_from = c.from;
  tf.tail_to = c.to;
  tf.tail_hash = c.out;
  c.from = end - std::min<std::uint64_t>(end, 64);
  tf.end_hash = guarded_read({c.bytes}, &run_hash, &c) ? c.out : 0;
}

// Whether the last 64 bytes of those records changed since: a writer that
// writes the file again from its start got past the old end.
bool end_changed(const tracked_file& tf) {
  if (tf.tail_to == 0 || tf.end_hash == 0 || !tf.file) return false;
  return !tail_holds(*tf.file, tail_mark{tf.tail_to - std::min<std::uint64_t>(tf.tail_to, 64),
                                         tf.tail_to, tf.end_hash});
}

// Whether those bytes changed since (or vanished: the file was cut).
bool tail_changed(const tracked_file& tf) {
  if (tf.tail_to == 0 || !tf.file) return false;
  const auto map = tf.file->current_mapping();
  if (!map || tf.tail_to > map->size()) return false;
  return !tail_holds(*tf.file, tail_mark{tf.tail_from, tf.tail_to, tf.tail_hash});
}

tail_mark tail_of(const tracked_file& tf) { return {tf.tail_from, tf.tail_to, tf.tail_hash}; }

std::int64_t mtime_of(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
         static_cast<std::int64_t>(st.st_mtim.tv_nsec);
}

bool tail_holds(const dump_file& f, const tail_mark& t) {
  if (t.to == 0) return true;
  const auto map = f.current_mapping();
  if (!map || t.to > map->size()) return false;
  hash_call c{map->bytes(), t.from, t.to, 0};
  return guarded_read({c.bytes}, &run_hash, &c) && c.out == t.hash;
}

std::optional<file_fingerprint> fingerprint_of(const tracked_file& tf) {
  if (!tf.file) return std::nullopt;
  const auto map = tf.file->current_mapping();
  if (!map) return std::nullopt;
  file_fingerprint f;
  f.dev = static_cast<std::uint64_t>(map->identity().dev);
  f.ino = static_cast<std::uint64_t>(map->identity().ino);
  f.size = tf.bytes;
  f.mtime_ns = tf.mtime_ns;
  const auto& recs = tf.file->records();
  f.records = recs.size();
  if (!recs.empty()) {
    auto head = record_hash(*map, recs.front());
    auto tail = record_hash(*map, recs.back());
    if (!head || !tail) return std::nullopt;
    f.head_hash = *head;
    f.tail_hash = *tail;
  }
  if (!f.known()) return std::nullopt;
  return f;
}

std::int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace sigdump::daemon
