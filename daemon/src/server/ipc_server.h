// The socket server: accepts clients on the daemon's event loop, frames and
// dispatches their requests to the method registry, and streams published
// events (clocked, kept in a bounded history) to subscribers with per-client
// backpressure. Everything runs on the loop thread except work a method
// moves to the server's worker with run_off_loop().
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/daemon_options.h"
#include "platform/event_loop.h"
#include "platform/worker_pool.h"
#include "server/ipc_methods.h"
#include "server/ipc_seam.h"
#include "sigdump/ipc/connection.h"
#include "sigdump/ipc/event_history.h"
#include "sigdump/ipc/listener.h"
#include "sigdump/ipc/protocol.h"
#include "sigdump/ipc/status_board.h"
#include "state/daemon_event.h"
#include "state/daemon_state.h"

namespace sigdump::daemon {

/* Limits of the server; the defaults are docs/protocol.md's. */
struct ipc_limits {
  ipc::queue_limits queue;
  std::chrono::milliseconds idle{300'000};  // no request and no subscription: closed
  std::chrono::milliseconds stall{60'000};  // queue over the soft limit, no write progress
  int sndbuf = 0;                           // SO_SNDBUF of client sockets (0: kernel default)
  std::size_t history = ipc::event_history::default_capacity;

  /* Defaults, overridden by $SIGDUMP_IPC_TEST_LIMITS
     ("soft_msgs:soft_bytes:hard_msgs:hard_bytes:idle_ms:stall_ms:sndbuf:history",
     empty fields keep the default) so tests can reach the limits quickly.
     An invalid value is logged and the defaults are kept. */
  static ipc_limits from_environment();
  /* That variable's value, validated: whole numbers, queue caps and history
     at least 1, soft caps not above hard ones, sndbuf within an int. */
  static result<ipc_limits> parse(std::string_view text);
};

class ipc_server final : public ipc_service, public event_sink {
 public:
  /* Binds (or adopts activated_fd), creates the status board, registers as
     a sink on state and starts accepting. */
  static result<std::unique_ptr<ipc_server>> start(event_loop& loop, daemon_state& state,
                                                   const daemon_options& options, int activated_fd,
                                                   ipc_limits limits);
  ~ipc_server() override;
  ipc_server(const ipc_server&) = delete;
  ipc_server& operator=(const ipc_server&) = delete;

  void reloaded(const daemon_options& options) override;
  void publish(const daemon_event& e) override;
  /* Keeps the status board's slot of r's pair in step with the model. */
  void run_changed(const run_info& r) override;
  ipc_health health() const override;
  std::string socket_name() const override { return socket_path(); }

  daemon_state& state() noexcept { return state_; }
  event_loop& loop() noexcept { return loop_; }
  const std::string& socket_path() const noexcept { return listener_.path(); }
  /* The status board's shared-memory name; empty when there is none. */
  const std::string& board_name() const noexcept { return board_name_; }
  std::size_t client_count() const noexcept { return clients_.size(); }

  /* Runs job on the server's worker thread, then the continuation it
     returns on the loop thread (dropped if the server is gone by then). */
  void run_off_loop(std::function<std::function<void()>()> job);

  /* Answers a request a handler deferred; resumes reading the client's
     requests. Nothing happens when the client has left. */
  void complete(std::uint64_t client, const std::string& id, const method_result& r);

  struct subscribe_outcome {
    std::string clock;
    bool fresh_instance = false;
  };
  /* Opens a subscription tagged id_json on client: replay after `since`
     when the history has it, else the current state whole. The events
     follow the subscribe reply. invalid_params for a malformed clock or a
     duplicate id. */
  std::expected<subscribe_outcome, ipc::protocol_error> subscribe(
      std::uint64_t client, const std::string& id_json, ipc::subscription_filter filter,
      const std::optional<std::string>& since);
  /* Ends the subscription tagged id_json; false when there is none. */
  bool unsubscribe(std::uint64_t client, const std::string& id_json);

 private:
  struct subscription {
    std::uint32_t stream = 0;
    std::string id;  // JSON text of the subscribe request's id
    ipc::subscription_filter filter;
    std::deque<std::string> snapshot;  // state lines still to queue (fresh_instance)
    std::uint64_t cursor = 0;          // last tick queued or skipped
    bool live = false;                 // caught up: publish() queues directly
  };
  struct client {
    std::uint64_t id = 0;
    ipc::connection conn;
    ipc::peer_credentials peer;
    watch_id watch = 0;
    bool want_read = true, want_write = false;
    bool busy = false;     // a deferred request is outstanding
    bool closing = false;  // close once the queue is flushed
    // Set when the queue passed its hard cap: the `overloaded` line is still
    // being delivered (closed once written, or after overload_grace).
    std::optional<std::chrono::steady_clock::time_point> overloaded_at;
    std::vector<subscription> subs;
    client(std::uint64_t i, ipc::unique_fd fd, const ipc::queue_limits& q)
        : id(i), conn(std::move(fd), q) {}
  };

  ipc_server(event_loop& loop, daemon_state& state, const daemon_options& options,
             ipc::unix_listener listener, ipc_limits limits);
  void on_accept();
  void on_client(std::uint64_t id, bool readable, bool writable, bool hangup);
  void process_lines(client& c);
  void handle_line(client& c, const std::string& line);
  void pump(client& c);
  void service(client& c);  // pump, flush, interest, maybe close
  void close_client(std::uint64_t id);
  void on_tick();
  void update_board(const daemon_event& e);
  void update_board_pair(const pair_info& p, bool all_layers);
  void update_board_layer(const pair_info& p, const layer_result& l);
  void init_board();
  bool allowed(uid_t uid) const;
  std::vector<std::string> snapshot_lines(const subscription& s) const;
  client* find_client(std::uint64_t id);

  event_loop& loop_;
  daemon_state& state_;
  std::vector<uid_t> allow_uids_;
  ipc::unix_listener listener_;
  ipc_limits limits_;
  watch_id listener_watch_ = 0;
  timer_id tick_timer_ = 0;
  timer_id accept_retry_ = 0;
  ipc::event_history history_;
  ipc::request_parser parser_;
  std::map<std::uint64_t, std::unique_ptr<client>> clients_;
  std::uint64_t next_client_ = 1;
  std::uint32_t next_stream_ = 1;
  std::set<std::uint64_t> dirty_;  // clients with events queued since the last flush
  bool flush_posted_ = false;
  std::optional<ipc::board_writer> board_;
  std::string board_name_;
  std::set<std::string> board_pairs_;  // pairs that have a slot on the board
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::uint64_t dropped_total_ = 0;      // sum of the "dropped" of every gap sent
  std::uint64_t overloaded_total_ = 0;   // clients disconnected as overloaded
  std::unique_ptr<worker_pool> worker_;  // last: joined first on destruction
};

}  // namespace sigdump::daemon
