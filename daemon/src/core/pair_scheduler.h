// Pairing and scheduling: matches the records of each paired sample run
// with its benchmark while both are written (the offline matching rules),
// hands the layer comparisons to the worker pool, sums the chunks of a big
// layer while it is written (sigdump/streamed_layer.h), and publishes the
// results in report order, then each run's run_end once nothing of it is
// pending. Loop thread only: results come back through the event loop.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/layer_room.h"
#include "core/pair_matching.h"
#include "core/pair_sides.h"
#include "core/record_marks.h"
#include "platform/event_loop.h"
#include "platform/heap_trim.h"
#include "platform/worker_pool.h"
#include "sigdump/input_checks.h"
#include "sigdump/streamed_layer.h"
#include "state/daemon_state.h"
#include "state/state_store.h"

namespace sigdump::daemon {

/* The last 4 KiB of a file's complete records and their hash, as its last
   look noted them ([from, to); to == 0: none noted). tail_of() and
   tail_holds() are in file_runs.h. */
struct copy_fill;  // export/archive_copier.h

struct tail_mark {
  std::uint64_t from = 0, to = 0, hash = 0;
};

class pair_scheduler {
 public:
  /* store may be null. look(path) looks at a file again: after a lease on
     it was released (a refresh may have waited), and every millisecond
     while a layer is streamed. */
  pair_scheduler(event_loop& loop, daemon_state& state, state_store* store, worker_pool& pool,
                 pair_sides& sides, std::function<void(const std::string& path)> look);
  ~pair_scheduler();
  pair_scheduler(const pair_scheduler&) = delete;
  pair_scheduler& operator=(const pair_scheduler&) = delete;

  // A run's comparison work lives from run_started to run_pruned (which also
  // lets go of the archive's reader of its copy, and trims the heap soon
  // after: platform/heap_trim.h).
  void run_started(std::uint64_t run);
  void run_pruned(std::uint64_t run);
  /* r, read back from the state folder, is again the run of its unchanged
     file tf (a restart): its run_end went out in an earlier life, and the
     compared records after its last persisted layer are queued. */
  void run_continued(run_info& r, const tracked_file& tf);
  /* r had ended and its file now holds other content (r.state is reset):
     a run_end still due goes out now, without the layers that were still
     waiting; its log records the new state. */
  void ended_run_reset(run_info& r);
  /* An ended run goes on (its file was appended to): no run_end is due. */
  void run_resumed(std::uint64_t run);
  /* r ended (its state, end_reason and ended are set): its run_end goes
     out once the layers being computed are published, and those waiting
     for a benchmark still being written (unless r was reset, deleted or
     stopped, or its file no longer holds it: those are dropped). A run that ended settles, as a
     benchmark, the samples waiting on it. */
  void run_ended(run_info& r, run_state how, const std::string& reason);
  /* New records [first_new, ...) of tf belong to run r: the compared ones
     are queued (when r has a pair) and matched. */
  void records_added(run_info& r, const tracked_file& tf, std::size_t first_new);
  /* The file at path grew: the pairs whose benchmark it is match again. */
  void benchmark_grew(const std::string& path);
  /* The file at path ended or is gone: the pairs whose benchmark it is
     settle what waited on it, and earlier runs of those pairs whose
     run_end waits go on to it. */
  void benchmark_changed(const std::string& path);
  /* Every pair matches again (a rescan). */
  void match_all();
  /* Starts or feeds the streamed comparison of tf's cut record for each
     of its paired live runs; looks at tf every millisecond while it is
     being written and no big record's size is known, or chunks are still
     due. */
  void stream_pending(tracked_file& tf);
  /* No new comparisons: results in flight and layers still waiting are
     dropped, and ends already requested are published. */
  void stop();

  /* Run `run`'s archived copy can no longer grow: its layers that waited
     for it are compared from it (pair_copies.cpp). */
  void copy_final(std::uint64_t run);

  /* Jobs dispatched and not yet handed back. */
  std::size_t in_flight() const noexcept { return in_flight_; }

 private:
  struct queued_record {
    // copy: read after its file started over; compared again from the run's
    // archived copy once that can no longer grow. lost: matched, but its
    // bytes were gone before they were read and no copy stood in: no layer,
    // yet it keeps its report index (the layers after it keep theirs, as
    // the offline report of the run's bytes numbers them). skipped: no
    // layer and no index (no match, or its run dropped it).
    enum class status : std::uint8_t { waiting, running, done, skipped, copy, lost };
    std::uint32_t record = 0;   // sample record
    std::uint32_t ordinal = 0;  // its occurrence_ordinal in the sample
    status what = status::waiting;
    probe_result found;              // waiting: its lookup in the benchmark when last woken
    std::uint32_t bench_record = 0;  // copy: the benchmark record it was matched with
    // copy: it was still waiting for its benchmark layer when its file
    // started over: matched in the copies (against the benchmark run's final
    // copy, as offline) before it is compared from them.
    bool match_in_copy = false;
    match_rule rule = match_rule::exact;
    layer_result result;  // done: computed, index not yet assigned
    // done, copy: the marks (record_marks.h) of the records it was computed
    // from and of their files' first records, as the run noted them (the
    // sample's from when it was queued): a copy
    // stands in for them only if it holds the same marks (a copier that
    // lagged may have copied the next write's bytes).
    record_check sample_check, bench_check;
  };
  /* What try_match knows of a run's benchmark, so that a pass looks up
     only the waiting records that a new benchmark record may concern, and
     settles only those and the ones a later record newly vouches for:
     linear in the records, not quadratic (pair_matching.cpp). Sequence
     numbers are run_work::queue's; "upto" values are one past a seq. */
  struct match_state {
    std::weak_ptr<const tracked_file> bench;  // the benchmark looked at (and its run)
    std::uint64_t bench_run = 0;
    std::size_t bench_seen = 0;  // its records that woke the waiting ones
    bool bench_final = false;
    std::uint64_t queued_upto = 0;        // queued records indexed by name
    std::uint64_t settled_upto = 0;       // records handed out to be compared
    std::uint64_t vouched_upto = 0;       // records a later one vouched for at the last pass
    std::set<std::uint64_t> nth_waiting;  // waiting records found as their ordinal-th candidate
    // match_key of each queued record's name (and mapped name) -> its seqs.
    std::unordered_map<std::uint64_t, std::vector<std::uint64_t>> by_key;
    // Work left over by a pass that ran out of its slice: records to look
    // up (nothing is settled before they are), then records to settle.
    std::vector<std::uint64_t> to_look, to_settle;
    bool continued = false;  // a pass is posted to do it
  };
  // Per-run bookkeeping of the comparison (not part of the model).
  struct run_work {
    // Compared sample records in sample order, from the first not yet
    // published: a layer's report index is known only once every earlier
    // record is matched or known to have no match.
    std::deque<queued_record> queue;
    std::uint64_t front_seq = 0;   // sequence number of queue.front()
    std::uint32_t next_index = 0;  // report index of the next published layer
    std::uint32_t in_flight = 0;
    std::string end_reason;  // end requested, run_end not yet published
    run_state end_state = run_state::ended;
    bool end_published = false;  // run_end went out; later layers reopen the log
    bool late_layers = false;    // layers were published after run_end
    layer_room room;             // r.report.layers' next room, made on a worker
    // The outcome its last run_end / run_revised announced: compared, not
    // comparable, sample-only, pending, suspect, benchmark-only; and the
    // verdict.
    std::array<std::uint64_t, 6> announced{};
    std::string announced_verdict;
    std::string announced_bench;  // and the benchmark run it named
    // A layer was handed out against r.benchmark_run: another benchmark run
    // is not mixed in (rebench).
    bool bench_pinned = false;
    // A comparison found the sample no longer holding the run's bytes:
    // later results of the run are not published either.
    bool sample_moved = false;
    // Records in status copy: run_end waits for them. The copies stand in
    // for the files only if they hold each side's tail as the looks before
    // those comparisons noted it (the newest marks): a copier that went on
    // after a rewrite regrew the file copied the next run's bytes.
    std::uint32_t copy_waiting = 0;
    tail_mark copy_sample_tail, copy_bench_tail;
    // The sample's cut record, when big and already matched: its chunks are
    // summed as its bytes land, and its comparison reuses them. Matched
    // against the benchmark file stream_bench_path in its run
    // stream_bench_run.
    std::shared_ptr<streamed_layer> stream;
    std::string stream_bench_path;
    std::uint64_t stream_bench_run = 0;
    match_state match;
    // first_bad, diagnosis and coverage (diagnose_report) of a big run lag
    // behind its layers (refresh_summary), never behind run_end and
    // run_revised.
    bool summary_stale = false;
    std::int64_t summary_at_ns = 0;    // steady clock: when it was last recomputed
    std::int64_t summary_cost_ns = 0;  // and how long that took
    bool publish_continued = false;    // layers left to publish by a posted call
    // Benchmark layers no sample layer matched (plan_layers), counted on a
    // worker for run_end and run_revised, and the benchmark file it was
    // counted for, with both files' record counts and the benchmark's run.
    std::optional<std::uint64_t> benchmark_only;
    std::vector<input_warning> input_warnings;  // check_inputs of the same files, same worker
    const tracked_file* benchmark_only_of = nullptr;
    std::array<std::uint64_t, 3> benchmark_only_records{};
    bool planning = false;
    // The benchmark-only count of the run's archived copy against its
    // benchmark run's, once both are final (what `sigdump compare` on the
    // copies counts): it replaces the count taken from the files at run_end
    // (pair_copies.cpp).
    std::optional<std::uint64_t> copies_benchmark_only;
    bool copies_counting = false;
    bool copies_again = false;      // a copy became final again while it was counted
    bool copies_uncounted = false;  // the count failed (a copy could not be read)
  };
  struct job;

  void try_match(pair_info& p);
  bool rebenched(run_info& r, run_work& w, const tracked_file& sample,
                 const std::string& bench_run);
  std::uint64_t vouched_upto(run_work& w) const;
  void settle(run_info& r, run_work& w, const std::shared_ptr<tracked_file>& sample,
              const std::shared_ptr<tracked_file>& bench, std::uint64_t seq);
  void continue_later(run_info& r, bool& flag, bool publish);
  bool benchmark_only_ready(run_info& r, run_work& w);
  const tracked_file* counted_benchmark(const run_info& r) const;
  static std::array<std::uint64_t, 3> record_counts(const tracked_file& sample,
                                                    const tracked_file& bench);
  std::vector<std::string> release(file_lease& a, file_lease& b);
  void look_again(const std::vector<std::string>& paths);
  void refresh_summary(run_info& r, run_work& w, bool now);
  void settle_summary(run_info& r);
  void advise_at_end(run_info& r);
  void dispatch(run_info& r, run_work& w, std::uint64_t seq, std::shared_ptr<tracked_file> sample,
                std::shared_ptr<tracked_file> bench, std::uint32_t sample_record,
                std::uint32_t bench_record, match_rule rule, bool from_copy = false);
  /* The records of r in status copy: dispatched against r's archived copy
     and its benchmark run's once r's copy is final; lost when a copy is
     missing or lacks them. */
  void compare_from_copy(run_info& r, run_work& w);
  /* e (of r, status copy) waited for its benchmark layer when its file
     started over: its benchmark record in the copies (the benchmark run's
     copy is final), as offline. False when it is not compared: lost (no
     copies, the sample's lacks it, or the benchmark file holds another run
     now, so its marks are gone) or sample-only (no match). */
  bool match_in_copies(run_info& r, run_work& w, queued_record& e, const tracked_file* sample,
                       const tracked_file* bench, std::uint64_t bench_run);
  /* Once r ended and its copy and its benchmark run's are final: counts
     the benchmark layers no sample layer matched in the copies, on a
     worker, and revises r's outcome (run_revised) when that differs from
     the count its run_end announced. */
  void count_from_copies(run_info& r, run_work& w);
  /* Whether count_from_copies will still count r's benchmark-only layers:
     an archive holds r's copy and its benchmark run's, neither failed, and
     they were not counted (nor failed to be) yet. */
  bool copies_will_count(const run_info& r, const run_work& w) const;
  /* Record `rec` of tf, about to be compared: the copy of tf's run that the
     worker fills up to its end (copy_fill; no copy: fill.ch stays null). */
  void fill_for(const tracked_file& tf, std::uint32_t rec, copy_fill& fill) const;
  /* r's records still waiting for their benchmark layer will never get
     one from r's file: counted lost when `lost`, else left pending. When
     `started_over` (r was reset) they are matched and compared in the
     archived copies instead (r's run_end waits for the benchmark run's
     copy, as an ended run's waits for its benchmark), lost when there are
     none, or the copies lack them or hold other bytes. */
  void drop_waiting(run_info& r, run_work& w, bool lost, bool started_over = false);
  /* Record e of r has no benchmark layer (named `name`): a sample-only
     layer, listed in sample order. */
  void sample_only(run_info& r, run_work& w, queued_record& e, const std::string& name);
  /* e (matched, of r) is lost: counted in r's coverage; it keeps its index. */
  static void lose(run_info& r, run_work& w, queued_record& e);
  /* e, not yet compared, is lost: counted; it keeps an index only if a
     benchmark record was found for it. */
  static void lose_unmatched(run_info& r, run_work& w, queued_record& e);
  void on_result(std::shared_ptr<job> j);
  bool open_stream(const run_info& r, const tracked_file& tf, run_work& w);
  void follow(const std::string& path);
  void publish_ready(run_info& r, run_work& w);
  void publish_layer(run_info& r, layer_result l);
  void maybe_finish(run_info& r, run_work& w);
  void finish_end(run_info& r, run_work& w);
  void maybe_revise(run_info& r, run_work& w);
  void end_event(run_info& r, run_work& w, daemon_event& e);
  /* What run_end and run_revised tell of r's results, to see whether they
     changed: compared, not comparable, sample-only, pending, suspect,
     benchmark-only. */
  static std::array<std::uint64_t, 6> outcome_of(const run_info& r);
  /* Notes r's results as the ones announced (w.announced, its verdict). */
  static void note_announced(const run_info& r, run_work& w);
  bool benchmark_live(const run_info& r);
  /* Whether r's file is still tracked and still holds r (only then can its
     waiting records be matched). */
  bool file_holds(const run_info& r) const;

  event_loop& loop_;
  daemon_state& state_;
  state_store* store_;
  worker_pool& pool_;
  pair_sides& sides_;
  std::function<void(const std::string&)> look_;
  std::map<std::uint64_t, run_work> work_;  // live comparisons by run number
  std::size_t in_flight_ = 0;
  timer_id follow_timer_ = 0;            // one-shot: looks again at follow_paths_
  std::set<std::string> again_posted_;   // files a posted look_again call will look at
  std::set<std::string> follow_paths_;   // paired dumps being written: looked at in 1 ms
  timer_id summary_timer_ = 0;           // one-shot: recomputes summary_due_'s summaries
  std::set<std::uint64_t> summary_due_;  // runs whose summary was put off
  bool stopped_ = false;
  heap_trimmer trimmer_{loop_, pool_};  // after pruned runs (status: heap_trims)
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // posted results check it
};

}  // namespace sigdump::daemon
