// runs: every run known (live, ended, read back from the state folder),
// newest first.
#include "server/ipc_lookup.h"
#include "server/methods/methods.h"
#include "sigdump/json_util.h"

namespace sigdump::daemon {

method_result method_runs(method_context& ctx) {
  auto pair = ctx.params.get_string("pair");
  if (!pair) return std::unexpected(pair.error());
  auto path = ctx.params.get_string("path");
  if (!path) return std::unexpected(path.error());
  auto limit = ctx.params.get_int("limit", 1, 1'000'000);
  if (!limit) return std::unexpected(limit.error());
  if (*pair && ctx.state.find_pair(**pair) == nullptr) {
    return std::unexpected(unknown_pair(ctx.state, **pair));
  }
  const std::string norm = *path ? normalize_path(**path) : std::string();
  const auto max = static_cast<std::uint64_t>(limit->value_or(1'000'000));
  std::uint64_t n = 0;
  json_writer w;
  w.begin_object();
  w.key("runs").begin_array();
  for (auto it = ctx.state.runs.rbegin(); it != ctx.state.runs.rend() && n < max; ++it) {
    const auto& r = it->second;
    if (!r) continue;
    if (*pair && r->pair != **pair) continue;
    if (*path && r->path != norm) continue;
    write_run(w, *r, ctx.state);
    ++n;
  }
  w.end_array();
  w.end_object();
  return w.take();
}

}  // namespace sigdump::daemon
