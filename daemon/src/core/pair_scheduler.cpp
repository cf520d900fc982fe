// Matching paired records as they are written, comparing them on the
// workers (streaming big layers), and publishing the results in report
// order. Loop thread only; the jobs run on the workers and post back.
// A run's life as the scheduler sees it (started, records added, ended,
// reset) is in pair_runs.cpp; big records summed as they are written in
// pair_streams.cpp; the copies in pair_copies.cpp; the outcome in
// pair_outcome.cpp.
#include "core/pair_scheduler.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <optional>
#include <vector>

#include "core/file_runs.h"
#include "core/record_marks.h"
#include "export/archive_copier.h"
#include "state/run_outcome.h"

namespace sigdump::daemon {

struct pair_scheduler::job {
  std::uint64_t run = 0;
  std::uint64_t seq = 0;  // the sample record's place in run_work::queue
  std::uint32_t sample_record = 0;
  std::uint32_t bench_record = 0;
  match_rule rule = match_rule::exact;
  file_lease sample, bench;
  tail_mark sample_tail, bench_tail;       // each side's tail when the job was handed out
  record_check sample_check, bench_check;  // and the marks of the records it reads
  copy_fill sample_fill, bench_fill;       // each side's copy, filled up to what was read
  bool sample_moved = false;               // and a side no longer held it after the comparison
  bool bench_moved = false;
  bool from_copy = false;  // read from archived copies (compare_from_copy)
  layer_result result;
  std::uint64_t chunks_streamed = 0;   // chunks summed before the record was complete
  std::uint64_t chunks_discarded = 0;  // and summed again: a truncation had unmapped them
};

pair_scheduler::pair_scheduler(event_loop& loop, daemon_state& state, state_store* store,
                               worker_pool& pool, pair_sides& sides,
                               std::function<void(const std::string&)> look)
    : loop_(loop),
      state_(state),
      store_(store),
      pool_(pool),
      sides_(sides),
      look_(std::move(look)) {
  state_.heap_trims = &trimmer_;
}

pair_scheduler::~pair_scheduler() {
  *alive_ = false;
  if (state_.heap_trims == &trimmer_) state_.heap_trims = nullptr;
  if (follow_timer_ != 0) loop_.cancel_timer(follow_timer_);
  if (summary_timer_ != 0) loop_.cancel_timer(summary_timer_);
}

void pair_scheduler::match_all() {
  // The options may have changed (a reload): every waiting record is
  // indexed and looked up again; those handed out stay so.
  for (auto& [n, w] : work_) {
    match_state fresh;
    fresh.settled_upto = w.match.settled_upto;
    w.match = std::move(fresh);
  }
  for (auto& p : state_.pairs) try_match(p);
}

bool pair_scheduler::benchmark_live(const run_info& r) {
  if (r.pair.empty()) return false;
  for (const auto& p : state_.pairs) {
    if (p.name != r.pair) continue;
    auto b = state_.files.find(sides_.resolve(p.benchmark));
    return b != state_.files.end() && b->second->state == run_state::live;
  }
  return false;
}

namespace {

// A layer whose comparison threw: named, not comparable, with the reason.
layer_result failed_layer(const dump_file& sample, std::uint32_t sample_record,
                          std::uint32_t bench_record, std::string why) noexcept {
  layer_result l;
  try {
    l.sample_record = sample_record;
    l.bench_record = bench_record;
    const record& rec = sample.records()[sample_record];
    l.name = rec.name;
    l.op = rec.op_type;
    l.shape = rec.shape;
    l.error = std::move(why);
  } catch (...) {
  }
  return l;
}

}  // namespace

void pair_scheduler::dispatch(run_info& r, run_work& w, std::uint64_t seq,
                              std::shared_ptr<tracked_file> sample,
                              std::shared_ptr<tracked_file> bench, std::uint32_t sample_record,
                              std::uint32_t bench_record, match_rule rule, bool from_copy) {
  auto j = std::make_shared<job>();
  j->from_copy = from_copy;
  j->run = r.number;
  j->seq = seq;
  j->sample_record = sample_record;
  j->bench_record = bench_record;
  j->rule = rule;
  w.queue[static_cast<std::size_t>(seq - w.front_seq)].what = queued_record::status::running;
  if (!w.bench_pinned) {
    w.bench_pinned = true;
    r.benchmark_run = "r" + std::to_string(bench->run);
  }
  // The streamed chunks of this record count only if both sides are still
  // the bytes they were summed from.
  std::shared_ptr<streamed_layer> streamed;
  if (w.stream && w.stream->sample_record() == sample_record) {
    const streamed_layer& st = *w.stream;
    const auto& rec = sample->file->records()[sample_record];
    if (st.header_offset() == rec.header_offset && st.bench_record() == bench_record &&
        w.stream_bench_path == bench->path && w.stream_bench_run == bench->run &&
        st.bench_identity() == bench->file->current_mapping()->identity()) {
      streamed = w.stream;
    }
  }
  if (w.stream && w.stream->sample_record() <= sample_record) w.stream.reset();
  const std::uint64_t elements = sample->file->records()[sample_record].elements;
  j->sample_tail = tail_of(*sample);
  j->bench_tail = tail_of(*bench);
  if (from_copy) {
    // The copies' bytes must be the ones the run read (their marks).
    const queued_record& q = w.queue[static_cast<std::size_t>(seq - w.front_seq)];
    j->sample_check = q.sample_check;
    j->bench_check = q.bench_check;
  } else {
    j->sample_check = check_of(*sample, sample_record);
    j->bench_check = check_of(*bench, bench_record);
    fill_for(*sample, sample_record, j->sample_fill);
    fill_for(*bench, bench_record, j->bench_fill);
  }
  j->sample = file_lease(std::move(sample));
  j->bench = file_lease(std::move(bench));
  ++w.in_flight;
  ++in_flight_;
  event_loop* loop = &loop_;
  auto alive = alive_;
  // Each job gets its own copy of the options: a reload may change the
  // state's while jobs run.
  auto opts = std::make_shared<compare_options>();
  const compare_options& own = state_.compare_for(r.pair);
  opts->thresholds = own.thresholds;
  opts->include_constants = own.include_constants;
  opts->include_inputs = own.include_inputs;
  opts->name_map = own.name_map;
  // Big layers are split over the cores (the sums are combined in chunk
  // order, so the result does not depend on the thread count).
  opts->threads = elements > (1u << 20) ? 0 : 1;
  pool_.submit([this, j, loop, alive, opts, streamed] {
    try {
      if (streamed) {
        streamed_layer::finished done = streamed->finish();
        j->chunks_streamed = done.kept;
        j->chunks_discarded = done.discarded;
        j->result = compare_layer(*j->sample.get(), j->sample_record, *j->bench.get(),
                                  j->bench_record, *opts, done.sums);
      } else {
        j->result = compare_layer(*j->sample.get(), j->sample_record, *j->bench.get(),
                                  j->bench_record, *opts);
      }
    } catch (const std::exception& e) {
      // Out of memory or threads for the split: this layer failed, the
      // run goes on (and still ends, since the result is posted).
      j->result = failed_layer(*j->sample.get(), j->sample_record, j->bench_record,
                               std::string("comparison failed: ") + e.what());
    }
    j->result.rule = j->rule;
    // The copier may lag: the copies get what was compared before the
    // marks below vouch for it (and lose it again when they do not).
    j->sample_fill.fill();
    j->bench_fill.fill();
    // Read after the sample started over (truncated and written again,
    // rewritten, or being written again in place: the record or the
    // file's first record holds other bytes): the bytes compared may be
    // the next run's.
    j->sample_moved = !tail_holds(*j->sample.get(), j->sample_tail) ||
                      !still_holds(*j->sample.get(), j->sample_check);
    j->bench_moved = !tail_holds(*j->bench.get(), j->bench_tail) ||
                     !still_holds(*j->bench.get(), j->bench_check);
    if (j->sample_moved) j->sample_fill.undo();
    if (j->bench_moved) j->bench_fill.undo();
    loop->post([this, j, alive] {
      if (*alive) on_result(j);
    });
  });
}

void pair_scheduler::on_result(std::shared_ptr<job> j) {
  --in_flight_;
  if (j->chunks_streamed > 0) {
    ++state_.layers_streamed;
    state_.chunks_streamed += j->chunks_streamed;
  }
  state_.chunks_discarded += j->chunks_discarded;
  // A file that no longer holds what was read starts over at its next look.
  if (j->sample_moved) note_written_again(state_, j->sample.get());
  if (j->bench_moved) note_written_again(state_, j->bench.get());
  // Release the leases first so deferred refreshes can run.
  const auto recheck = release(j->sample, j->bench);
  auto rit = state_.runs.find(j->run);
  auto wit = work_.find(j->run);
  if (rit != state_.runs.end() && wit != work_.end()) {
    run_info& r = *rit->second;
    run_work& w = wit->second;
    if (w.in_flight > 0) --w.in_flight;
    // Once its sample started over, the run's records are no longer in the
    // file: what was read from then on is not published from the file (the
    // look that follows resets the run), so no layer holds another run's
    // bytes. Nor are the layers computed before but not yet published (a
    // rewrite reaches the records one by one: a later record may have been
    // read before the writer got to it, an earlier one after): all of them
    // are compared again from the run's archived copy, the run's evidence,
    // each under its own index (they used to be dropped, and the layers
    // after them published under the indexes before theirs: block14 as
    // layer 7 in the rewrite soak).
    if (j->sample_moved && !w.sample_moved) {
      for (auto& q : w.queue) {
        if (q.what != queued_record::status::done) continue;
        q.what = queued_record::status::copy;
        q.bench_record = static_cast<std::uint32_t>(q.result.bench_record);
        q.rule = q.result.rule;
        ++w.copy_waiting;
      }
    }
    w.sample_moved = w.sample_moved || j->sample_moved;
    if (j->seq >= w.front_seq && j->seq - w.front_seq < w.queue.size()) {
      queued_record& e = w.queue[static_cast<std::size_t>(j->seq - w.front_seq)];
      if (e.what == queued_record::status::running && j->from_copy) {
        // Copies do not start over; a failed read of one is lost.
        e.result = std::move(j->result);
        e.what = queued_record::status::done;
        if (j->sample_moved || j->bench_moved) lose(r, w, e);
      } else if (e.what == queued_record::status::running && w.sample_moved) {
        // Read after its file started over: its bytes are gone from the
        // file, but maybe not from the run's archived copy.
        e.what = queued_record::status::copy;
        e.bench_record = j->bench_record;
        e.rule = j->rule;
        e.sample_check = j->sample_check;
        e.bench_check = j->bench_check;
        if (j->sample_tail.to >= w.copy_sample_tail.to) w.copy_sample_tail = j->sample_tail;
        if (j->bench_tail.to >= w.copy_bench_tail.to) w.copy_bench_tail = j->bench_tail;
        ++w.copy_waiting;
      } else if (e.what == queued_record::status::running && j->bench_moved) {
        // Read from the benchmark's next run under the old one's name: it
        // waits again, and once a look starts that run the sample run is
        // compared again against it (rebenched).
        e.what = queued_record::status::waiting;
      } else if (e.what == queued_record::status::running) {
        e.result = std::move(j->result);
        e.what = queued_record::status::done;
        e.sample_check = j->sample_check;
        e.bench_check = j->bench_check;
      }
    }
    compare_from_copy(r, w);
    // Publish in report order: a fast small layer waits for a slower
    // earlier one, and for earlier records still waiting for a match.
    publish_ready(r, w);
  }
  look_again(recheck);
}

std::vector<std::string> pair_scheduler::release(file_lease& a, file_lease& b) {
  std::vector<std::string> paths;
  for (file_lease* l : {&a, &b}) {
    if (const dump_file* f = l->get()) paths.push_back(f->path());
    l->reset();
  }
  return paths;
}

// Files whose refresh waited for the leases just released: looked at in a
// posted call (one per file at a time), not in the callback that released
// them, which has published results already.
void pair_scheduler::look_again(const std::vector<std::string>& paths) {
  for (const auto& p : paths) {
    auto f = state_.files.find(p);
    if (f == state_.files.end() || !f->second->refresh_wanted || f->second->readers.load() > 0)
      continue;
    if (!again_posted_.insert(p).second) continue;
    loop_.post([this, alive = alive_, p] {
      if (!*alive) return;
      again_posted_.erase(p);
      auto again = state_.files.find(p);
      if (again != state_.files.end() && again->second->refresh_wanted &&
          again->second->readers.load() == 0) {
        look_(p);
      }
    });
  }
}

void pair_scheduler::publish_ready(run_info& r, run_work& w) {
  const loop_slice slice;
  while (!w.queue.empty()) {
    if (slice.over()) {
      continue_later(r, w.publish_continued, true);
      return;
    }
    queued_record& e = w.queue.front();
    if (e.what == queued_record::status::done) {
      layer_result l = std::move(e.result);
      l.index = w.next_index++;
      if (w.end_published) w.late_layers = true;
      publish_layer(r, std::move(l));
    } else if (e.what == queued_record::status::lost) {
      ++w.next_index;  // its place in the report stays empty
    } else if (e.what != queued_record::status::skipped) {
      break;
    }
    w.queue.pop_front();
    ++w.front_seq;
  }
  maybe_finish(r, w);
}

void pair_scheduler::publish_layer(run_info& r, layer_result l) {
  auto& layers = r.report.layers;
  auto w = work_.find(r.number);
  if (w != work_.end()) w->second.room.before_insert(layers, pool_, loop_);
  auto pos = std::upper_bound(layers.begin(), layers.end(), l.index,
                              [](std::uint32_t i, const layer_result& x) { return i < x.index; });
  layers.insert(pos, l);
  if (w != work_.end()) {
    w->second.summary_stale = true;
    refresh_summary(r, w->second, false);
  } else {
    diagnose_report(r.report);
  }
  if (store_ != nullptr) store_->layer_added(r, l);
  daemon_event e;
  e.kind = event_kind::layer;
  e.run = r.id;
  e.path = r.path;
  e.pair = r.pair;
  e.layer = std::move(l);
  e.first_bad = r.report.first_bad;
  e.diagnosis = r.report.diagnosis;
  state_.publish(e);
}

void pair_scheduler::stop() {
  stopped_ = true;  // no new comparisons from here on
  trimmer_.stop();
  if (summary_timer_ != 0) loop_.cancel_timer(summary_timer_);
  summary_timer_ = 0;
  for (auto& [n, w] : work_) {
    // Results in flight and layers still waiting are dropped.
    w.in_flight = 0;
    w.copy_waiting = 0;
    w.front_seq += w.queue.size();
    w.queue.clear();
    auto r = state_.runs.find(n);
    if (!w.end_reason.empty() && r != state_.runs.end()) finish_end(*r->second, w);
  }
  if (follow_timer_ != 0) loop_.cancel_timer(follow_timer_);
  follow_timer_ = 0;
  follow_paths_.clear();
}

// Posts a call that goes on with a run's matching (or publishing) where a
// slice of the loop's time ran out; `flag` says one is posted.
void pair_scheduler::continue_later(run_info& r, bool& flag, bool publish) {
  if (flag) return;
  flag = true;
  loop_.post([this, alive = alive_, run = r.number, publish] {
    if (!*alive) return;
    auto rit = state_.runs.find(run);
    auto wit = work_.find(run);
    if (rit == state_.runs.end() || !rit->second || wit == work_.end()) return;
    run_info& rr = *rit->second;
    run_work& w = wit->second;
    if (publish) {
      w.publish_continued = false;
      publish_ready(rr, w);
      return;
    }
    w.match.continued = false;
    for (auto& p : state_.pairs) {
      if (p.name == rr.pair && p.run == run) try_match(p);
    }
    // try_match returns early (without publishing) when the run's file no
    // longer holds it: its end must not wait for a match that never comes.
    maybe_finish(rr, w);
  });
}

}  // namespace sigdump::daemon
