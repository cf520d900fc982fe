// A run's life as the pair scheduler sees it: started or continued after a
// restart, records added (queued for matching), ended or reset (what still
// waits for a benchmark layer is left pending, lost, or compared from the
// archived copies), and a benchmark that grew or changed. Loop thread only.
#include "core/file_runs.h"
#include "core/pair_scheduler.h"
#include "core/record_marks.h"
#include "state/run_outcome.h"

namespace sigdump::daemon {

void pair_scheduler::run_started(std::uint64_t run) { work_[run] = run_work{}; }

void pair_scheduler::run_continued(run_info& r, const tracked_file& tf) {
  run_work& w = work_[r.number] = run_work{};
  w.end_published = true;
  w.bench_pinned = !r.report.layers.empty();
  // What its last run_end or run_revised announced, as its log's end line
  // kept it: only results that differ from it are revised.
  note_announced(r, w);
  std::size_t first = 0;
  if (!r.report.layers.empty()) {
    w.next_index = r.report.layers.back().index + 1;
    first = std::size_t{r.report.layers.back().sample_record} + 1;
  }
  recount_coverage_from(r, static_cast<std::uint32_t>(first));
  records_added(r, tf, first);
}

void pair_scheduler::drop_waiting(run_info& r, run_work& w, bool lost, bool started_over) {
  const bool copies = started_over && !stopped_ && state_.run_archive != nullptr;
  bool to_copy = false;
  for (auto& e : w.queue) {
    if (e.what != queued_record::status::waiting) continue;
    if (lost && copies && e.sample_check.mark != 0) {
      // The run's copy may hold it: matched and compared there
      // (compare_from_copy), lost only if it cannot be.
      e.what = queued_record::status::copy;
      e.match_in_copy = true;
      ++w.copy_waiting;
      to_copy = true;
      continue;
    }
    if (lost) {
      lose_unmatched(r, w, e);
      continue;
    }
    e.what = queued_record::status::skipped;
    w.summary_stale = true;  // pending: the coverage counts change
  }
  if (to_copy) compare_from_copy(r, w);
}

void pair_scheduler::lose_unmatched(run_info& r, run_work& w, queued_record& e) {
  lose(r, w, e);
  // Only a record whose match was found has a place in the report.
  if (e.found.record < 0) e.what = queued_record::status::skipped;
}

void pair_scheduler::lose(run_info& r, run_work& w, queued_record& e) {
  e.what = queued_record::status::lost;
  ++r.report.coverage.lost;
  w.summary_stale = true;
}

void pair_scheduler::ended_run_reset(run_info& r) {
  auto w = work_.find(r.number);
  if (w != work_.end() && w->second.end_reason.empty()) {
    // Its run_end went out with layers waiting for a benchmark layer: the
    // file started over, so they are lost.
    drop_waiting(r, w->second, true, true);
    publish_ready(r, w->second);
  }
  if (w == work_.end() || w->second.end_reason.empty()) {
    settle_summary(r);
    if (store_ != nullptr) store_->run_ended(r);
    return;
  }
  run_ended(r, run_state::reset, w->second.end_reason);
}

void pair_scheduler::run_resumed(std::uint64_t run) {
  if (auto w = work_.find(run); w != work_.end()) w->second.end_reason.clear();
}

void pair_scheduler::run_ended(run_info& r, run_state how, const std::string& reason) {
  auto w = work_.find(r.number);
  if (w != work_.end()) {
    run_work& rw = w->second;
    // A run ends once: one whose run_end went out and that went on (its
    // file was appended to after a close or a quiet spell) ends without
    // another; what changed since goes out as run_revised (maybe_finish).
    if (!rw.end_published) {
      rw.end_reason = reason;
      rw.end_state = how;
    }
    // Its records are gone (reset, deleted, stopped, or its file is no
    // longer read: dropped until it parses again) or its pair is: layers
    // still waiting for their benchmark will never be compared (matching
    // follows only the file's current run).
    if (how != run_state::ended || reason == "deleted" || reason == "stopped" ||
        reason == "unpaired" || !file_holds(r)) {
      // Those of a file that started over are lost (their bytes are gone);
      // the others stay pending.
      // A file dropped (unreadable) ends its run at once: no copies then.
      drop_waiting(r, rw, reason != "deleted" && reason != "stopped" && reason != "unpaired",
                   how == run_state::reset);
    }
    // run_end follows the layers still being computed, and those waiting
    // for a benchmark that is still being written.
    publish_ready(r, rw);
  } else {
    run_work none;
    none.end_reason = reason;
    finish_end(r, none);
  }
  // A benchmark that ended settles the samples waiting on it.
  if (how == run_state::ended) benchmark_changed(r.path);
}

void pair_scheduler::records_added(run_info& r, const tracked_file& tf, std::size_t first_new) {
  if (r.pair.empty()) return;
  auto& w = work_[r.number];
  const auto& recs = tf.file->records();
  for (std::size_t i = first_new; i < recs.size(); ++i) {
    if (!is_compared(recs[i], state_.compare_for(r.pair))) continue;
    ++r.report.coverage.sample_layers;
    queued_record e;
    e.record = static_cast<std::uint32_t>(i);
    e.ordinal = occurrence_ordinal(*tf.file, e.record);
    e.sample_check = check_of(tf, e.record);  // what the run's copy must hold
    w.queue.push_back(std::move(e));
  }
  w.summary_stale = true;
  refresh_summary(r, w, false);
  for (auto& p : state_.pairs) {
    if (p.name == r.pair && p.run == r.number) try_match(p);
  }
}

void pair_scheduler::benchmark_grew(const std::string& path) {
  for (auto& p : state_.pairs) {
    if (sides_.resolve(p.benchmark) == path) try_match(p);
  }
}

void pair_scheduler::benchmark_changed(const std::string& path) {
  std::vector<std::uint64_t> waking;
  for (auto& p : state_.pairs) {
    if (p.benchmark_file != path && sides_.resolve(p.benchmark) != path) continue;
    try_match(p);
    waking.push_back(p.run);
    // Earlier runs of the pair whose run_end waits (on this benchmark's
    // end, say) while the pair's next run has started.
    for (const auto& [n, w] : work_) {
      if (n == p.run || w.end_reason.empty()) continue;
      auto rit = state_.runs.find(n);
      if (rit != state_.runs.end() && rit->second && rit->second->pair == p.name) {
        waking.push_back(n);
      }
    }
  }
  for (std::uint64_t n : waking) {
    auto rit = state_.runs.find(n);
    auto wit = work_.find(n);
    if (rit != state_.runs.end() && rit->second && wit != work_.end()) {
      maybe_finish(*rit->second, wit->second);
    }
  }
}

bool pair_scheduler::file_holds(const run_info& r) const {
  auto f = state_.files.find(r.path);
  return r.file && f != state_.files.end() && f->second == r.file && r.file->holds_run(r.number);
}

}  // namespace sigdump::daemon
