// The socket server: accepting, reading requests, answering them (the
// methods are in methods/), and fanning events out to subscribers through
// each client's bounded queue. Loop thread only (work off it goes through
// run_off_loop). Over 600 lines because a connection's life (read,
// service, pump, flush, overload, close) and the fan-out share those
// queues and their backpressure rules; they are kept side by side.
#include "server/ipc_server.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <set>
#include <string_view>

#include "platform/log.h"
#include "sigdump/ipc/clock.h"
#include "sigdump/ipc/socket_path.h"
#include "sigdump/json_util.h"

namespace sigdump::daemon {

namespace {

using steady = std::chrono::steady_clock;

// How long an overloaded client has to read its final `overloaded` line.
constexpr std::chrono::seconds overload_grace{10};

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

// The path a systemd-activated socket is bound to, for messages.
std::string bound_path(int fd) {
  sockaddr_un addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      addr.sun_family != AF_UNIX || len <= sizeof(sa_family_t)) {
    return "(activated socket)";
  }
  return std::string(addr.sun_path, ::strnlen(addr.sun_path, sizeof addr.sun_path));
}

ipc::board_state board_state_of(run_state s) noexcept {
  switch (s) {
    case run_state::live: return ipc::board_state::live;
    case run_state::ended: return ipc::board_state::ended;
    case run_state::reset: return ipc::board_state::reset;
  }
  return ipc::board_state::ended;
}

}  // namespace

result<ipc_limits> ipc_limits::parse(std::string_view text) {
  static constexpr const char* names[8] = {"soft_msgs", "soft_bytes", "hard_msgs", "hard_bytes",
                                           "idle_ms",   "stall_ms",   "sndbuf",    "history"};
  const auto bad = [&](const std::string& why) {
    return make_error(errc::usage, {}, no_record, no_offset,
                      "SIGDUMP_IPC_TEST_LIMITS='" + std::string(text) + "': " + why);
  };
  ipc_limits l;
  std::uint64_t fields[8] = {};
  bool set[8] = {};
  std::string_view s = text;
  for (int i = 0;; ++i) {
    if (i == 8) return bad("more than 8 fields");
    const auto colon = s.find(':');
    const std::string_view part = s.substr(0, colon);
    if (!part.empty()) {
      std::uint64_t v = 0;
      auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
      if (ec != std::errc{} || end != part.data() + part.size()) {
        return bad(std::string(names[i]) + " is not a whole number");
      }
      fields[i] = v;
      set[i] = true;
    }
    if (colon == std::string_view::npos) break;
    s.remove_prefix(colon + 1);
  }
  for (int i : {0, 1, 2, 3, 7}) {
    if (set[i] && fields[i] == 0) return bad(std::string(names[i]) + " must be at least 1");
  }
  if (set[0]) l.queue.soft_messages = fields[0];
  if (set[1]) l.queue.soft_bytes = fields[1];
  if (set[2]) l.queue.hard_messages = fields[2];
  if (set[3]) l.queue.hard_bytes = fields[3];
  if (set[4]) l.idle = std::chrono::milliseconds(std::min<std::uint64_t>(fields[4], 1ull << 40));
  if (set[5]) l.stall = std::chrono::milliseconds(std::min<std::uint64_t>(fields[5], 1ull << 40));
  if (set[6]) {
    if (fields[6] > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
      return bad("sndbuf is larger than a socket buffer can be");
    }
    l.sndbuf = static_cast<int>(fields[6]);
  }
  if (set[7]) l.history = fields[7];
  if (l.queue.soft_messages > l.queue.hard_messages) return bad("soft_msgs is above hard_msgs");
  if (l.queue.soft_bytes > l.queue.hard_bytes) return bad("soft_bytes is above hard_bytes");
  return l;
}

ipc_limits ipc_limits::from_environment() {
  const char* env = std::getenv("SIGDUMP_IPC_TEST_LIMITS");
  if (env == nullptr || *env == '\0') return ipc_limits{};
  auto parsed = parse(env);
  if (!parsed) {
    log(log_level::err, parsed.error().describe() + "; using the default limits");
    return ipc_limits{};
  }
  // A test hook: say so, so a stray variable in a service's environment
  // shows in its log.
  log(log_level::notice, std::string("SIGDUMP_IPC_TEST_LIMITS in effect: ") + env);
  return *parsed;
}

result<std::unique_ptr<ipc_service>> start_ipc(event_loop& loop, daemon_state& state,
                                               const daemon_options& options, int activated_fd) {
  auto s = ipc_server::start(loop, state, options, activated_fd, ipc_limits::from_environment());
  if (!s) return std::unexpected(s.error());
  return std::unique_ptr<ipc_service>(std::move(*s));
}

result<std::unique_ptr<ipc_server>> ipc_server::start(event_loop& loop, daemon_state& state,
                                                      const daemon_options& options,
                                                      int activated_fd, ipc_limits limits) {
  result<ipc::unix_listener> listener = std::unexpected(error{});
  if (activated_fd >= 0) {
    listener = ipc::unix_listener::adopt(activated_fd, bound_path(activated_fd));
  } else {
    const std::string path = options.socket.empty() ? ipc::default_socket_path() : options.socket;
    if (auto r = ipc::ensure_socket_dir(path); !r) return std::unexpected(r.error());
    listener = ipc::unix_listener::bind(path);
  }
  if (!listener) return std::unexpected(listener.error());
  std::unique_ptr<ipc_server> s(new ipc_server(loop, state, options, std::move(*listener), limits));
  log(log_level::info, "listening on " + s->socket_path() +
                           (s->listener_.activated() ? " (socket activation)" : ""));
  return s;
}

ipc_server::ipc_server(event_loop& loop, daemon_state& state, const daemon_options& options,
                       ipc::unix_listener listener, ipc_limits limits)
    : loop_(loop),
      state_(state),
      allow_uids_(options.allow_uids),
      listener_(std::move(listener)),
      limits_(limits),
      history_(limits.history, static_cast<std::size_t>(options.history_max_bytes)),
      worker_(std::make_unique<worker_pool>(1)) {
  // Events published before we started are not in our history: a clock
  // from then gets fresh_instance.
  history_.reset(state_.tick());
  listener_watch_ =
      loop_.watch_fd(listener_.fd(), true, false, [this](bool, bool, bool) { on_accept(); });
  tick_timer_ = loop_.add_timer(std::chrono::milliseconds(1000), true, [this] { on_tick(); });
  init_board();
  state_.add_sink(this);
}

ipc_server::~ipc_server() {
  state_.remove_sink(this);
  *alive_ = false;
  // Finish (and drop) work in flight before the members it uses go away.
  worker_->shutdown();
  loop_.cancel_timer(tick_timer_);
  if (accept_retry_ != 0) loop_.cancel_timer(accept_retry_);
  loop_.unwatch(listener_watch_);
  for (auto& [id, c] : clients_) loop_.unwatch(c->watch);
  clients_.clear();
}

void ipc_server::reloaded(const daemon_options& options) {
  allow_uids_ = options.allow_uids;
  history_.set_max_bytes(static_cast<std::size_t>(options.history_max_bytes));
}

bool ipc_server::allowed(uid_t uid) const {
  return uid == ::geteuid() ||
         std::find(allow_uids_.begin(), allow_uids_.end(), uid) != allow_uids_.end();
}

ipc_server::client* ipc_server::find_client(std::uint64_t id) {
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second.get();
}

void ipc_server::on_accept() {
  for (int i = 0; i < 64; ++i) {
    auto a = listener_.accept();
    if (!a) {
      // EMFILE and kin: stop accepting for a moment rather than spin.
      log(log_level::warning, "accept failed: " + a.error().describe());
      loop_.modify(listener_watch_, false, false);
      accept_retry_ = loop_.add_timer(std::chrono::milliseconds(200), false, [this] {
        accept_retry_ = 0;
        loop_.modify(listener_watch_, true, false);
      });
      return;
    }
    if (!a->has_value()) return;
    auto& acc = **a;
    if (!allowed(acc.peer.uid)) {
      const std::string line =
          ipc::error_line("null", ipc::error_code::forbidden,
                          "uid " + std::to_string(acc.peer.uid) +
                              " may not use this daemon (allow_uids in the configuration)");
      (void)::send(acc.fd.get(), line.data(), line.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      log(log_level::notice, "refused a client of uid " + std::to_string(acc.peer.uid) + " (pid " +
                                 std::to_string(acc.peer.pid) + ")");
      continue;  // acc.fd closes
    }
    if (limits_.sndbuf > 0) {
      ::setsockopt(acc.fd.get(), SOL_SOCKET, SO_SNDBUF, &limits_.sndbuf, sizeof limits_.sndbuf);
    }
    const std::uint64_t id = next_client_++;
    auto c = std::make_unique<client>(id, std::move(acc.fd), limits_.queue);
    c->peer = acc.peer;
    c->watch = loop_.watch_fd(c->conn.fd(), true, false,
                              [this, id](bool r, bool w, bool h) { on_client(id, r, w, h); });
    clients_.emplace(id, std::move(c));
  }
}

void ipc_server::on_client(std::uint64_t id, bool readable, bool writable, bool hangup) {
  client* c = find_client(id);
  if (c == nullptr) return;
  (void)writable;
  if (readable || hangup) {
    if (c->conn.fill() == ipc::connection::fill_status::error) {
      close_client(id);
      return;
    }
  }
  // POLLHUP on a stream socket: the peer closed both directions. Answer
  // what it sent (a write may still fail), then close.
  if (hangup && !readable) c->closing = true;
  service(*c);
}

void ipc_server::process_lines(client& c) {
  std::string line;
  while (!c.busy && !c.closing && !c.conn.overloaded() && !c.conn.over_soft_limit()) {
    const auto st = c.conn.next_line(line);
    if (st == ipc::connection::line_status::none) return;
    if (st == ipc::connection::line_status::too_long) {
      c.conn.push(ipc::error_line("null", ipc::error_code::line_too_long,
                                  "request line exceeds " +
                                      std::to_string(c.conn.limits().max_line) +
                                      " bytes; closing the connection"));
      c.closing = true;
      return;
    }
    handle_line(c, line);
  }
}

void ipc_server::handle_line(client& c, const std::string& line) {
  auto req = parser_.parse(line);
  if (!req) {
    c.conn.push(ipc::error_line(req.error().id, req.error().error));
    if (req.error().error.code == ipc::error_code::line_too_long) c.closing = true;
    return;
  }
  const method_handler* handler = find_method(req->method);
  if (handler == nullptr) {
    std::string msg = "unknown method '";
    msg += req->method;
    msg += '\'';
    c.conn.push(ipc::error_line(req->id, ipc::error_code::unknown_method, msg));
    return;
  }
  ipc::params_reader params(req->params);
  method_context ctx{*this, state_, c.id, c.peer, *req, params};
  method_result r;
  try {
    r = (*handler)(ctx);
  } catch (const std::exception& e) {
    r = std::unexpected(ipc::fail(ipc::error_code::internal,
                                  std::string("method '") + req->method + "' failed: " + e.what()));
  }
  // The handler may have closed nothing, but it may have touched clients_:
  // c stays valid because only close_client erases, and handlers never do.
  if (!r) {
    c.conn.push(ipc::error_line(req->id, r.error()));
  } else if (*r) {
    c.conn.push(ipc::result_line(req->id, **r));
  } else {
    c.busy = true;  // replies stay in request order: read nothing more until it is answered
  }
}

void ipc_server::complete(std::uint64_t client_id, const std::string& id, const method_result& r) {
  client* c = find_client(client_id);
  if (c == nullptr) return;
  c->busy = false;
  if (!r) {
    c->conn.push(ipc::error_line(id, r.error()));
  } else {
    c->conn.push(ipc::result_line(id, r->value_or("{}")));
  }
  service(*c);
}

void ipc_server::run_off_loop(std::function<std::function<void()>()> job) {
  // Only the loop thread looks at `alive`: the destructor (on the loop
  // thread) joins the worker before the server's members go away, and a
  // continuation posted after that finds the weak pointer expired.
  std::weak_ptr<bool> alive = alive_;
  event_loop* loop = &loop_;
  worker_->submit([job = std::move(job), alive, loop] {
    std::function<void()> then = job();
    loop->post([then = std::move(then), alive] {
      if (auto a = alive.lock(); a && *a && then) then();
    });
  });
}

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

void ipc_server::service(client& c) {
  const std::uint64_t id = c.id;
  bool more = false;
  for (int round = 0; round < 8; ++round) {
    process_lines(c);
    pump(c);
    const auto st = c.conn.flush();
    if (st == ipc::connection::flush_status::error) {
      close_client(id);
      return;
    }
    if (c.conn.overloaded()) {
      // The queue was cut to one `overloaded` error line. The socket's buffer
      // is usually full (the client stopped reading), so the line waits for
      // the client to read again, up to overload_grace, and then it is
      // closed: a client that comes back learns why its stream ended.
      if (!c.overloaded_at) {
        log(log_level::notice, "client pid " + std::to_string(c.peer.pid) +
                                   " overloaded (does not read its events); disconnecting");
        ++overloaded_total_;
        c.overloaded_at = steady::now();
        c.closing = true;
        c.subs.clear();
      }
      if (!c.conn.has_output()) {
        close_client(id);
        return;
      }
      break;
    }
    more = false;
    if (st == ipc::connection::flush_status::blocked) break;
    const bool lines = c.conn.has_buffered_line() && !c.busy && !c.closing;
    const bool catchup =
        c.conn.has_drops() ||
        std::any_of(c.subs.begin(), c.subs.end(), [](const subscription& s) { return !s.live; });
    more = lines || catchup;
    if (!more) break;
  }
  if (c.closing && !c.conn.has_output()) {
    close_client(id);
    return;
  }
  // A peer that shut its sending side and has nothing left to get.
  if (!c.conn.wants_read() && !c.conn.over_soft_limit() && !c.conn.has_output() && !c.busy &&
      c.subs.empty() && !c.conn.has_buffered_line() && !c.conn.overloaded()) {
    // wants_read() is false here only because the peer closed its side
    // (or sent a too-long line, which set closing above).
    close_client(id);
    return;
  }
  const bool want_read = c.conn.wants_read() && !c.busy && !c.closing;
  const bool want_write = c.conn.wants_write();
  if (want_read != c.want_read || want_write != c.want_write) {
    c.want_read = want_read;
    c.want_write = want_write;
    loop_.modify(c.watch, want_read, want_write);
  }
  if (more) {
    // Fairness: leave the rest for a later turn of the loop.
    std::weak_ptr<bool> alive = alive_;
    loop_.post([this, alive, id] {
      if (auto a = alive.lock(); !a || !*a) return;
      if (client* again = find_client(id)) service(*again);
    });
  }
}

void ipc_server::close_client(std::uint64_t id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  loop_.unwatch(it->second->watch);
  clients_.erase(it);
}

void ipc_server::on_tick() {
  const auto now = steady::now();
  std::vector<std::uint64_t> to_service;
  std::vector<std::uint64_t> to_close;
  for (auto& [id, c] : clients_) {
    if (c->overloaded_at) {
      if (now - *c->overloaded_at > overload_grace) to_close.push_back(id);
    } else if (c->conn.over_soft_limit() && now - c->conn.last_write_progress() > limits_.stall) {
      c->conn.overload("the client has not read for " +
                       std::to_string(limits_.stall.count() / 1000) + " s while its queue is full");
      to_service.push_back(id);
    } else if (c->subs.empty() && !c->busy && !c->conn.has_output() &&
               now - c->conn.last_read() > limits_.idle) {
      to_close.push_back(id);
    }
  }
  for (auto id : to_close) close_client(id);
  for (auto id : to_service) {
    if (client* c = find_client(id)) service(*c);
  }
}

ipc_health ipc_server::health() const {
  ipc_health h;
  h.clients = clients_.size();
  for (const auto& [id, c] : clients_) h.subscriptions += c->subs.size();
  h.dropped_events = dropped_total_;
  h.overloaded = overloaded_total_;
  return h;
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
