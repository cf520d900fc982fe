// The socket server's subscriptions: published events clocked into the
// history and queued to the subscribers whose filter they match (coalesced
// under backpressure), subscribe's replay or snapshot, and the pump that
// lets a subscriber catch up (gaps said when the history lost events).
#include <algorithm>
#include <functional>

#include "server/ipc_server.h"
#include "sigdump/ipc/clock.h"
#include "sigdump/json_util.h"

namespace sigdump::daemon {

namespace {

ipc::event_kind to_ipc(event_kind k) noexcept {
  switch (k) {
    case event_kind::run_start: return ipc::event_kind::run_start;
    case event_kind::layer: return ipc::event_kind::layer;
    case event_kind::run_end: return ipc::event_kind::run_end;
    case event_kind::run_reset: return ipc::event_kind::run_reset;
    case event_kind::resync: return ipc::event_kind::resync;
    case event_kind::run_revised: return ipc::event_kind::run_revised;
  }
  return ipc::event_kind::resync;
}

// Non-zero key of "the result of this layer of this run for this stream".
std::uint64_t coalesce_key(std::uint32_t stream, const std::string& run, std::int64_t layer) {
  std::uint64_t h = std::hash<std::string>{}(run);
  h ^= static_cast<std::uint64_t>(layer) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  h ^= static_cast<std::uint64_t>(stream) * 0xff51afd7ed558ccdull;
  return h == 0 ? 1 : h;
}

std::string event_object(const daemon_event& e, bool replay) {
  json_writer w;
  w.begin_object();
  w.field("event", event_kind_name(e.kind));
  w.field("clock", e.clock);
  write_event_fields(w, e);
  if (replay) w.field("replay", true);
  w.end_object();
  return w.take();
}

}  // namespace

void ipc_server::pump(client& c) {
  for (auto& s : c.subs) {
    while (!s.live && !c.conn.over_soft_limit() && !c.conn.overloaded()) {
      if (!s.snapshot.empty()) {
        c.conn.push(std::move(s.snapshot.front()));
        s.snapshot.pop_front();
        continue;
      }
      if (s.cursor >= history_.last_tick()) {
        s.live = true;
        break;
      }
      if (!history_.covers(s.cursor)) {
        // Evicted while this client caught up: say what it lost.
        const std::uint64_t from = s.cursor + 1, to = history_.first_tick() - 1;
        json_writer w;
        w.begin_object();
        w.field("event", "gap");
        w.field("clock", ipc::format_clock({state_.started(), state_.pid(), to}));
        w.field("dropped", to - from + 1);
        dropped_total_ += to - from + 1;
        w.field("from", ipc::format_clock({state_.started(), state_.pid(), from}));
        w.field("to", ipc::format_clock({state_.started(), state_.pid(), to}));
        w.end_object();
        c.conn.push(ipc::event_line(s.id, w.str()));
        s.cursor = to;
        continue;
      }
      const auto* e = history_.at(s.cursor + 1);
      ++s.cursor;
      if (e != nullptr && s.filter.matches(**e)) c.conn.push(ipc::event_line(s.id, (*e)->object));
    }
  }
  if (c.conn.has_drops() && !c.conn.over_soft_limit() && !c.conn.overloaded()) {
    for (const auto& [stream, d] : c.conn.take_drops()) {
      auto it =
          std::find_if(c.subs.begin(), c.subs.end(),
                       [stream = stream](const subscription& s) { return s.stream == stream; });
      if (it == c.subs.end()) continue;
      json_writer w;
      w.begin_object();
      w.field("event", "gap");
      w.field("clock", ipc::format_clock({state_.started(), state_.pid(), d.last_tick}));
      w.field("dropped", d.dropped);
      dropped_total_ += d.dropped;
      w.field("from", ipc::format_clock({state_.started(), state_.pid(), d.first_tick}));
      w.field("to", ipc::format_clock({state_.started(), state_.pid(), d.last_tick}));
      w.end_object();
      c.conn.push(ipc::event_line(it->id, w.str()));
    }
  }
}

void ipc_server::publish(const daemon_event& e) {
  auto pe = std::make_shared<ipc::published_event>();
  pe->tick = e.tick;
  pe->kind = to_ipc(e.kind);
  pe->run = e.run;
  pe->previous_run = e.previous;
  pe->path = e.path;
  pe->pair = e.pair;
  pe->layer = e.layer ? static_cast<std::int64_t>(e.layer->index) : -1;
  pe->suspect = e.suspect_layer();
  pe->object = event_object(e, false);
  history_.append(pe);
  update_board(e);

  std::vector<std::uint64_t> touched;
  for (auto& [id, c] : clients_) {
    bool any = false;
    for (auto& s : c->subs) {
      if (!s.live) continue;  // catching up: pump() reads it from the history
      s.cursor = pe->tick;
      if (!s.filter.matches(*pe)) continue;
      std::string line = ipc::event_line(s.id, pe->object);
      if (pe->kind == ipc::event_kind::layer) {
        c->conn.push_droppable(std::move(line), s.stream,
                               coalesce_key(s.stream, pe->run, pe->layer), pe->tick);
      } else {
        c->conn.push(std::move(line));
      }
      any = true;
    }
    if (any) touched.push_back(id);
  }
  // Flush once per turn of the loop, not once per event: a burst of layers
  // published together goes out in a few sendmsg calls per client.
  dirty_.insert(touched.begin(), touched.end());
  if (!dirty_.empty() && !flush_posted_) {
    flush_posted_ = true;
    std::weak_ptr<bool> alive = alive_;
    loop_.post([this, alive] {
      if (auto a = alive.lock(); !a || !*a) return;
      flush_posted_ = false;
      std::vector<std::uint64_t> ids(dirty_.begin(), dirty_.end());
      dirty_.clear();
      for (auto id : ids) {
        if (client* c = find_client(id)) service(*c);
      }
    });
  }
}

std::expected<ipc_server::subscribe_outcome, ipc::protocol_error> ipc_server::subscribe(
    std::uint64_t client_id, const std::string& id_json, ipc::subscription_filter filter,
    const std::optional<std::string>& since) {
  client* c = find_client(client_id);
  if (c == nullptr) return std::unexpected(ipc::fail(ipc::error_code::internal, "client gone"));
  for (const auto& s : c->subs) {
    if (s.id == id_json) {
      return std::unexpected(
          ipc::fail(ipc::error_code::invalid_params,
                    "a subscription with id " + id_json + " is already open on this connection"));
    }
  }
  subscription s;
  s.stream = next_stream_++;
  s.id = id_json;
  s.filter = std::move(filter);
  s.cursor = history_.last_tick();
  bool fresh = true;
  if (since && *since == "now") {
    fresh = false;  // only events published from here on
  } else if (since) {
    auto clock = ipc::parse_clock(*since);
    if (!clock) {
      return std::unexpected(ipc::fail(
          ipc::error_code::invalid_params,
          "params.since: '" + *since + "' is not a clock (expected c:START:PID:TICK or now)"));
    }
    const bool ours = clock->start == state_.started() && clock->pid == state_.pid();
    if (ours && history_.covers(clock->tick)) {
      fresh = false;
      s.cursor = clock->tick;
    }
  }
  if (fresh) {
    auto lines = snapshot_lines(s);
    s.snapshot.assign(std::make_move_iterator(lines.begin()), std::make_move_iterator(lines.end()));
  }
  c->subs.push_back(std::move(s));
  return subscribe_outcome{state_.clock(), fresh};
}

bool ipc_server::unsubscribe(std::uint64_t client_id, const std::string& id_json) {
  client* c = find_client(client_id);
  if (c == nullptr) return false;
  auto it = std::find_if(c->subs.begin(), c->subs.end(),
                         [&](const subscription& s) { return s.id == id_json; });
  if (it == c->subs.end()) return false;
  c->conn.forget_stream(it->stream);
  c->subs.erase(it);
  return true;
}

std::vector<std::string> ipc_server::snapshot_lines(const subscription& s) const {
  std::vector<std::string> out;
  const std::string clock = state_.clock();
  std::set<std::uint64_t> current;
  for (const auto& [path, tf] : state_.files) {
    if (tf && tf->run != 0) current.insert(tf->run);
    if (tf) current.insert(tf->runs.begin(), tf->runs.end());  // one per pair of the file
  }
  for (std::uint64_t n : current) {
    auto it = state_.runs.find(n);
    if (it == state_.runs.end() || !it->second) continue;
    const run_info& r = *it->second;
    ipc::published_event probe;
    probe.run = r.id;
    probe.path = r.path;
    probe.pair = r.pair;
    probe.kind = ipc::event_kind::run_start;
    if (!s.filter.matches(probe)) continue;

    daemon_event e;
    e.clock = clock;
    e.tick = state_.tick();
    e.run = r.id;
    e.path = r.path;
    e.pair = r.pair;
    e.benchmark_run = r.benchmark_run;  // replayed run_start and run_end name it as live ones
    e.kind = event_kind::run_start;
    e.reason = "replay";
    out.push_back(ipc::event_line(s.id, event_object(e, true)));

    e.kind = event_kind::layer;
    e.first_bad = r.report.first_bad;
    e.diagnosis = r.report.diagnosis;
    for (const auto& l : r.report.layers) {
      const bool suspect = l.suspect || !l.error.empty();
      if (s.filter.suspect_only && !suspect) continue;
      e.layer = l;
      out.push_back(ipc::event_line(s.id, event_object(e, true)));
    }
    e.layer.reset();
    if (r.state != run_state::live) {
      e.kind = event_kind::run_end;
      e.reason = r.end_reason;
      e.layers = r.report.layers.size();
      e.suspect = r.suspect_count();
      if (!r.pair.empty()) e.coverage = r.report.coverage;
      e.advice = r.report.advice;
      e.warnings = r.report.warnings;
      out.push_back(ipc::event_line(s.id, event_object(e, true)));
    }
  }
  return out;
}

}  // namespace sigdump::daemon
