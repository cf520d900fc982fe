// hello: who the daemon is and what it can do.
#include "server/ipc_server.h"
#include "server/methods/methods.h"
#include "sigdump/json_util.h"
#include "sigdump/version.h"

namespace sigdump::daemon {

method_result method_hello(method_context& ctx) {
  if (auto client = ctx.params.get_string("client"); !client)
    return std::unexpected(client.error());
  if (auto p = ctx.params.get_int("protocol", 0, 1'000'000); !p) return std::unexpected(p.error());
  json_writer w;
  w.begin_object();
  w.field("server", "sigdumpd");
  w.field("version", version_string);
  // A client speaking a newer protocol gets ours and adapts or leaves.
  w.field("protocol", ipc::protocol_version);
  w.field("pid", static_cast<std::int64_t>(ctx.state.pid()));
  w.field("clock", ctx.state.clock());
  w.field("event_loop", ctx.server.loop().name());
  w.key("capabilities").begin_array();
  for (const char* c : {"subscribe", "since", "tensor_slice", "compare"}) w.value(c);
  if (!ctx.server.board_name().empty()) w.value("status_board");
  w.end_array();
  w.end_object();
  return w.take();
}

}  // namespace sigdump::daemon
