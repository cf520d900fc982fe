// A big sample record summed chunk by chunk as its bytes land (a streamed
// layer, matched before it is complete), and files followed every
// millisecond while a writer is at such a record. Loop thread only; the
// chunks are summed on the workers.
#include "core/file_runs.h"
#include "core/pair_scheduler.h"

namespace sigdump::daemon {

namespace {

// How long a file may sit still before a streamed record stops being
// followed every millisecond (its next write raises an inotify event).
constexpr std::int64_t follow_pause_ms = 100;

}  // namespace

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

}  // namespace sigdump::daemon
