// A dump file's life as runs: each look at a path, and what it means for
// the file's runs (start, go on, reset, end, prune). Loop thread only.
#include "core/file_runs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <optional>

#include "export/archive.h"
#include "platform/log.h"

namespace sigdump::daemon {

namespace {

std::int64_t unix_now() { return static_cast<std::int64_t>(::time(nullptr)); }

std::int64_t mtime_of(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
         static_cast<std::int64_t>(st.st_mtim.tv_nsec);
}

// Publishes run_start or run_reset (with the run it replaces) for r.
void publish_run_event(daemon_state& state, event_kind kind, const run_info& r,
                       const std::string& reason, const std::string& previous = {}) {
  daemon_event e;
  e.kind = kind;
  e.run = r.id;
  e.previous = previous;
  e.path = r.path;
  e.pair = r.pair;
  e.reason = reason;
  state.publish(e);
}

// The parser reads header bytes straight from the mapping: a writer that
// truncates between our fstat and that read would raise SIGBUS. Run it
// under the guard; if the guard trips, the half-updated dump_file is thrown
// away and the file is opened again from scratch (a few bytes of the
// interrupted record may leak: no unwinding happens).
struct refresh_call {
  dump_file* file;
  result<dump_file::refresh_status>* out;
};
void run_refresh(void* p) {
  auto* c = static_cast<refresh_call*>(p);
  *c->out = c->file->refresh();
}
struct open_call {
  const std::string* path;
  std::optional<result<dump_file>>* out;
};
void run_open(void* p) {
  auto* c = static_cast<open_call*>(p);
  *c->out = dump_file::open(*c->path);
}

result<dump_file> guarded_open(const std::string& path) {
  std::optional<result<dump_file>> out;
  open_call c{&path, &out};
  if (!guarded_read(&run_open, &c) || !out) {
    return make_error(errc::io, path, no_record, no_offset,
                      "the file shrank while its headers were read");
  }
  return std::move(*out);
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

}  // namespace

std::int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
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

void file_runs::configure(std::chrono::milliseconds quiet, std::uint32_t keep_runs) {
  quiet_ = quiet;
  keep_runs_ = keep_runs;
}

void file_runs::look(const std::string& path, const watcher::cue& why) {
  if (stopped_) return;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (state_.files.contains(path)) file_gone(path);
    return;
  }
  if (!S_ISREG(st.st_mode)) return;
  auto it = state_.files.find(path);
  if (it == state_.files.end()) {
    look_at_new(path, st, why);
    return;
  }
  auto tf = it->second;  // kept while a reset or a drop replaces it in state.files
  look_at_tracked(*tf, st, why.closed, why.written_after_close);
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
  if (deferred_for_readers(tf, closed)) return;
  closed = closed || tf.close_seen;
  tf.close_seen = false;
  const auto size = static_cast<std::uint64_t>(st.st_size);
  std::string reason = start_over_reason(tf, st);
  if (still_malformed(tf, reason, size)) return;
  const std::int64_t mtime = mtime_of(st);
  const in_place rewrite = rewritten_in_place(tf, reason, size, mtime, closed, written_after_close);
  if (rewrite == in_place::not_yet) return;
  const std::size_t before = tf.file->records().size();
  const reread how = read_again(tf, reason, rewrite == in_place::yes, size);
  if (how == reread::done) return;
  const std::uint64_t prev_bytes = tf.bytes;
  tf.bytes = size;
  tf.parsed = tf.file->parser().resume_offset();
  tf.mtime_ns = mtime;
  tf.rewrite_mtime_ns = 0;
  if (how == reread::reset) {
    start_over(tf, reason);
  } else if (tf.file->records().size() > before) {
    grew(tf, before);
  } else if (prev_bytes != size) {
    tf.last_change_ms = steady_now_ms();  // a partial record arrived: not quiet yet
  }
  if (closed && tf.state == run_state::live) end_file(tf, "closed");
  pairs_.stream_pending(tf);
}

// A worker reads this file: its records must not move. The scheduler looks
// again when the lease is released.
bool file_runs::deferred_for_readers(tracked_file& tf, bool closed) {
  if (tf.readers.load() > 0) {
    tf.refresh_wanted = true;
    tf.close_seen = tf.close_seen || closed;
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
// on when the writer closes it, or when a second look sees the same mtime:
// a stat between an append's mtime update and its size update must not
// count. Reads do not change mtime; a touch does.
file_runs::in_place file_runs::rewritten_in_place(tracked_file& tf, const std::string& reason,
                                                  std::uint64_t size, std::int64_t mtime,
                                                  bool closed, bool written_after_close) {
  if (reason != "rewritten" || size != tf.bytes || tf.mtime_ns == 0 || mtime == tf.mtime_ns ||
      (tf.state == run_state::live && !written_after_close)) {
    return in_place::no;
  }
  if (!closed && tf.rewrite_mtime_ns != mtime) {
    tf.rewrite_mtime_ns = mtime;
    return in_place::not_yet;
  }
  return in_place::yes;
}

// Reads tf's bytes again: from scratch when it was rewritten in place,
// else what was appended (from scratch when that read failed).
file_runs::reread file_runs::read_again(tracked_file& tf, std::string& reason, bool rewritten,
                                        std::uint64_t size) {
  if (rewritten) return reopen_rewritten(tf, reason);
  result<dump_file::refresh_status> status = dump_file::refresh_status::unchanged;
  refresh_call call{tf.file.get(), &status};
  // libdump guards its own reads now: a file that shrank mid-read comes
  // back as errc::truncated (this outer guard stays as a second net).
  if (!guarded_read(&run_refresh, &call) || (!status && status.error().code == errc::truncated)) {
    return reopen_after_shrink(tf, reason);
  }
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
  auto fresh = guarded_open(tf.path);
  if (fresh && (tf.failed.empty() || reason != "rewritten")) {
    *tf.file = std::move(*fresh);
    return reread::reset;
  }
  if (tf.failed.empty()) {
    tf.failed = parse_error.describe();
    log(log_level::warning, "sigdump: error: " + tf.failed);
  }
  tf.bytes = size;
  return reread::done;
}

// Opens tf again from scratch; when that fails, its runs end (`reason`)
// and it is no longer tracked until a later look finds it readable.
bool file_runs::open_again_or_drop(tracked_file& tf, const std::string& reason) {
  const std::string path = tf.path;
  auto fresh = guarded_open(path);
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
    } else {
      old->state = run_state::reset;
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

void file_runs::poll() {
  if (stopped_) return;
  std::vector<std::string> paths;
  for (const auto& [p, f] : state_.files) paths.push_back(p);
  for (const auto& p : paths) look(p);
  const auto now = steady_now_ms();
  for (const auto& p : paths) {
    auto it = state_.files.find(p);
    if (it == state_.files.end()) continue;
    tracked_file& tf = *it->second;
    if (tf.state != run_state::live || tf.run == 0) continue;
    if (now - tf.last_change_ms < quiet_.count()) continue;
    end_file(tf, "quiet");
  }
}

void file_runs::stop() {
  stopped_ = true;
  for (auto& [n, r] : state_.runs) {
    if (r->state != run_state::live) continue;
    end_run(*r, run_state::ended, "stopped");
  }
}

void file_runs::track_new(const std::string& path, const struct stat& st, bool created) {
  auto f = guarded_open(path);
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
  state_.files[path] = tf;
  const std::string reason = created ? "created" : "started";
  for (const auto& r : start_runs(*tf, reason)) {
    publish_run_event(state_, event_kind::run_start, *r, reason);
  }
  after_growth(*tf, 0);
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

void file_runs::after_growth(tracked_file& tf, std::size_t first_new) {
  for (const auto& rp : runs_of(state_, tf)) {
    run_info& r = *rp;
    r.records = tf.file->records().size();
    r.bytes = tf.bytes;
    if (r.number == tf.run && archive_) archive_->grew(r, tf);
    pairs_.records_added(r, tf, first_new);
  }
  pairs_.benchmark_grew(tf.path);
}

std::vector<std::shared_ptr<run_info>> file_runs::start_runs(tracked_file& tf,
                                                             const std::string& reason) {
  tf.runs.clear();
  std::vector<std::shared_ptr<run_info>> out;
  auto pairs = sides_.pairs_of_sample(tf.path);
  if (pairs.empty()) out.push_back(start_run(tf, reason));
  for (pair_info* p : pairs) out.push_back(start_run(tf, reason, p));
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
  r->report.thresholds = state_.compare.thresholds;
  auto self = state_.files.find(tf.path);
  if (self != state_.files.end()) r->file = self->second;
  if (pair != nullptr) {
    r->pair = pair->name;
    pair->sample_file = tf.path;
    const std::string bench = sides_.resolve(pair->benchmark);
    if (!bench.empty()) pair->benchmark_file = bench;
    r->report.benchmark_path = bench.empty() ? pair->benchmark : bench;
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
    if (auto w = store_->write_index(state_.next_run); !w) {
      log(log_level::err, "sigdump: error: " + w.error().describe());
    }
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
  if (auto f = r.file) {
    r.records = f->file->records().size();
    r.bytes = f->bytes;
    if (how == run_state::ended && reason != "deleted" && f->file->pending()) {
      if (auto e = f->file->parser().tail_error()) {
        log(log_level::notice, "run " + r.id + " ended with a cut record: " + e->describe());
      }
    }
  }
  if (archive_) archive_->run_ended(r);
  // run_end follows the layers still pending.
  pairs_.run_ended(r, how, reason);
}

}  // namespace sigdump::daemon
