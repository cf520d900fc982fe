// Layers compared from the archived copies: a sample record whose
// comparison read its file after the file started over (truncated, written
// over, replaced) is compared again from the run's archived copy, against
// the archived copy of the benchmark run it was matched in, once the
// sample's copy can no longer grow. The copies are the run's evidence: what
// `sigdump compare` on them gives. A record a copy lacks is lost. And once
// an ended run's copy and its benchmark run's are final, its benchmark-only
// count is taken from them, as `sigdump compare` on the copies counts it
// (the count at run_end saw the benchmark as it was then). Loop thread
// only.
#include <algorithm>
#include <charconv>
#include <exception>
#include <optional>
#include <utility>

#include "core/file_runs.h"
#include "core/pair_scheduler.h"
#include "export/archive.h"
#include "export/archive_copier.h"
#include "sigdump/plan.h"

namespace sigdump::daemon {

namespace {

// "r12" -> 12; 0 when it is not a run id.
std::uint64_t run_number(const std::string& id) {
  std::uint64_t n = 0;
  if (id.size() < 2 || id[0] != 'r') return 0;
  std::from_chars(id.data() + 1, id.data() + id.size(), n);
  return n;
}

std::shared_ptr<tracked_file> open_copy(archive& a, std::uint64_t run) {
  if (run == 0) return nullptr;
  auto info = a.find(run);
  if (!info || info->failed) return nullptr;
  auto tf = a.open_copy(run, false);
  return tf ? *tf : nullptr;
}

// The archive's entries of run's copy and of its benchmark run b's, when
// both are listed and neither failed: the copies the benchmark-only count
// reads.
std::optional<std::pair<archive::copy_info, archive::copy_info>> countable_copies(const archive* a,
                                                                                  std::uint64_t run,
                                                                                  std::uint64_t b) {
  if (a == nullptr || b == 0) return std::nullopt;
  auto sample = a->find(run);
  auto bench = a->find(b);
  if (!sample || sample->failed || !bench || bench->failed) return std::nullopt;
  return std::pair{std::move(*sample), std::move(*bench)};
}

}  // namespace

// The run is dropped past keep_runs: its comparison work goes, and the
// archive's reader of its copy with it; the heap's free pages go back to
// the system soon after.
void pair_scheduler::run_pruned(std::uint64_t run) {
  work_.erase(run);
  if (state_.run_archive != nullptr) state_.run_archive->run_pruned(run);
  trimmer_.freed();
}

void pair_scheduler::copy_final(std::uint64_t run) {
  // The run's own records, and those of sample runs compared with it as
  // their benchmark run.
  const std::string id = "r" + std::to_string(run);
  for (auto& [n, w] : work_) {
    auto rit = state_.runs.find(n);
    if (rit == state_.runs.end() || !rit->second) continue;
    run_info& r = *rit->second;
    if (n != run && r.benchmark_run != id) continue;
    if (w.copy_waiting > 0) {
      compare_from_copy(r, w);
      publish_ready(r, w);
    }
    count_from_copies(r, w);
  }
}

void pair_scheduler::fill_for(const tracked_file& tf, std::uint32_t rec, copy_fill& fill) const {
  archive* a = stopped_ ? nullptr : state_.run_archive;
  if (a == nullptr || !tf.file || rec >= tf.file->records().size()) return;
  fill.ch = a->growing_copy(tf);
  fill.to = tf.file->records()[rec].end_offset;
}

void pair_scheduler::count_from_copies(run_info& r, run_work& w) {
  if (!w.end_published || r.state == run_state::live || r.pair.empty()) return;
  if (w.copies_counting) {
    w.copies_again = true;  // a copy became final again (its run went on, then ended)
    return;
  }
  archive* a = stopped_ ? nullptr : state_.run_archive;
  const std::uint64_t b = run_number(r.benchmark_run);
  if (a == nullptr || b == 0 || !a->copy_final(r.number) || !a->copy_final(b)) return;
  const auto copies = countable_copies(a, r.number, b);
  if (!copies) {
    // A copy that failed: no count will come (copies_will_count).
    maybe_finish(r, w);
    return;
  }
  w.copies_counting = true;
  struct count_job {
    std::string sample, bench;  // the copies' paths
    compare_options options;
    std::optional<std::uint64_t> count;
  };
  auto j = std::make_shared<count_job>();
  j->sample = copies->first.path;
  j->bench = copies->second.path;
  j->options = state_.compare_for(r.pair);
  // Both copies are opened, parsed and matched record by record off the
  // loop (the archive folder may be a slow disk; a copy holds a whole run).
  pool_.submit([this, j, loop = &loop_, alive = alive_, run = r.number, b] {
    try {
      auto s = archive::read_copy(j->sample, run);
      auto c = s ? archive::read_copy(j->bench, b) : s;
      if (s && c) j->count = plan_layers(*(*s)->file, *(*c)->file, j->options).benchmark_only;
    } catch (const std::exception&) {
      // Out of memory: the count announced at run_end stays.
    }
    loop->post([this, j, alive, run] {
      if (!*alive) return;
      auto rit = state_.runs.find(run);
      auto wit = work_.find(run);
      if (rit == state_.runs.end() || !rit->second || wit == work_.end()) return;
      run_work& rw = wit->second;
      rw.copies_counting = false;
      if (!j->count) rw.copies_uncounted = true;
      if (j->count) {
        rw.copies_benchmark_only = j->count;
        rit->second->report.coverage.benchmark_only = *j->count;
      }
      // A count other than the one announced goes out as run_revised; none
      // (a copy that could not be read) lets the run finish without it.
      maybe_finish(*rit->second, rw);
      if (std::exchange(rw.copies_again, false)) count_from_copies(*rit->second, rw);
    });
  });
}

bool pair_scheduler::copies_will_count(const run_info& r, const run_work& w) const {
  if (w.copies_benchmark_only || w.copies_uncounted) return false;
  const archive* a = stopped_ ? nullptr : state_.run_archive;
  return countable_copies(a, r.number, run_number(r.benchmark_run)).has_value();
}

void pair_scheduler::compare_from_copy(run_info& r, run_work& w) {
  if (w.copy_waiting == 0) return;
  archive* a = stopped_ ? nullptr : state_.run_archive;
  std::shared_ptr<tracked_file> sample, bench;
  const std::uint64_t b = run_number(r.benchmark_run);
  if (a != nullptr) {
    auto info = a->find(r.number);
    // Its copier is still at it: copy_final() comes back once it is done.
    if (info && !info->failed && !a->copy_final(r.number)) return;
    sample = open_copy(*a, r.number);
    if (sample) bench = open_copy(*a, b);
    // The benchmark run's copy is still growing and lacks a record: wait
    // for it (copy_final() of that run comes back). A record to be matched
    // in the copies waits for all of it: it is matched as offline.
    if (bench && !a->copy_final(b)) {
      if (std::any_of(w.queue.begin(), w.queue.end(), [](const queued_record& e) {
            return e.what == queued_record::status::copy && e.match_in_copy;
          })) {
        return;
      }
      std::uint32_t needed = 0;
      for (const queued_record& e : w.queue) {
        if (e.what == queued_record::status::copy) needed = std::max(needed, e.bench_record);
      }
      if (needed >= bench->file->records().size() || bench->bytes < w.copy_bench_tail.to) return;
    }
    // Copies of other bytes than the ones the run read (see run_work) do
    // not stand in for them.
    if (sample && bench &&
        (!tail_holds(*sample->file, w.copy_sample_tail) ||
         !tail_holds(*bench->file, w.copy_bench_tail))) {
      sample.reset();
    }
  }
  const std::size_t sample_records = sample ? sample->file->records().size() : 0;
  const std::size_t bench_records = bench ? bench->file->records().size() : 0;
  for (std::size_t i = 0; i < w.queue.size() && w.copy_waiting > 0; ++i) {
    queued_record& e = w.queue[i];
    if (e.what != queued_record::status::copy) continue;
    --w.copy_waiting;
    if (e.match_in_copy) {
      e.match_in_copy = false;
      if (!match_in_copies(r, w, e, sample.get(), bench.get(), b)) continue;
    }
    if (e.record < sample_records && e.bench_record < bench_records) {
      dispatch(r, w, w.front_seq + i, sample, bench, e.record, e.bench_record, e.rule, true);
    } else {
      // Gone from the file before it was read, and not in the copies.
      lose(r, w, e);
    }
  }
}

bool pair_scheduler::match_in_copies(run_info& r, run_work& w, queued_record& e,
                                     const tracked_file* sample, const tracked_file* bench,
                                     std::uint64_t bench_run) {
  if (sample == nullptr || bench == nullptr || e.record >= sample->file->records().size()) {
    lose_unmatched(r, w, e);
    return false;
  }
  const record& rec = sample->file->records()[e.record];
  const probe_result pr = probe(*bench->file, rec, e.ordinal, state_.compare_for(r.pair));
  if (pr.record < 0) {
    sample_only(r, w, e, rec.name);
    return false;
  }
  // The benchmark record's marks as its run noted them: only while its
  // file still holds that run can the copy be checked against them (a
  // copier behind a rewrite in place copies the next write's bytes); else
  // the layer is lost.
  auto f = state_.files.find(r.report.benchmark_path);
  if (f == state_.files.end() || !f->second || !f->second->holds_run(bench_run)) {
    lose_unmatched(r, w, e);
    return false;
  }
  e.bench_record = static_cast<std::uint32_t>(pr.record);
  e.rule = pr.rule;
  e.bench_check = check_of(*f->second, e.bench_record);
  return true;
}

}  // namespace sigdump::daemon
