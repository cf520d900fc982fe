// unsubscribe: ends one subscription of this connection.
#include "server/ipc_methods.h"
#include "server/ipc_server.h"

namespace sigdump::daemon {
namespace {

method_result unsubscribe(method_context& ctx) {
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

const method_registrar reg{"unsubscribe", unsubscribe};

}  // namespace
}  // namespace sigdump::daemon
