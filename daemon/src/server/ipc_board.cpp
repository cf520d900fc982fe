// The socket server's status board (shared memory that `sigdump top` polls
// without a socket round trip; docs/status-board.md): one slot a pair, kept
// in step with the model as runs change and events are published.
#include "platform/log.h"
#include "server/ipc_server.h"

namespace sigdump::daemon {

namespace {

ipc::board_state board_state_of(run_state s) noexcept {
  switch (s) {
    case run_state::live: return ipc::board_state::live;
    case run_state::ended: return ipc::board_state::ended;
    case run_state::reset: return ipc::board_state::reset;
  }
  return ipc::board_state::ended;
}

}  // namespace

void ipc_server::init_board() {
  if (listener_.path().empty()) return;
  const std::string name = ipc::board_name_for_socket(listener_.path());
  ipc::board_options bo;
  bo.pid = static_cast<std::uint64_t>(state_.pid());
  bo.started = static_cast<std::uint64_t>(state_.started());
  bo.socket_path = listener_.path();
  auto b = ipc::board_writer::create(name, bo);
  if (!b) {
    log(log_level::warning, "no status board: " + b.error().describe());
    return;
  }
  board_.emplace(std::move(*b));
  board_name_ = board_->name();
  for (const auto& p : state_.pairs) update_board_pair(p, true);
  board_->set_clock(state_.tick());
}

// A pair's slot from the model (the runs the methods and the Prometheus
// export read too), never from an event's own view: a run that ended before
// its run_end went out shows as ended, and a late event of an earlier run
// does not take the slot back. With all_layers, the run's layers too.
void ipc_server::update_board_pair(const pair_info& p, bool all_layers) {
  ipc::board_pair_info info;
  info.name = p.name;
  info.sample = p.sample;
  info.benchmark = p.benchmark;
  info.state = ipc::board_state::idle;
  auto it = state_.runs.find(p.run);
  const run_info* r = it != state_.runs.end() ? it->second.get() : nullptr;
  if (r != nullptr) {
    info.run = r->id;
    info.state = board_state_of(r->state);
    info.diagnosis = r->report.diagnosis.text;
    if (r->report.first_bad)
      info.first_bad = {r->report.first_bad->index, r->report.first_bad->name};
  }
  if (!board_->update_pair(info)) return;
  board_pairs_.insert(p.name);
  if (r == nullptr || !all_layers) return;
  for (const auto& l : r->report.layers) update_board_layer(p, l);
}

void ipc_server::update_board_layer(const pair_info& p, const layer_result& l) {
  ipc::board_layer bl{l.index,        l.name,    l.metrics.mse,    l.metrics.cos,
                      l.metrics.rmse, l.suspect, !l.error.empty(), false};
  (void)board_->update_layer(p.name, bl);
}

void ipc_server::run_changed(const run_info& r) {
  if (!board_) return;
  for (const auto& p : state_.pairs) {
    if (p.run == r.number) update_board_pair(p, false);
  }
}

void ipc_server::update_board(const daemon_event& e) {
  if (!board_) return;
  board_->set_clock(e.tick);
  if (e.kind == event_kind::resync) {
    // A reload may have added pairs, or given one a run, or removed pairs:
    // their slots are freed.
    for (auto it = board_pairs_.begin(); it != board_pairs_.end();) {
      if (state_.find_pair(*it) != nullptr) {
        ++it;
        continue;
      }
      board_->remove_pair(*it);
      it = board_pairs_.erase(it);
    }
    for (const auto& p : state_.pairs) update_board_pair(p, true);
    return;
  }
  const pair_info* p = e.pair.empty() ? nullptr : state_.find_pair(e.pair);
  if (p == nullptr) return;
  update_board_pair(*p, false);
  auto r = state_.runs.find(p->run);
  if (e.kind == event_kind::layer && e.layer && r != state_.runs.end() && r->second->id == e.run) {
    update_board_layer(*p, *e.layer);
  }
}

}  // namespace sigdump::daemon
