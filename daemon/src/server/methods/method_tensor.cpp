// tensor: one record by name: header, statistics, metrics against its pair,
// an optional slice of values, and a locator to map the bytes directly.
#include <algorithm>
#include <climits>
#include <optional>
#include <utility>
#include <vector>

#include "server/ipc_lookup.h"
#include "server/ipc_server.h"
#include "server/methods/methods.h"
#include "server/methods/tensor_channels.h"
#include "sigdump/compare.h"
#include "sigdump/json_util.h"
#include "sigdump/record_index.h"
#include "sigdump/record_json.h"
#include "sigdump/report/report_json.h"
#include "sigdump/tensor.h"

namespace sigdump::daemon {
namespace {

constexpr std::int64_t max_values = 65536;

struct stats_job {
  const tensor_view* view;
  tensor_stats out;
};
struct values_job {
  const tensor_view* view;
  std::uint64_t first;
  std::vector<double>* out;
};

std::unexpected<ipc::protocol_error> unavailable(std::string msg) {
  return std::unexpected(ipc::fail(ipc::error_code::unavailable, std::move(msg)));
}

}  // namespace

method_result method_tensor(method_context& ctx) {
  auto name = ctx.params.get_string("name");
  if (!name) return std::unexpected(name.error());
  if (!*name) {
    return std::unexpected(ipc::fail(ipc::error_code::invalid_params, "params.name is required"));
  }
  auto occurrence = ctx.params.get_int("occurrence", 0, INT32_MAX);
  if (!occurrence) return std::unexpected(occurrence.error());
  auto range = ctx.params.get_range("values");
  if (!range) return std::unexpected(range.error());
  auto channels = ctx.params.get_bool("channels");
  if (!channels) return std::unexpected(channels.error());
  auto target = resolve_tensor_target(ctx.state, ctx.params, **name);
  if (!target) return std::unexpected(target.error());

  const dump_file& df = *target->file->file;
  const auto& records = df.records();
  auto matches = find_tensor(df, **name);
  const std::string where = (target->run ? target->run->id + " (" + df.path() + ")" : df.path());
  ipc_server* server = &ctx.server;
  const std::uint64_t client = ctx.client;
  const std::string id = ctx.request.id;
  if (matches.empty()) {
    // The closest-name scan measures every name of the dump: on the
    // server's worker, over a copy of the names.
    std::vector<std::string> names;
    names.reserve(records.size());
    for (const record& r : records) names.push_back(r.name);
    server->run_off_loop([server, client, id, names = std::move(names), name = **name,
                          where]() -> std::function<void()> {
      std::string msg = "no tensor named '" + name + "' in " + where;
      auto close = closest_names(names, name, 5);
      if (!close.empty()) {
        msg += "; did you mean: ";
        for (std::size_t i = 0; i < close.size(); ++i) msg += (i ? ", " : "") + close[i];
      }
      method_result res = std::unexpected(ipc::fail(ipc::error_code::not_found, msg));
      return [server, client, id, res = std::move(res)] { server->complete(client, id, res); };
    });
    return deferred_reply();
  }
  std::uint32_t index = matches.back();
  if (*occurrence) {
    if (static_cast<std::size_t>(**occurrence) >= matches.size()) {
      return std::unexpected(ipc::fail(ipc::error_code::not_found,
                                       "'" + **name + "' has " + std::to_string(matches.size()) +
                                           " records in " + where + "; occurrence " +
                                           std::to_string(**occurrence) + " does not exist"));
    }
    index = matches[static_cast<std::size_t>(**occurrence)];
  } else {
    // The last output record of that name (a layer's result), else the last one.
    for (auto it = matches.rbegin(); it != matches.rend(); ++it) {
      if (records[*it].kind == record_kind::out) {
        index = *it;
        break;
      }
    }
  }
  const record& rec = records[index];

  result<tensor_view> view = std::unexpected(error{});
  if (rec.ok()) view = df.view(index);
  if ((!rec.ok() || !view) && range->has_value()) {
    return unavailable("record " + std::to_string(index) + " (" + rec.name +
                       ") cannot be read: " + (rec.ok() ? view.error().describe() : rec.problem));
  }
  // The file may have shrunk since it was parsed: check the pages first
  // (the payload's last byte: a file is cut from its end), and keep the
  // SIGBUS guard as the last line of defence.
  if (view && view->owner && rec.payload_bytes > 0 &&
      !view->owner->probe(rec.payload_offset + rec.payload_bytes - 1, 1)) {
    return unavailable(df.path() + " shrank under record " + std::to_string(index) + " (" +
                       rec.name + "); it is being rewritten");
  }
  std::optional<std::pair<std::int64_t, std::int64_t>> slice;
  if (range->has_value() && view) {
    const auto [lo, hi_req] = **range;
    const auto n = static_cast<std::int64_t>(view->elements);
    if (lo >= n && !(lo == 0 && n == 0)) {
      return std::unexpected(
          ipc::fail(ipc::error_code::invalid_params, "params.values: first " + std::to_string(lo) +
                                                         " is past the tensor's " +
                                                         std::to_string(n) + " elements"));
    }
    if (hi_req - lo > max_values) {
      return std::unexpected(ipc::fail(ipc::error_code::invalid_params,
                                       "params.values: at most " + std::to_string(max_values) +
                                           " values per request, asked for " +
                                           std::to_string(hi_req - lo)));
    }
    slice = std::pair{lo, std::min(hi_req, n)};  // [first, last) clipped to the tensor
  }

  // What only the loop may read: the run's metrics of this record, and the
  // per-channel evidence against its benchmark record on request.
  const layer_result* layer = nullptr;
  if (target->run) {
    for (const auto& l : target->run->report.layers) {
      if (l.sample_record == index) {
        layer = &l;
        break;
      }
    }
  }
  std::string metrics = layer != nullptr ? layer_json(*layer) : "null";
  std::string evidence = "null";
  if (channels->value_or(false) && layer != nullptr && view) {
    evidence = tensor_channels_json(ctx.state, *target->run, *layer, *view, ctx.peer);
  }

  // The values are read on the server's worker (statistics over the whole
  // record, the slice asked for): the view keeps the mapping it was made
  // from alive, so the file is not held from being refreshed meanwhile.
  std::optional<tensor_view> values;
  if (view) values = std::move(*view);
  server->run_off_loop([server, client, id, run = target->run ? target->run->id : std::string(),
                        pair = target->run ? target->run->pair : std::string(), path = df.path(),
                        source = std::string(target->source), rec,
                        binary = df.variant() == dump_variant::binary, values = std::move(values),
                        slice, metrics = std::move(metrics),
                        evidence = std::move(evidence)]() -> std::function<void()> {
    auto reply = [&]() -> method_result {
      json_writer w;
      w.begin_object();
      if (!run.empty()) {
        w.field("run", run);
      } else {
        w.field_null("run");
      }
      w.field("path", path);
      if (!pair.empty()) {
        w.field("pair", pair);
      } else {
        w.field_null("pair");
      }
      w.field("source", source);
      w.key("record");
      write_record(w, rec);
      if (values) {
        stats_job sj{&*values, {}};
        if (!guarded_read(
                {values->mapped()},
                [](void* p) {
                  auto* j = static_cast<stats_job*>(p);
                  j->out = compute_stats(*j->view);
                },
                &sj)) {
          return unavailable(path + " was truncated while reading " + rec.name);
        }
        w.key("stats");
        write_stats_json(w, sj.out);
      } else {
        w.field_null("stats");
      }
      w.key("metrics").raw(metrics);
      w.key("channels").raw(evidence);
      w.key("values");
      if (slice) {
        const auto [lo, hi] = *slice;
        std::vector<double> data(static_cast<std::size_t>(hi - lo));
        values_job vj{&*values, static_cast<std::uint64_t>(lo), &data};
        if (!guarded_read(
                {values->mapped()},
                [](void* p) {
                  auto* j = static_cast<values_job*>(p);
                  j->view->read(j->first, std::span<double>(*j->out));
                },
                &vj)) {
          return unavailable(path + " was truncated while reading " + rec.name);
        }
        w.begin_object();
        w.field("first", lo);
        w.key("data").begin_array();
        for (double v : data) w.value(v);
        w.end_array();
        w.end_object();
      } else {
        w.null();
      }
      w.key("locator").begin_object();
      w.field("path", path);
      w.field("encoding", binary ? "binary" : "text");
      w.field("offset", rec.payload_offset);
      w.field("bytes", rec.payload_bytes);
      w.field("dtype", dtype_short_name(rec.storage));
      w.key("shape").begin_array();
      for (auto d : rec.shape) w.value(d);
      w.end_array();
      if (!run.empty()) {
        w.field("run", run);
      } else {
        w.field_null("run");
      }
      w.field("record", rec.index);
      w.field("scale", rec.scale);
      w.field("zero_point", rec.zero_point);
      w.field("dequantize", values ? values->dequantize : (rec.storage != dtype::f32));
      w.field("inner", rec.inner);
      w.field("inner_stride", rec.inner_stride);
      w.end_object();
      w.end_object();
      return w.take();
    };
    return [server, client, id, res = reply()] { server->complete(client, id, res); };
  });
  return deferred_reply();
}

}  // namespace sigdump::daemon
