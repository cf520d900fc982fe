// Matching paired records as they are written, comparing them on the
// workers (streaming big layers), and publishing the results in report
// order. Loop thread only; the jobs run on the workers and post back.
// Over 600 lines: a job's hand-out, its checks after the comparison (tails,
// record marks) and its result's publishing read as one path; the copies
// (pair_copies.cpp) and the outcome (pair_outcome.cpp) are already apart.
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

namespace {

// How long a file may sit still before a streamed record stops being
// followed every millisecond (its next write raises an inotify event).
constexpr std::int64_t follow_pause_ms = 100;

}  // namespace

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

// Streams tf's cut record for run r when it is worth it and its match is
// certain: the ordinal-th exact name, which try_match settles at once.
bool pair_scheduler::open_stream(const run_info& r, const tracked_file& tf, run_work& w) {
  const dump_file& sample = *tf.file;
  if (!streamed_layer::streamable(sample)) return false;
  const record& cut = *sample.pending()->header;
  if (!is_compared(cut, state_.compare_for(r.pair))) return false;
  const pair_info* pair = nullptr;
  for (const auto& p : state_.pairs) {
    if (p.name == r.pair && p.run == r.number) pair = &p;
  }
  if (pair == nullptr) return false;
  const std::string bench_path = sides_.resolve(pair->benchmark);
  auto b = bench_path.empty() ? state_.files.end() : state_.files.find(bench_path);
  if (b == state_.files.end() || b->second.get() == &tf) return false;
  const dump_file& bench = *b->second->file;
  // Its occurrence among the sample's complete records, as the queue will
  // count it.
  std::uint32_t ordinal = 0;
  const auto& recs = sample.records();
  for (std::uint32_t i : sample.index().find(recs, cut.name)) {
    if (recs[i].kind == cut.kind && recs[i].port == cut.port) ++ordinal;
  }
  const probe_result pr = probe(bench, cut, ordinal, state_.compare_for(r.pair));
  if (pr.record < 0 || !pr.nth || pr.rule != match_rule::exact) return false;
  w.stream = streamed_layer::open(sample, bench, static_cast<std::uint32_t>(pr.record));
  if (!w.stream) return false;
  w.stream_bench_path = bench_path;
  w.stream_bench_run = b->second->run;
  return true;
}

void pair_scheduler::stream_pending(tracked_file& tf) {
  if (stopped_ || !tf.file) return;
  const auto& cut = tf.file->pending();
  std::optional<result<tensor_view>> view;  // the cut record over the current mapping
  // Whether a big record may be arriving that only a look will show: one
  // write(2) of a whole record raises its inotify event once it returns,
  // and a big one takes milliseconds to tens of milliseconds.
  bool watch_closely = false;
  for (const auto& rp : runs_of(state_, tf)) {
    run_info& r = *rp;
    auto wit = work_.find(r.number);
    if (wit == work_.end()) continue;
    run_work& w = wit->second;
    // The streamed record is complete: its sums wait for its dispatch,
    // which a matching slice may have posted for later (dispatch lets go
    // of them), also when the run ended with it; the next record streams
    // after that.
    if (w.stream && w.stream->sample_record() < tf.file->records().size() &&
        tf.file->records()[w.stream->sample_record()].header_offset == w.stream->header_offset()) {
      continue;
    }
    if (r.pair.empty() || r.state != run_state::live) {
      w.stream.reset();
      continue;
    }
    if (!cut || !cut->header) {
      // Between records, or inside a header: the next record's size is
      // not known yet.
      w.stream.reset();
      watch_closely = true;
      continue;
    }
    const record& h = *cut->header;
    if (w.stream &&
        (w.stream->sample_record() != h.index || w.stream->header_offset() != h.header_offset)) {
      w.stream.reset();
    }
    if (!w.stream && !open_stream(r, tf, w)) continue;
    streamed_layer& st = *w.stream;
    const streamed_layer::chunk_range due = st.chunks_due(cut->offset + cut->available);
    if (!due.empty()) {
      if (!view) view = tf.file->pending_view();
      if (*view) {
        for (std::uint64_t k = due.first; k < due.last; ++k) {
          pool_.submit([this, loop = &loop_, st = w.stream, sample = **view, k, alive = alive_] {
            if (!st->sum_chunk(sample, k)) return;
            loop->post([this, alive] {
              if (*alive) ++state_.chunks_summed;
            });
          });
        }
        st.hand_out(due.last);
      }
    }
    // The last chunk ends with the record, which dispatches the layer.
    if (st.handed_out() + 1 < st.chunks()) watch_closely = true;
  }
  // Look every millisecond while the writer is at it, unless it has paused
  // (its next write raises an event anyway).
  if (watch_closely && steady_now_ms() - tf.last_change_ms < follow_pause_ms) follow(tf.path);
}

void pair_scheduler::follow(const std::string& path) {
  follow_paths_.insert(path);
  if (follow_timer_ != 0) return;
  follow_timer_ = loop_.add_timer(std::chrono::milliseconds(1), false, [this] {
    follow_timer_ = 0;
    std::set<std::string> paths;
    paths.swap(follow_paths_);
    for (const auto& p : paths) look_(p);
  });
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
