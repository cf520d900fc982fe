// The socket server's requests: a client's lines read and handed to the
// method registry, replies queued in request order (a deferred one holds
// the client's later requests until complete() answers it), and the
// server's worker for work a method moves off the loop.
#include <exception>
#include <functional>

#include "server/ipc_server.h"

namespace sigdump::daemon {

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

}  // namespace sigdump::daemon
