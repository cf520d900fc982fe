// Layers compared from the archived copies: a sample record whose
// comparison read its file after the file started over (truncated, written
// over, replaced) is compared again from the run's archived copy, against
// the archived copy of the benchmark run it was matched in, once the
// sample's copy can no longer grow. The copies are the run's evidence: what
// `sigdump compare` on them gives. A record a copy lacks is lost. Loop
// thread only.
#include <algorithm>
#include <charconv>

#include "core/file_runs.h"
#include "core/pair_scheduler.h"
#include "export/archive.h"

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

}  // namespace

void pair_scheduler::copy_final(std::uint64_t run) {
  // The run's own records, and those of sample runs compared with it as
  // their benchmark run.
  const std::string id = "r" + std::to_string(run);
  for (auto& [n, w] : work_) {
    if (w.copy_waiting == 0) continue;
    auto rit = state_.runs.find(n);
    if (rit == state_.runs.end() || !rit->second) continue;
    run_info& r = *rit->second;
    if (n != run && r.benchmark_run != id) continue;
    compare_from_copy(r, w);
    publish_ready(r, w);
  }
}

void pair_scheduler::compare_from_copy(run_info& r, run_work& w) {
  if (w.copy_waiting == 0) return;
  archive* a = stopped_ ? nullptr : state_.run_archive;
  std::shared_ptr<tracked_file> sample, bench;
  if (a != nullptr) {
    auto info = a->find(r.number);
    // Its copier is still at it: copy_final() comes back once it is done.
    if (info && !info->failed && !a->copy_final(r.number)) return;
    sample = open_copy(*a, r.number);
    const std::uint64_t b = run_number(r.benchmark_run);
    if (sample) bench = open_copy(*a, b);
    // The benchmark run's copy is still growing and lacks a record: wait
    // for it (copy_final() of that run comes back).
    if (bench && !a->copy_final(b)) {
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
    if (e.record < sample_records && e.bench_record < bench_records) {
      dispatch(r, w, w.front_seq + i, sample, bench, e.record, e.bench_record, e.rule, true);
    } else {
      // Gone from the file before it was read, and not in the copies.
      lose(r, w, e);
    }
  }
}

}  // namespace sigdump::daemon
