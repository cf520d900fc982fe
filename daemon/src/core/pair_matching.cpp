// Matching paired records while both are written: which waiting sample
// records may be settled now, found without looking at every waiting
// record again on every growth. Loop thread only.
#include "core/pair_matching.h"

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "core/pair_scheduler.h"
#include "platform/log.h"
#include "sigdump/compare.h"

namespace sigdump::daemon {

probe_result probe(const dump_file& bench, const record& sample, std::uint32_t ordinal,
                   const compare_options& options) {
  probe_result p;
  p.record = match_record(bench, sample, ordinal, options, &p.rule);
  if (p.record < 0) return p;
  const auto& recs = bench.records();
  const record& b = recs[static_cast<std::size_t>(p.record)];
  std::vector<std::uint32_t> candidates;
  if (p.rule == match_rule::exact) {
    candidates = bench.index().find(recs, sample.name);
  } else if (p.rule == match_rule::sanitized) {
    candidates = bench.index().find_sanitized(recs, sample.name);
  } else {
    const std::string& mapped = options.name_map.at(sample.name);
    candidates = b.name == mapped ? bench.index().find(recs, mapped)
                                  : bench.index().find_sanitized(recs, mapped);
  }
  std::uint32_t before = 0;
  for (std::uint32_t i : candidates) {
    if (i >= p.record) break;
    if (recs[i].kind == sample.kind && recs[i].port == sample.port) ++before;
  }
  p.nth = before == ordinal;
  return p;
}

std::uint64_t match_key(std::string_view name) {
  return std::hash<std::string>{}(sanitize_name(name));
}

// Matching follows the offline rules (match_record on the finished
// benchmark) while the benchmark is still being written. A waiting sample
// record is settled, in this order of certainty:
//  - its ordinal-th exact-name candidate is there: nothing written later
//    can change that match;
//  - the benchmark's run has ended: match_record as offline (no match:
//    the record is skipped);
//  - the benchmark already holds the match of a later sample record (one
//    handed out, or found as its ordinal-th candidate): it writes layers in
//    the sample's execution order, so this record's benchmark layer, if
//    any, is already there (a sanitized or mapped ordinal-th match, or
//    none). A fallback match ("else the last") waits for the benchmark's
//    end.
// Report indexes are given at publication, in sample order, so layers are
// published in the offline report's order with its indexes.
//
// A record's lookup changes only when the benchmark gets a record of its
// name (exact, sanitized or mapped: one match_key), is replaced, or ends;
// so a pass looks up the records queued since the last one, those the new
// benchmark records' keys wake, and all of them only when the benchmark is
// replaced or ends. "A later record holds its match" changes only when the
// last such record moves on: the records it newly vouches for are checked.
// Each pass costs what is new, and the whole run is linear in its records.
void pair_scheduler::try_match(pair_info& p) {
  if (stopped_) return;
  auto rit = state_.runs.find(p.run);
  if (rit == state_.runs.end() || !rit->second || rit->second->pair != p.name) return;
  run_info& r = *rit->second;
  auto wit = work_.find(r.number);
  if (wit == work_.end()) return;
  run_work& w = wit->second;
  auto s = state_.files.find(r.path);
  if (s == state_.files.end() || !s->second->holds_run(r.number)) return;
  const std::string bench_path = sides_.resolve(p.benchmark);
  if (!bench_path.empty()) {
    p.benchmark_file = bench_path;
    r.report.benchmark_path = bench_path;
  }
  auto b = bench_path.empty() ? state_.files.end() : state_.files.find(bench_path);
  if (b == state_.files.end() || b->second == s->second) return;
  if (rebenched(r, w, *s->second, state_.current_run_id(bench_path))) return;
  const dump_file& sample = *s->second->file;
  const dump_file& bench = *b->second->file;
  const auto& brecs = bench.records();
  match_state& m = w.match;
  const std::uint64_t end = w.front_seq + w.queue.size();
  auto at = [&](std::uint64_t seq) -> queued_record* {
    if (seq < w.front_seq || seq >= end) return nullptr;
    queued_record& e = w.queue[static_cast<std::size_t>(seq - w.front_seq)];
    return e.what == queued_record::status::waiting ? &e : nullptr;
  };
  auto all_waiting = [&](std::vector<std::uint64_t>& out) {
    for (std::uint64_t seq = w.front_seq; seq < std::min(end, m.queued_upto); ++seq) {
      if (at(seq) != nullptr) out.push_back(seq);
    }
  };
  const bool final_now = b->second->state != run_state::live;
  if (m.bench.lock() != b->second || m.bench_run != b->second->run || brecs.size() < m.bench_seen) {
    // Another benchmark (or its content was replaced): every lookup is stale.
    m.bench = b->second;
    m.bench_run = b->second->run;
    m.bench_final = final_now;
    m.nth_waiting.clear();
    m.vouched_upto = 0;
    m.to_look.clear();
    m.to_settle.clear();
    all_waiting(m.to_look);
  } else if (final_now && !m.bench_final) {
    // The benchmark ended: every waiting record settles as offline.
    m.bench_final = true;
    all_waiting(m.to_settle);
  } else {
    m.bench_final = final_now;
    for (std::size_t i = m.bench_seen; i < brecs.size(); ++i) {
      auto k = m.by_key.find(match_key(brecs[i].name));
      if (k == m.by_key.end()) continue;
      // Woken records; those no longer waiting leave the list.
      std::erase_if(k->second, [&](std::uint64_t seq) { return at(seq) == nullptr; });
      m.to_look.insert(m.to_look.end(), k->second.begin(), k->second.end());
      if (k->second.empty()) m.by_key.erase(k);
    }
  }
  m.bench_seen = brecs.size();
  // Records queued since the last pass: indexed by name, to be looked up,
  // for a slice of the loop's time (10,000 sample records queued before
  // the benchmark existed take milliseconds); the rest on the next pass.
  const loop_slice slice;
  std::uint64_t queued = std::max(m.queued_upto, w.front_seq);
  for (; queued < end && !slice.over(); ++queued) {
    const queued_record* e = at(queued);
    if (e == nullptr || e->record >= sample.records().size()) continue;
    const std::string& name = sample.records()[e->record].name;
    const std::uint64_t key = match_key(name);
    m.by_key[key].push_back(queued);
    const auto& names = state_.compare_for(p.name).name_map;
    if (auto mapped = names.find(name); mapped != names.end()) {
      if (const std::uint64_t k2 = match_key(mapped->second); k2 != key)
        m.by_key[k2].push_back(queued);
    }
    m.to_look.push_back(queued);
  }
  m.queued_upto = queued;
  // Lookups, lowest first, in the same slice; nothing is settled until
  // every record indexed is looked up against the same benchmark.
  std::sort(m.to_look.begin(), m.to_look.end(), std::greater<>());
  m.to_look.erase(std::unique(m.to_look.begin(), m.to_look.end()), m.to_look.end());
  while (!m.to_look.empty() && !slice.over()) {
    const std::uint64_t seq = m.to_look.back();
    m.to_look.pop_back();
    queued_record* e = at(seq);
    if (e == nullptr) continue;
    if (e->record >= sample.records().size()) {
      e->what = queued_record::status::skipped;
      m.nth_waiting.erase(seq);
      continue;
    }
    e->found = probe(bench, sample.records()[e->record], e->ordinal, state_.compare_for(p.name));
    if (e->found.record >= 0 && e->found.nth) {
      m.nth_waiting.insert(seq);
    } else {
      m.nth_waiting.erase(seq);
    }
    m.to_settle.push_back(seq);
  }
  // Settle the looked-up records and those a later record newly vouches
  // for, in sample order; a record handed out may vouch for more.
  while (m.to_look.empty() && !slice.over()) {
    const std::uint64_t vouched = vouched_upto(w);
    if (vouched > m.vouched_upto) {
      for (std::uint64_t seq = std::max(m.vouched_upto, w.front_seq); seq < vouched; ++seq) {
        if (at(seq) != nullptr) m.to_settle.push_back(seq);
      }
    }
    m.vouched_upto = vouched;
    if (m.to_settle.empty()) break;
    std::sort(m.to_settle.begin(), m.to_settle.end(), std::greater<>());
    m.to_settle.erase(std::unique(m.to_settle.begin(), m.to_settle.end()), m.to_settle.end());
    while (!m.to_settle.empty() && !slice.over()) {
      const std::uint64_t seq = m.to_settle.back();
      m.to_settle.pop_back();
      settle(r, w, s->second, b->second, seq);
    }
  }
  if (m.queued_upto < end || !m.to_look.empty() || !m.to_settle.empty() ||
      vouched_upto(w) > m.vouched_upto) {
    continue_later(r, m.continued, false);
  }
  publish_ready(r, w);
}

// One past the last record that a later record vouches for: the last
// record handed out, or waiting with its ordinal-th candidate found.
std::uint64_t pair_scheduler::vouched_upto(run_work& w) const {
  match_state& m = w.match;
  std::uint64_t last = m.settled_upto;  // one past the last handed out
  while (!m.nth_waiting.empty()) {
    const std::uint64_t seq = *m.nth_waiting.rbegin();
    if (seq >= w.front_seq && seq - w.front_seq < w.queue.size() &&
        w.queue[static_cast<std::size_t>(seq - w.front_seq)].what ==
            queued_record::status::waiting) {
      last = std::max(last, seq + 1);
      break;
    }
    m.nth_waiting.erase(seq);
  }
  return last == 0 ? 0 : last - 1;
}

// A run is compared against one benchmark run. When the benchmark file
// holds another run than the one r's layers were compared with, while r
// still has records waiting for their benchmark layer, r is compared again
// from its first record against the new run (its layers are published
// again, and an ended run is revised); a run with nothing left to compare
// keeps its benchmark run. Whether r started over (try_match has done so).
bool pair_scheduler::rebenched(run_info& r, run_work& w, const tracked_file& sample,
                               const std::string& bench_run) {
  if (bench_run == r.benchmark_run || bench_run.empty()) return false;
  if (!w.bench_pinned || r.benchmark_run.empty()) {
    r.benchmark_run = bench_run;  // nothing compared yet: this one it is
    return false;
  }
  const bool waiting = std::any_of(w.queue.begin(), w.queue.end(), [](const queued_record& e) {
    return e.what == queued_record::status::waiting;
  });
  if (!waiting) return false;
  log(log_level::info, r.id + " is compared again, with benchmark run " + bench_run + " (its " +
                           r.benchmark_run + " was replaced)");
  // Results in flight are of the old queue (their seq is below front_seq).
  w.front_seq += w.queue.size();
  w.queue.clear();
  w.next_index = 0;
  w.stream.reset();
  w.match = match_state{};
  w.benchmark_only.reset();
  w.benchmark_only_of = nullptr;
  w.bench_pinned = false;
  w.copy_waiting = 0;
  w.copy_sample_tail = w.copy_bench_tail = {};
  if (w.end_published) w.late_layers = true;
  r.report.layers.clear();
  r.report.coverage = coverage{};
  r.benchmark_run = bench_run;
  if (store_ != nullptr) store_->run_rebenched(r);
  records_added(r, sample, 0);
  return true;
}

void pair_scheduler::settle(run_info& r, run_work& w, const std::shared_ptr<tracked_file>& sample,
                            const std::shared_ptr<tracked_file>& bench, std::uint64_t seq) {
  if (seq < w.front_seq || seq - w.front_seq >= w.queue.size()) return;
  queued_record& e = w.queue[static_cast<std::size_t>(seq - w.front_seq)];
  if (e.what != queued_record::status::waiting) return;
  const probe_result& pr = e.found;
  const bool later_present = seq < w.match.vouched_upto;
  const bool settled = (pr.record >= 0 && pr.nth && pr.rule == match_rule::exact) ||
                       w.match.bench_final || (later_present && (pr.record < 0 || pr.nth));
  if (!settled) return;
  w.match.nth_waiting.erase(seq);
  if (pr.record < 0) {
    sample_only(r, w, e, sample->file->records()[e.record].name);
    return;
  }
  w.match.settled_upto = std::max(w.match.settled_upto, seq + 1);
  dispatch(r, w, seq, sample, bench, e.record, static_cast<std::uint32_t>(pr.record), pr.rule);
}

void pair_scheduler::sample_only(run_info& r, run_work& w, queued_record& e,
                                 const std::string& name) {
  e.what = queued_record::status::skipped;
  // In sample order, as the offline report lists them.
  auto& only = r.report.coverage.sample_only_layers;
  const auto pos = std::upper_bound(
      only.begin(), only.end(), e.record,
      [](std::uint32_t rec, const sample_only_layer& x) { return rec < x.record; });
  only.insert(pos, {e.record, name});
  w.summary_stale = true;
  refresh_summary(r, w, false);
}

}  // namespace sigdump::daemon
