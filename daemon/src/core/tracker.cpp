// The daemon core's owner: wires the watcher, file runs, pair sides and
// pair scheduler together and runs start, reload, rescan and stop. Loop
// thread only.
#include "core/tracker.h"

#include "export/archive.h"

namespace sigdump::daemon {

tracker::tracker(event_loop& loop, daemon_state& state, state_store* store, worker_pool& pool)
    : loop_(loop),
      state_(state),
      store_(store),
      watcher_(loop, state,
               {.look = [this](const std::string& path,
                               const watcher::cue& why) { runs_.look(path, why); },
                .poll = [this] { runs_.poll(); },
                .rescan = [this](const std::string& reason) { rescan(reason); }}),
      sides_(state),
      scheduler_(loop, state, store, pool, sides_,
                 [this](const std::string& path) { runs_.look(path); }),
      runs_(loop, state, store, watcher_, sides_, scheduler_, &pool) {
  // The run logs are written off the loop from here on; each run is marked
  // persisted once its lines are in its log.
  if (store_ != nullptr) store_->attach(loop, state.runs);
}

tracker::~tracker() {
  if (store_ != nullptr) store_->detach();
}

void tracker::set_options(const daemon_options& options) {
  runs_.configure(options.quiet, options.keep_runs);
  state_.compare.thresholds = options.thresholds;
  // Workers already run one layer each; splitting a layer further would
  // only contend with them.
  state_.compare.threads = 1;
  watcher_.configure(options);
  sides_.configure(options.pairs);
  apply_archive_config(archive_, options.archive, loop_, state_);
  runs_.set_archive(archive_.get());
  // Layers whose bytes were gone from the file are compared from the copy.
  if (archive_) archive_->on_final([this](std::uint64_t run) { scheduler_.copy_final(run); });
}

result<void> tracker::start(const daemon_options& options) {
  set_options(options);
  if (auto started = watcher_.start(); !started) return started;
  rescan({});
  return {};
}

void tracker::reload(const daemon_options& options) {
  set_options(options);
  runs_.pairs_changed();  // new pairs compare the files already on disk
  rescan("reload");
  if (archive_) archive_->adopt_live_runs();  // archiving just turned on: copy live runs too
}

void tracker::rescan(const std::string& reason) {
  if (stopped_) return;
  watcher_.resolve();
  std::vector<std::string> paths;
  for (const auto& [p, f] : state_.files) paths.push_back(p);
  for (const auto& p : paths) check_path(p);
  scheduler_.match_all();
  if (!reason.empty()) {
    daemon_event e;
    e.kind = event_kind::resync;
    e.reason = reason;
    state_.publish(e);
  }
}

void tracker::check_path(const std::string& path) { runs_.look(path); }

void tracker::stop() {
  if (stopped_) return;
  stopped_ = true;
  scheduler_.stop();  // no new comparisons from here on
  runs_.stop();       // every live run ends ("stopped")
  if (archive_) archive_->stop();
  if (store_ != nullptr) store_->sync_all();
  watcher_.stop();
}

}  // namespace sigdump::daemon
