// A tracked file whose content may have started over: why (replaced,
// truncated, rewritten), a rewrite in place held until it settles, and the
// file read again from scratch or from where it was. Loop thread only.
#include <sys/stat.h>

#include <algorithm>
#include <string>

#include "core/file_runs.h"
#include "core/record_marks.h"
#include "platform/log.h"

namespace sigdump::daemon {

namespace {

// How long a file written again in place keeps its mtime before the
// rewrite counts as settled (file_runs::hold_rewritten): a writer that
// keeps writing changes it every clock tick; one pausing for longer is
// taken as done. One stat-timer period by default.
constexpr std::int64_t rewrite_settle_ms = 200;

}  // namespace

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

// f with the records it left for later parsed too.
result<dump_file> read_to_end(dump_file f) {
  while (f.more()) {
    const auto status = f.refresh();
    if (!status) return std::unexpected(status.error());
  }
  return f;
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

}  // namespace sigdump::daemon
