// The socket server's connections: binding or adopting the socket,
// accepting clients (refusing other uids), and each connection's life:
// reading, servicing (requests, the subscription pump, flushing, read and
// write interest), overload, idle and stall timeouts, closing. Loop thread
// only. Requests are dispatched in ipc_dispatch.cpp, events fanned out in
// ipc_subscriptions.cpp, the status board kept in ipc_board.cpp, the limits
// parsed in ipc_limits.cpp.
#include "server/ipc_server.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "platform/log.h"
#include "sigdump/ipc/socket_path.h"

namespace sigdump::daemon {

namespace {

using steady = std::chrono::steady_clock;

// How long an overloaded client has to read its final `overloaded` line.
constexpr std::chrono::seconds overload_grace{10};

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

}  // namespace

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
      worker_(std::make_unique<worker_pool>(1, "ipc-worker")) {
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

}  // namespace sigdump::daemon
