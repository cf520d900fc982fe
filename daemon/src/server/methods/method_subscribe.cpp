// subscribe: stream events matching a filter, replaying what a reconnecting
// client missed (since) or the current state whole (fresh_instance).
#include "server/ipc_lookup.h"
#include "server/ipc_server.h"
#include "server/methods/methods.h"
#include "sigdump/json_util.h"

namespace sigdump::daemon {

method_result method_subscribe(method_context& ctx) {
  ipc::subscription_filter f;
  auto pair = ctx.params.get_string("pair");
  if (!pair) return std::unexpected(pair.error());
  auto path = ctx.params.get_string("path");
  if (!path) return std::unexpected(path.error());
  auto run = ctx.params.get_string("run");
  if (!run) return std::unexpected(run.error());
  auto suspect = ctx.params.get_bool("suspect_only");
  if (!suspect) return std::unexpected(suspect.error());
  auto since = ctx.params.get_string("since");
  if (!since) return std::unexpected(since.error());
  // A name that does not exist would match nothing, forever.
  if (*pair && ctx.state.find_pair(**pair) == nullptr) {
    return std::unexpected(unknown_pair(ctx.state, **pair));
  }
  if (*run && !ctx.state.find_run(**run)) return std::unexpected(unknown_run(ctx.state, **run));
  f.pair = *pair;
  if (*path) f.path = normalize_path(**path);
  f.run = *run;
  f.suspect_only = suspect->value_or(false);
  auto r = ctx.server.subscribe(ctx.client, ctx.request.id, std::move(f), *since);
  if (!r) return std::unexpected(r.error());
  json_writer w;
  w.begin_object();
  w.field("clock", r->clock);
  w.field("fresh_instance", r->fresh_instance);
  w.end_object();
  return w.take();
}

}  // namespace sigdump::daemon
