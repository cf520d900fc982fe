// Runs starting, going on and ending: a new file tracked (a restart's
// unchanged file goes on with its run), growth, a start over (run_reset,
// then run_start), the writer done, a file gone, and runs pruned past
// keep_runs. Loop thread only.
#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <optional>

#include "core/file_runs.h"
#include "core/record_marks.h"
#include "export/archive.h"
#include "platform/log.h"

namespace sigdump::daemon {

namespace {

std::int64_t unix_now() { return static_cast<std::int64_t>(::time(nullptr)); }

}  // namespace

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
