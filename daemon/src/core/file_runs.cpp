// A dump file's life as runs: each look at a path, and what it means for
// the file's runs (start, go on, reset, end, prune). Loop thread only.
// Over 600 lines on purpose: a look is a sequence of small named checks
// (gone, replaced, shrunk, rewritten in place, grown, closed, quiet) whose
// order is the whole logic, so they are read top to bottom in one file.
#include "core/file_runs.h"

#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <ctime>
#include <optional>
#include <span>

#include "core/record_marks.h"
#include "export/archive.h"
#include "platform/log.h"

namespace sigdump::daemon {

namespace {

std::int64_t unix_now() { return static_cast<std::int64_t>(::time(nullptr)); }

// Whether the loop callback this runs in began over half a millisecond ago.
bool callback_spent() {
  const auto began = event_loop::callback_began();
  return began != std::chrono::steady_clock::time_point{} &&
         std::chrono::steady_clock::now() - began > std::chrono::microseconds(500);
}

// How long a file written again in place keeps its mtime before the
// rewrite counts as settled (file_runs::hold_rewritten): a writer that
// keeps writing changes it every clock tick; one pausing for longer is
// taken as done. One stat-timer period by default.
constexpr std::int64_t rewrite_settle_ms = 200;

// Opens path for a look: at most records_per_look records parsed. libdump
// reads mapped bytes only under its SIGBUS guard and reports a file that
// shrank mid-read as errc::truncated; no guard here may wrap the call (a
// jump out of it would skip our destructors).
result<dump_file> open_for_look(const std::string& path) {
  parse_options options;
  options.records_per_feed = file_runs::records_per_look;
  return dump_file::open(path, options);
}

// Why a tracked file's content would have started over, should reading it
// show that it did: another file has its path, it is now shorter than its
// complete records, or else it was written again.
std::string start_over_reason(const tracked_file& tf, const struct stat& st) {
  const file_identity id{st.st_dev, st.st_ino};
  if (id != tf.file->current_mapping()->identity()) return "replaced";
  if (static_cast<std::uint64_t>(st.st_size) < tf.file->parser().resume_offset()) {
    return "truncated";
  }
  return "rewritten";
}

// The hash of one record's bytes; of its first and last 64 KiB when it is
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

// f with the records it left for later parsed too.
result<dump_file> read_to_end(dump_file f) {
  while (f.more()) {
    const auto status = f.refresh();
    if (!status) return std::unexpected(status.error());
  }
  return f;
}

}  // namespace

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

// Publishes run_start or run_reset (with the run it replaces) for r.
void publish_run_event(daemon_state& state, event_kind kind, const run_info& r,
                       const std::string& reason, const std::string& previous) {
  daemon_event e;
  e.kind = kind;
  e.run = r.id;
  e.previous = previous;
  e.path = r.path;
  e.pair = r.pair;
  e.reason = reason;
  if (kind == event_kind::run_start) e.benchmark_run = r.benchmark_run;
  state.publish(e);
}

std::vector<std::shared_ptr<run_info>> runs_of(const daemon_state& state, const tracked_file& tf) {
  std::vector<std::shared_ptr<run_info>> out;
  auto add = [&](std::uint64_t n) {
    auto it = state.runs.find(n);
    if (it != state.runs.end() && it->second) out.push_back(it->second);
  };
  if (tf.runs.empty()) {
    add(tf.run);
  } else {
    for (std::uint64_t n : tf.runs) add(n);
  }
  return out;
}

file_runs::~file_runs() { *alive_ = false; }

void file_runs::configure(std::chrono::milliseconds quiet, std::uint32_t keep_runs) {
  quiet_ = quiet;
  keep_runs_ = keep_runs;
  close_test_hold();  // logs that the test hook is in effect
}

void file_runs::look(const std::string& path, const watcher::cue& why) {
  look_now(path, why);
  note_each_tick(path);
}

void file_runs::look_now(const std::string& path, const watcher::cue& why) {
  if (stopped_) return;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (state_.files.contains(path)) file_gone(path);
    return;
  }
  if (!S_ISREG(st.st_mode)) return;
  // A close is of earlier content when more writes followed it in the same
  // batch, or when the file was modified after the batch was read: the file
  // is being written again, and its new run ends on its own close.
  watcher::cue now = why;
  now.closed = why.closed && !why.reopened && (why.read_ns == 0 || mtime_of(st) <= why.read_ns);
  auto it = state_.files.find(path);
  if (it == state_.files.end()) {
    look_at_new(path, st, now);
    return;
  }
  // Only grown, once this loop callback has had its share of the loop's
  // time (an inotify batch names a file again for each of its writes the
  // other file's interleave, and each look reads up to records_per_look
  // records): looked at in a callback of its own.
  if (!now.closed && !now.created && !now.written_after_close && callback_spent()) {
    post_look(path);
    return;
  }
  auto tf = it->second;  // kept while a reset or a drop replaces it in state.files
  look_at_tracked(*tf, st, now.closed, now.written_after_close);
}

namespace {

// A symlink in a watched folder is followed only to a file the daemon's user
// owns or anyone may read: the daemon (perhaps root) must not carry another
// user's private bytes into its log, its status and its clients' replies.
bool followable(const std::string& path, const struct stat& target) {
  struct stat link {};
  if (::lstat(path.c_str(), &link) != 0 || !S_ISLNK(link.st_mode)) return true;
  return target.st_uid == ::geteuid() || (target.st_mode & S_IROTH) != 0;
}

}  // namespace

void file_runs::look_at_new(const std::string& path, const struct stat& st,
                            const watcher::cue& why) {
  if (!files_.looks_like_dump(path, st)) return;
  if (!followable(path, st)) {
    files_.open_failed(path, st,
                       error{errc::io,
                             path,
                             no_record,
                             {},
                             no_offset,
                             "a symlink to a file of uid " + std::to_string(st.st_uid) +
                                 " that others cannot read; not followed"});
    return;
  }
  track_new(path, st, why.created);
  // Closed already: look once more as a tracked file, to end its runs. A
  // file that could not be opened is not tracked (the watcher remembers it
  // and retries once it changes); looking again would open it again, and
  // again, until the stack ran out.
  if (why.closed && state_.files.contains(path)) {
    watcher::cue closed;
    closed.closed = true;
    look(path, closed);
  }
}

// A tracked file: why its content may have started over, whether it was
// rewritten in place, then its bytes read again and its runs told.
void file_runs::look_at_tracked(tracked_file& tf, const struct stat& st, bool closed,
                                bool written_after_close) {
  if (deferred_for_readers(tf, st, closed)) return;
  closed = closed || tf.close_seen;
  tf.close_seen = false;
  const auto size = static_cast<std::uint64_t>(st.st_size);
  std::string reason = start_over_reason(tf, st);
  // Seen shorter (or replaced) while a worker read it: it started over,
  // even if it has grown past what was read since.
  const bool seen_over = reason == "rewritten" && !tf.started_over.empty();
  if (seen_over) reason = tf.started_over;
  tf.started_over.clear();
  if (!seen_over && still_malformed(tf, reason, size)) return;
  const std::int64_t mtime = mtime_of(st);
  in_place rewrite = in_place::yes;
  if (!seen_over) {
    rewrite = tf.written_over
                  ? rewrite_settled(tf, reason, mtime, closed)
                  : rewritten_in_place(tf, reason, size, mtime, closed, written_after_close);
  }
  if (rewrite == in_place::not_yet) return;
  // Truncated and written past the old end between two looks: the last
  // record we read holds other bytes now.
  // (Also when it looked shorter: the reader may find it grown back.)
  if (rewrite == in_place::no && reason != "replaced" && tail_changed(tf)) rewrite = in_place::yes;
  const std::size_t before = tf.file->records().size();
  reread how = read_again(tf, reason, rewrite == in_place::yes, size);
  // Written again from its start (in place) since its first record was
  // marked: what was just parsed may be the next write's. Nothing of it is
  // published; the file starts over once the writer is done (or at once
  // when it closed already).
  if (how == reread::same && !mark_records(tf, before)) {
    if (!closed) {
      hold_rewritten(tf, mtime);
      return;
    }
    how = reopen_rewritten(tf, reason);
  }
  if (how == reread::done) return;
  if (how == reread::reset) mark_records(tf, 0);
  make_room(tf);
  const std::uint64_t prev_bytes = tf.bytes;
  if (how == reread::reset || tf.file->records().size() != before) note_tail(tf);
  tf.bytes = size;
  tf.parsed = tf.file->parser().resume_offset();
  tf.mtime_ns = mtime;
  tf.rewrite_mtime_ns = 0;
  tf.written_over = false;
  if (how == reread::reset) {
    start_over(tf, reason);
  } else if (tf.file->records().size() > before) {
    grew(tf, before);
  } else if (prev_bytes != size) {
    tf.last_change_ms = steady_now_ms();  // a partial record arrived: not quiet yet
  }
  if (tf.file->more()) {
    // The rest of the growth on a later look; so is a close of this content.
    tf.close_seen = closed && how != reread::reset;
    look_later(tf);
    return;
  }
  // A close seen with content that started over belongs to the old
  // content (its writer closed, another wrote at once): the new run ends
  // on its own close, or when quiet. So does a file closed with no record
  // yet (truncated by one open, written by the next), one another process
  // still has open for writing (the next writer truncated and wrote before
  // the earlier one closed), and one written since this look read it (the
  // next writer finished meanwhile: its own close comes next), asked once
  // what it holds was read (file_runs_close.cpp).
  if (closed && how != reread::reset && tf.state == run_state::live &&
      !tf.file->records().empty() && left_as_read(tf)) {
    end_file(tf, "closed");
  }
  pairs_.stream_pending(tf);
}

// A worker reads this file: its records must not move. The scheduler looks
// again when the lease is released. A big comparison holds leases for
// seconds on end, longer than a writer takes to truncate the file and write
// it past its old end: what this look sees is remembered for that one
// (the file was shorter than what was read, or another file), and a file
// that changes is not quiet.
bool file_runs::deferred_for_readers(tracked_file& tf, const struct stat& st, bool closed) {
  if (tf.readers.load() > 0) {
    tf.refresh_wanted = true;
    tf.close_seen = tf.close_seen || closed;
    const std::string reason = start_over_reason(tf, st);
    if (reason != "rewritten" && tf.started_over.empty()) tf.started_over = reason;
    if (static_cast<std::uint64_t>(st.st_size) != tf.bytes || mtime_of(st) != tf.mtime_ns) {
      tf.last_change_ms = steady_now_ms();
    }
    return true;
  }
  tf.refresh_wanted = false;
  return false;
}

// A file whose parse failed stays that malformed run until its content
// starts over: growing (or staying) does not make it readable.
bool file_runs::still_malformed(tracked_file& tf, const std::string& reason, std::uint64_t size) {
  if (tf.failed.empty() || reason != "rewritten" || size < tf.bytes) return false;
  tf.bytes = size;
  return true;
}

// Same inode and size but a newer mtime once the run has ended: written
// again in place, maybe byte for byte (nothing else would show it). Acted
// on when the writer closes it, else held until the rewrite settles as one
// found by the first record's mark (hold_rewritten): a second look with the
// same mtime does not show the writer done (writes in one clock tick share
// one), and a run started then held a mix of both writes and was cut again
// when the writer reached the old tail. Reads do not change mtime; a touch
// does.
file_runs::in_place file_runs::rewritten_in_place(tracked_file& tf, const std::string& reason,
                                                  std::uint64_t size, std::int64_t mtime,
                                                  bool closed, bool written_after_close) {
  if (reason != "rewritten" || size != tf.bytes || tf.mtime_ns == 0 || mtime == tf.mtime_ns ||
      (tf.state == run_state::live && !written_after_close)) {
    return in_place::no;
  }
  if (!closed) {
    hold_rewritten(tf, mtime);
    return in_place::not_yet;
  }
  return in_place::yes;
}

// tf's first record holds other bytes than a look marked (seen by a look,
// or by a worker after a comparison): the writer is writing it again from
// offset 0, in place. Started over then and there, the new run would hold
// the old bytes of the records the writer has not reached yet, and be cut
// again once it does (two runs for one, more as the writer crosses the
// noted tail). So its run publishes nothing more (the workers' checks drop
// what they read, and the looks parse nothing until then) and it starts
// over once the rewrite settled: the writer closed the file, wrote past the
// old end (its last 64 bytes changed), or left its mtime as it was for
// rewrite_settle_ms (two looks with the same mtime would not do: writes in
// the same clock tick share one). The stat timer looks at it on each tick
// meanwhile (watched_each_tick).
void file_runs::hold_rewritten(tracked_file& tf, std::int64_t mtime) {
  tf.written_over = true;
  tf.rewrite_mtime_ns = mtime;
  tf.last_change_ms = steady_now_ms();
  tf.close_seen = false;
}

file_runs::in_place file_runs::rewrite_settled(tracked_file& tf, const std::string& reason,
                                               std::int64_t mtime, bool closed) {
  if (reason != "rewritten" || closed || end_changed(tf)) return in_place::yes;
  if (mtime != tf.rewrite_mtime_ns) {
    hold_rewritten(tf, mtime);
    return in_place::not_yet;
  }
  return steady_now_ms() - tf.last_change_ms >= rewrite_settle_ms ? in_place::yes
                                                                  : in_place::not_yet;
}

// Reads tf's bytes again: from scratch when it was rewritten in place,
// else what was appended (from scratch when that read failed).
file_runs::reread file_runs::read_again(tracked_file& tf, std::string& reason, bool rewritten,
                                        std::uint64_t size) {
  take_room(tf);
  if (rewritten) return reopen_rewritten(tf, reason);
  // A file that shrank mid-read comes back as errc::truncated (libdump's
  // guard caught the vanished page), never as a signal.
  const result<dump_file::refresh_status> status = tf.file->refresh();
  if (!status && status.error().code == errc::truncated) return reopen_after_shrink(tf, reason);
  if (!status) return reopen_after_parse_error(tf, reason, status.error(), size);
  return *status == dump_file::refresh_status::reset ? reread::reset : reread::same;
}

// Rewritten in place: only a fresh read shows the new content.
file_runs::reread file_runs::reopen_rewritten(tracked_file& tf, const std::string& reason) {
  return open_again_or_drop(tf, reason) ? reread::reset : reread::done;
}

// The file shrank while it was read: do not trust the half-updated reader.
// Start over, or drop the file until it settles (the next look tracks it
// as a new run).
file_runs::reread file_runs::reopen_after_shrink(tracked_file& tf, std::string& reason) {
  if (reason == "rewritten") reason = "truncated";
  return open_again_or_drop(tf, reason) ? reread::reset : reread::done;
}

// A hard parse error on growth can also mean the file was rewritten in
// place with the same first line: try it from scratch once. Otherwise the
// error is kept (and logged once) until the content starts over.
file_runs::reread file_runs::reopen_after_parse_error(tracked_file& tf, const std::string& reason,
                                                      const error& parse_error,
                                                      std::uint64_t size) {
  // Read to its end: a fresh read that stopped before the error would pass.
  auto fresh = open_for_look(tf.path);
  if (fresh) fresh = read_to_end(std::move(*fresh));
  if (fresh && (tf.failed.empty() || reason != "rewritten")) {
    *tf.file = std::move(*fresh);
    return reread::reset;
  }
  if (tf.failed.empty()) {
    tf.failed = parse_error.describe();
    log(log_level::warning, tf.failed);
  }
  tf.bytes = size;
  return reread::done;
}

// Opens tf again from scratch; when that fails, its runs end (`reason`)
// and it is no longer tracked until a later look finds it readable.
bool file_runs::open_again_or_drop(tracked_file& tf, const std::string& reason) {
  const std::string path = tf.path;
  auto fresh = open_for_look(path);
  if (!fresh) {
    log(log_level::notice, path + ": " + fresh.error().message + "; looking again later");
    file_gone(path, reason);
    return false;
  }
  *tf.file = std::move(*fresh);
  return true;
}

// The content started over: the file's runs end as reset and new ones
// start (run_reset naming the run each replaces, then run_start).
void file_runs::start_over(tracked_file& tf, const std::string& reason) {
  tf.failed.clear();
  const auto old_runs = runs_of(state_, tf);
  for (const auto& old : old_runs) {
    if (old->state == run_state::live) {
      end_run(*old, run_state::reset, reason);
    } else if (old->state == run_state::ended) {
      // Ended before: its run_end went out (or goes out now, without the
      // layers its benchmark never gave), and its log learns the new state.
      old->state = run_state::reset;
      old->content = {};
      state_.run_changed(*old);
      pairs_.ended_run_reset(*old);
    }
    old->file.reset();
  }
  for (const auto& r : start_runs(tf, reason)) {
    // The run it replaces: the old run of the same pair.
    std::string previous;
    for (const auto& old : old_runs) {
      if (old->pair == r->pair) previous = old->id;
    }
    if (previous.empty() && !old_runs.empty()) previous = old_runs.front()->id;
    publish_run_event(state_, event_kind::run_reset, *r, reason, previous);
    publish_run_event(state_, event_kind::run_start, *r, reason);
  }
  tf.last_change_ms = steady_now_ms();
  after_growth(tf, 0);
}

// New complete records. Appended to after it looked finished: the same
// runs go on.
void file_runs::grew(tracked_file& tf, std::size_t first_new) {
  tf.last_change_ms = steady_now_ms();
  if (tf.state != run_state::live) {
    tf.state = run_state::live;
    for (const auto& r : runs_of(state_, tf)) {
      if (r->state != run_state::ended) continue;
      r->state = run_state::live;
      r->end_reason.clear();
      r->ended = 0;
      state_.run_changed(*r);
      pairs_.run_resumed(r->number);
    }
  }
  after_growth(tf, first_new);
}

// The writer is done with the file (closed, quiet): its live runs end.
void file_runs::end_file(tracked_file& tf, const std::string& reason) {
  tf.state = run_state::ended;
  for (const auto& r : runs_of(state_, tf)) {
    if (r->state == run_state::live) end_run(*r, run_state::ended, reason);
  }
}

// A look at tf parsed what a look may: another look goes on with the rest
// once the loop has served what is waiting (one posted at a time per file;
// the stat timer's looks go on with it too).
void file_runs::look_later(const tracked_file& tf) {
  ++state_.parse_slices;
  post_look(tf.path);
}

// A look at path in a loop callback of its own (one posted at a time).
void file_runs::post_look(const std::string& path) {
  if (!looks_posted_.insert(path).second) return;
  loop_.post([this, alive = alive_, path] {
    if (!*alive) return;
    looks_posted_.erase(path);
    look(path);
  });
}

void file_runs::stop() {
  stopped_ = true;
  for (auto& [n, r] : state_.runs) {
    if (r->state != run_state::live) continue;
    end_run(*r, run_state::ended, "stopped");
  }
}

void file_runs::track_new(const std::string& path, const struct stat& st, bool created) {
  auto f = open_for_look(path);
  // A run of this path from before goes on only if the whole file is as it
  // ended (unchanged_run): such a file is read to its end at once.
  if (f && f->more() && std::any_of(state_.runs.begin(), state_.runs.end(), [&](const auto& kv) {
        return kv.second && kv.second->path == path && kv.second->content.known();
      })) {
    f = read_to_end(std::move(*f));
  }
  if (!f) {
    files_.open_failed(path, st, f.error());
    return;
  }
  files_.opened(path);
  auto tf = std::make_shared<tracked_file>();
  tf->path = path;
  tf->file = std::make_unique<dump_file>(std::move(*f));
  tf->bytes = static_cast<std::uint64_t>(st.st_size);
  tf->parsed = tf->file->parser().resume_offset();
  tf->last_change_ms = steady_now_ms();
  tf->mtime_ns = mtime_of(st);
  note_tail(*tf);
  mark_records(*tf, 0);
  state_.files[path] = tf;
  const std::string reason = created ? "created" : "started";
  const auto fresh = start_runs(*tf, reason, true);
  for (const auto& r : fresh) publish_run_event(state_, event_kind::run_start, *r, reason);
  // A run continued from the state folder has its layers so far: only
  // what comes after them is compared.
  for (const auto& r : runs_of(state_, *tf)) {
    if (std::find(fresh.begin(), fresh.end(), r) == fresh.end()) pairs_.run_continued(*r, *tf);
  }
  if (fresh.empty()) {
    pairs_.benchmark_grew(tf->path);
  } else {
    after_growth(*tf, 0, true);
  }
  if (tf->file->more()) look_later(*tf);
}

// The newest run of tf's path (and pair) from before, when it ended and the
// file is still what it was then (same identity, size, mtime, records and
// first and last record bytes): that run goes on, as no new run would
// differ from it.
std::shared_ptr<run_info> file_runs::unchanged_run(const tracked_file& tf, const std::string& pair,
                                                   std::optional<file_fingerprint>& now) {
  std::shared_ptr<run_info> last;
  for (auto it = state_.runs.rbegin(); it != state_.runs.rend(); ++it) {
    if (it->second && it->second->path == tf.path && it->second->pair == pair) {
      last = it->second;
      break;
    }
  }
  if (!last || last->state != run_state::ended || !last->content.known() || last->file) {
    return nullptr;
  }
  if (!now) now = fingerprint_of(tf);
  if (!now || !(*now == last->content)) return nullptr;
  return last;
}

// r goes on as a run of tf: it is tf's run again, and its pair's.
void file_runs::continue_run(tracked_file& tf, run_info& r, pair_info* pair) {
  auto self = state_.files.find(tf.path);
  if (self != state_.files.end()) r.file = self->second;
  r.records = tf.file->records().size();
  r.bytes = tf.bytes;
  if (pair != nullptr) {
    pair->sample_file = tf.path;
    const std::string bench = sides_.resolve(pair->benchmark);
    if (!bench.empty()) pair->benchmark_file = bench;
    pair->run = r.number;
  }
  tf.runs.push_back(r.number);
  if (tf.runs.size() == 1) tf.run = r.number;
  if (archive_ != nullptr) archive_->run_continued(r, tf);
  log(log_level::info, tf.path + " is unchanged since " + r.id + " ended: " + r.id + " goes on");
}

void file_runs::file_gone(const std::string& path, const std::string& reason) {
  auto it = state_.files.find(path);
  if (it == state_.files.end()) return;
  auto tf = it->second;
  state_.files.erase(it);
  for (const auto& r : runs_of(state_, *tf)) {
    if (r->state == run_state::live) end_run(*r, run_state::ended, reason);
    r->file.reset();
  }
  // Samples waiting on it as their benchmark need not wait for its end.
  pairs_.benchmark_changed(path);
}

void file_runs::after_growth(tracked_file& tf, std::size_t first_new, bool only_live) {
  for (const auto& rp : runs_of(state_, tf)) {
    run_info& r = *rp;
    if (only_live && r.state != run_state::live) continue;  // continued: set up already
    r.records = tf.file->records().size();
    r.bytes = tf.bytes;
    if (r.number == tf.run && archive_) archive_->grew(r, tf);
    pairs_.records_added(r, tf, first_new);
  }
  pairs_.benchmark_grew(tf.path);
}

std::vector<std::shared_ptr<run_info>> file_runs::start_runs(tracked_file& tf,
                                                             const std::string& reason,
                                                             bool may_continue) {
  tf.runs.clear();
  std::vector<std::shared_ptr<run_info>> out;
  std::optional<file_fingerprint> now;
  auto one = [&](pair_info* p) {
    if (may_continue) {
      if (auto r = unchanged_run(tf, p != nullptr ? p->name : std::string(), now)) {
        continue_run(tf, *r, p);
        return;
      }
    }
    out.push_back(start_run(tf, reason, p));
  };
  auto pairs = sides_.pairs_of_sample(tf.path);
  if (pairs.empty()) one(nullptr);
  for (pair_info* p : pairs) one(p);
  // Every run went on: the file is as finished as they are.
  tf.state = out.empty() ? run_state::ended : run_state::live;
  return out;
}

std::shared_ptr<run_info> file_runs::start_run(tracked_file& tf, const std::string& reason,
                                               pair_info* pair) {
  auto r = std::make_shared<run_info>();
  r->number = state_.next_run++;
  r->id = "r" + std::to_string(r->number);
  r->path = tf.path;
  r->state = run_state::live;
  r->start_reason = reason;
  r->started = unix_now();
  r->records = tf.file->records().size();
  r->bytes = tf.bytes;
  r->report.sample_path = tf.path;
  r->report.thresholds = state_.compare_for(pair != nullptr ? pair->name : "").thresholds;
  auto self = state_.files.find(tf.path);
  if (self != state_.files.end()) r->file = self->second;
  if (pair != nullptr) {
    r->pair = pair->name;
    pair->sample_file = tf.path;
    const std::string bench = sides_.resolve(pair->benchmark);
    if (!bench.empty()) pair->benchmark_file = bench;
    r->report.benchmark_path = bench.empty() ? pair->benchmark : bench;
    r->benchmark_run = state_.current_run_id(bench);
    pair->run = r->number;
  }
  // The first run of a file's runs is its primary one (tf.run).
  tf.runs.push_back(r->number);
  if (tf.runs.size() == 1) tf.run = r->number;
  tf.state = run_state::live;
  state_.runs[r->number] = r;
  pairs_.run_started(r->number);
  if (archive_) archive_->run_started(*r, tf);  // other runs of tf share its copy
  if (store_ != nullptr) {
    store_->write_index_later(state_.next_run);
    store_->run_started(*r);
  }
  prune_runs();
  return r;
}

void file_runs::prune_runs() {
  while (state_.runs.size() > keep_runs_) {
    auto victim = std::find_if(state_.runs.begin(), state_.runs.end(),
                               [](const auto& kv) { return kv.second->state != run_state::live; });
    if (victim == state_.runs.end()) return;
    if (store_ != nullptr) store_->remove(victim->first);
    pairs_.run_pruned(victim->first);
    state_.runs.erase(victim);
  }
}

void file_runs::end_run(run_info& r, run_state how, const std::string& reason) {
  r.state = how;
  r.end_reason = reason;
  r.ended = unix_now();
  r.content = {};
  if (auto f = r.file) {
    r.records = f->file->records().size();
    r.bytes = f->bytes;
    // What a restart compares the file with to tell whether r goes on.
    if (how == run_state::ended && reason != "deleted" && f->holds_run(r.number)) {
      r.content = fingerprint_of(*f).value_or(file_fingerprint{});
    }
    if (how == run_state::ended && reason != "deleted" && f->file->pending()) {
      if (auto e = f->file->parser().tail_error()) {
        log(log_level::notice, "run " + r.id + " ended with a cut record: " + e->describe());
      }
    }
  }
  if (archive_) archive_->run_ended(r);
  state_.run_changed(r);
  // run_end follows the layers still pending.
  pairs_.run_ended(r, how, reason);
}

}  // namespace sigdump::daemon
