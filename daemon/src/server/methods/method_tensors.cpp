// tensors: the records of one run's file, filtered and paged.
#include "server/ipc_lookup.h"
#include "server/methods/methods.h"
#include "sigdump/json_util.h"

namespace sigdump::daemon {

method_result method_tensors(method_context& ctx) {
  auto match = ctx.params.get_string("match");
  if (!match) return std::unexpected(match.error());
  auto kind = ctx.params.get_string("kind");
  if (!kind) return std::unexpected(kind.error());
  if (*kind && **kind != "out" && **kind != "in") {
    return std::unexpected(
        ipc::fail(ipc::error_code::invalid_params,
                  "params.kind: expected \"out\" or \"in\", got \"" + **kind + "\""));
  }
  auto offset = ctx.params.get_int("offset", 0, INT64_MAX);
  if (!offset) return std::unexpected(offset.error());
  auto limit = ctx.params.get_int("limit", 0, 1'000'000);
  if (!limit) return std::unexpected(limit.error());
  auto target = resolve_target(ctx.state, ctx.params);
  if (!target) return std::unexpected(target.error());

  const auto& records = target->file->file->records();
  const auto first = static_cast<std::uint64_t>(offset->value_or(0));
  const auto max = static_cast<std::uint64_t>(limit->value_or(1000));
  std::uint64_t total = 0, written = 0;
  json_writer w;
  w.begin_object();
  if (target->run) {
    w.field("run", target->run->id);
  } else {
    w.field_null("run");
  }
  w.field("path", target->file->path);
  w.field("source", target->source);
  w.key("tensors").begin_array();
  for (const auto& r : records) {
    if (*match && r.name.find(**match) == std::string::npos) continue;
    if (*kind && (r.kind == record_kind::out) != (**kind == "out")) continue;
    if (total >= first && written < max) {
      write_record(w, r);
      ++written;
    }
    ++total;
  }
  w.end_array();
  w.field("total", total);
  w.end_object();
  return w.take();
}

}  // namespace sigdump::daemon
