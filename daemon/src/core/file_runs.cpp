// A dump file's life as runs: each look at a path, and what it means for
// the file's runs. A look is a sequence of small named checks (gone,
// replaced, shrunk, rewritten in place, grown, closed, quiet) whose order is
// the whole logic, read top to bottom here; what they do is apart: the
// file's bytes as known (file_runs_content.cpp), reading a file again that
// started over or was written in place (file_runs_rewrite.cpp), and runs
// starting, going on and ending (file_runs_lifecycle.cpp). Loop thread only.
#include "core/file_runs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "platform/log.h"

namespace sigdump::daemon {

namespace {

// Whether the loop callback this runs in began over half a millisecond ago.
bool callback_spent() {
  const auto began = event_loop::callback_began();
  return began != std::chrono::steady_clock::time_point{} &&
         std::chrono::steady_clock::now() - began > std::chrono::microseconds(500);
}

}  // namespace

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

}  // namespace sigdump::daemon
