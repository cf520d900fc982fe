// A run's outcome: first_bad, diagnosis and coverage kept up with its
// layers (diagnose_report, throttled for big runs), and the run_end and
// run_revised events, whose benchmark-only count (plan_layers over both
// files) is taken on a worker. Loop thread only.
#include <algorithm>
#include <chrono>
#include <exception>

#include "core/pair_scheduler.h"
#include "platform/event_loop.h"
#include "sigdump/compare.h"
#include "sigdump/input_checks.h"
#include "sigdump/plan.h"

namespace sigdump::daemon {

namespace {

// A run's first_bad, diagnosis and coverage are recomputed with each new
// layer while the run has under summary_min_layers layers or that takes
// under summary_cheap_ns of CPU time; beyond, on a timer, at most once per
// summary_gap_factor times what it took (the loop spends at most about 5%
// of its time on them, each in a callback of its own), and always before
// run_end and run_revised. A small run's layer events thus always carry
// the first_bad as of that layer (`sigdump wait`, triggers), however slow
// the machine or the build (sanitizers).
constexpr std::size_t summary_min_layers = 1000;
constexpr std::int64_t summary_cheap_ns = 50'000;
constexpr std::int64_t summary_gap_factor = 20;

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void pair_scheduler::maybe_finish(run_info& r, run_work& w) {
  // Matching or publishing goes on in a posted call, which ends here.
  if (w.match.continued || w.publish_continued) return;
  if (w.end_reason.empty()) {
    // Layers that came after run_end reopened the run's log: close it with
    // a fresh end line once nothing is pending.
    if (w.late_layers && w.queue.empty() && w.in_flight == 0 && r.state != run_state::live) {
      w.late_layers = false;
      refresh_summary(r, w, true);
      if (store_ != nullptr) store_->run_ended(r);
    }
    maybe_revise(r, w);
    return;
  }
  if (w.in_flight > 0 || w.copy_waiting > 0) return;
  if (!w.queue.empty() && w.end_state == run_state::ended && benchmark_live(r)) return;
  if (w.end_state == run_state::ended && !benchmark_only_ready(r, w)) return;
  finish_end(r, w);
  // Both copies may be final already (the benchmark run ended before).
  count_from_copies(r, w);
}

void pair_scheduler::finish_end(run_info& r, run_work& w) {
  w.end_reason.clear();
  w.end_published = true;
  refresh_summary(r, w, true);
  daemon_event e;
  e.kind = event_kind::run_end;
  end_event(r, w, e);
  // Logged after end_event: a restart shows this outcome (coverage with the
  // benchmark-only count, the advice).
  if (store_ != nullptr) store_->run_ended(r);
  // Every run gets its run_end, a reset one too (before its run_reset).
  state_.publish(e);
}

// The fields run_end and run_revised share; notes the outcome announced.
void pair_scheduler::end_event(run_info& r, run_work& w, daemon_event& e) {
  refresh_summary(r, w, true);
  e.run = r.id;
  e.path = r.path;
  e.pair = r.pair;
  e.reason = r.end_reason;
  e.benchmark_run = r.benchmark_run;
  e.layers = r.report.layers.size();
  e.suspect = r.suspect_count();
  advise_at_end(r);
  e.first_bad = r.report.first_bad;
  e.diagnosis = r.report.diagnosis;
  e.advice = r.report.advice;
  if (r.pair.empty()) return;
  coverage& c = r.report.coverage;
  // Benchmark layers no sample layer matched: counted once both files are
  // at hand, on a worker (benchmark_only_ready) unless the run ends at once.
  if (w.copies_benchmark_only) {
    // Counted in the archived copies (count_from_copies): what `sigdump
    // compare` on them gives, whatever the files hold now.
    c.benchmark_only = *w.copies_benchmark_only;
  } else if (const tracked_file* b = r.state == run_state::reset ? nullptr : counted_benchmark(r)) {
    if (w.benchmark_only && w.benchmark_only_of == b &&
        w.benchmark_only_records == record_counts(*r.file, *b)) {
      c.benchmark_only = *w.benchmark_only;
      r.report.warnings = w.input_warnings;
    } else {
      c.benchmark_only =
          plan_layers(*r.file->file, *b->file, state_.compare_for(r.pair)).benchmark_only;
      // Record headers only (no payload byte is read on the loop).
      r.report.warnings = check_inputs(*r.file->file, *b->file, state_.compare_for(r.pair), false);
    }
  }
  e.warnings = r.report.warnings;
  e.coverage = c;
  note_announced(r, w);
}

std::array<std::uint64_t, 6> pair_scheduler::outcome_of(const run_info& r) {
  const coverage& c = r.report.coverage;
  return {c.compared, c.not_comparable,  c.sample_only,
          c.pending,  r.suspect_count(), c.benchmark_only};
}

void pair_scheduler::note_announced(const run_info& r, run_work& w) {
  w.announced = outcome_of(r);
  w.announced_bench = r.benchmark_run;
  w.announced_verdict = verdict_name(judge(r.report.coverage, r.suspect_count()));
}

// Results that changed after run_end (a benchmark that came late, or ended
// since): announced by run_revised once nothing is computing and the
// benchmark is done, with the new coverage and verdict.
void pair_scheduler::maybe_revise(run_info& r, run_work& w) {
  // A reset run once its archived copies counted its benchmark-only layers,
  // or at once when no copies will count them (its file holds another run:
  // nothing is counted from the file; its count stays the announced one).
  // Its waiting layers lost after run_end are revised so too.
  if (!w.end_published || r.pair.empty() || w.in_flight > 0) return;
  if (r.state == run_state::live || (r.state == run_state::reset && copies_will_count(r, w))) {
    return;
  }
  if (!w.queue.empty() && benchmark_live(r)) return;
  refresh_summary(r, w, true);
  if (w.announced == outcome_of(r) && w.announced_bench == r.benchmark_run) return;
  if (!benchmark_only_ready(r, w)) return;
  daemon_event e;
  e.kind = event_kind::run_revised;
  e.previous_verdict = w.announced_verdict;
  end_event(r, w, e);
  if (store_ != nullptr) store_->run_ended(r);  // the revised outcome survives a restart
  state_.publish(e);
}

std::array<std::uint64_t, 3> pair_scheduler::record_counts(const tracked_file& sample,
                                                           const tracked_file& bench) {
  return {sample.file->records().size(), bench.file->records().size(), bench.run};
}

// The benchmark file whose layers without a sample layer r's outcome
// counts, or null: no pair, or a file missing.
const tracked_file* pair_scheduler::counted_benchmark(const run_info& r) const {
  if (r.pair.empty() || !r.file || !r.file->file) return nullptr;
  const pair_info* p = state_.find_pair(r.pair);
  auto b = p != nullptr ? state_.files.find(sides_.resolve(p->benchmark)) : state_.files.end();
  if (b == state_.files.end() || !b->second->file || b->second == r.file) return nullptr;
  return b->second.get();
}

// Whether the benchmark-only count for both files as they are now is at
// hand (or nothing is to be counted); if not, it is started on a worker,
// which calls maybe_finish again when done. plan_layers matches every
// record of both files: milliseconds the loop does not wait for.
bool pair_scheduler::benchmark_only_ready(run_info& r, run_work& w) {
  // A reset run's file holds another run: nothing more is counted from it.
  const tracked_file* b = r.state == run_state::reset ? nullptr : counted_benchmark(r);
  if (b == nullptr || w.copies_benchmark_only) return true;
  const auto counts = record_counts(*r.file, *b);
  // Counted (or tried: a failed count is taken again on the loop).
  if (w.benchmark_only_of == b && w.benchmark_only_records == counts) return true;
  if (w.planning) return false;
  w.planning = true;
  struct plan_job {
    file_lease sample, bench;
    compare_options options;
    std::optional<std::uint64_t> count;
    std::vector<input_warning> warnings;
  };
  auto j = std::make_shared<plan_job>();
  j->sample = file_lease(r.file);
  j->bench = file_lease(state_.files.find(b->path)->second);
  j->options = state_.compare_for(r.pair);
  pool_.submit([this, j, loop = &loop_, alive = alive_, run = r.number, b, counts] {
    try {
      // The input checks of the same files (thousands of records' headers:
      // milliseconds at 10,000 layers), off the loop with it.
      j->warnings = check_inputs(*j->sample.get(), *j->bench.get(), j->options, false);
      j->count = plan_layers(*j->sample.get(), *j->bench.get(), j->options).benchmark_only;
    } catch (const std::exception&) {
      // Out of memory: end_event counts again.
    }
    loop->post([this, j, alive, run, b, counts] {
      if (!*alive) return;
      const auto recheck = release(j->sample, j->bench);
      auto rit = state_.runs.find(run);
      auto wit = work_.find(run);
      if (rit != state_.runs.end() && rit->second && wit != work_.end()) {
        run_work& rw = wit->second;
        rw.planning = false;
        rw.benchmark_only = j->count;
        rw.input_warnings = std::move(j->warnings);
        rw.benchmark_only_of = b;
        rw.benchmark_only_records = counts;
        maybe_finish(*rit->second, rw);
      }
      look_again(recheck);
    });
  });
  return false;
}

void pair_scheduler::refresh_summary(run_info& r, run_work& w, bool now) {
  if (!w.summary_stale) return;
  const std::int64_t t = steady_now_ns();
  const std::int64_t wait = w.summary_at_ns + summary_gap_factor * w.summary_cost_ns - t;
  // A costly one never runs inline with the work that made it stale: on
  // the timer, in a loop callback of its own.
  if (!now && r.report.layers.size() >= summary_min_layers &&
      w.summary_cost_ns > summary_cheap_ns) {
    summary_due_.insert(r.number);
    if (summary_timer_ == 0) {
      const auto in = std::chrono::milliseconds(std::max<std::int64_t>(1, wait / 1'000'000));
      summary_timer_ = loop_.add_timer(in, false, [this] {
        summary_timer_ = 0;
        std::set<std::uint64_t> due;
        due.swap(summary_due_);
        for (std::uint64_t n : due) {
          auto rit = state_.runs.find(n);
          auto wit = work_.find(n);
          if (rit != state_.runs.end() && rit->second && wit != work_.end()) {
            refresh_summary(*rit->second, wit->second, true);
          }
        }
      });
    }
    return;
  }
  // CPU time: a preemption on a loaded machine must not make a cheap
  // diagnosis look costly.
  const std::uint64_t cpu = thread_cpu_ns();
  diagnose_report(r.report);
  w.summary_stale = false;
  w.summary_at_ns = steady_now_ns();
  w.summary_cost_ns = static_cast<std::int64_t>(thread_cpu_ns() - cpu);
}

// The advice, which the layers as they arrive do not compute: once per
// run_end or run_revised, after the diagnosis is brought up to date (what
// summarize() does for `sigdump compare`, without diagnosing twice), so the
// live outcome is the offline one. A run whose file is gone keeps the
// advice it had (read back from its log).
void pair_scheduler::advise_at_end(run_info& r) {
  if (!r.file || !r.file->file) return;
  // A reset run whose file holds another run now keeps its advice.
  if (r.state == run_state::reset && !r.file->holds_run(r.number)) return;
  advise_report(r.report, *r.file->file);
}

void pair_scheduler::settle_summary(run_info& r) {
  if (auto w = work_.find(r.number); w != work_.end()) refresh_summary(r, w->second, true);
}

}  // namespace sigdump::daemon
