// unsubscribe: ends one subscription of this connection.
#include "server/ipc_server.h"
#include "server/methods/methods.h"

namespace sigdump::daemon {

method_result method_unsubscribe(method_context& ctx) {
  auto id = ctx.params.get_id("subscription");
  if (!id) return std::unexpected(id.error());
  if (!*id) {
    return std::unexpected(
        ipc::fail(ipc::error_code::invalid_params, "params.subscription is required"));
  }
  if (!ctx.server.unsubscribe(ctx.client, **id)) {
    return std::unexpected(ipc::fail(ipc::error_code::not_found,
                                     "no subscription with id " + **id + " on this connection"));
  }
  return std::string("{}");
}

}  // namespace sigdump::daemon
