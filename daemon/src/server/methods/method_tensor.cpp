// tensor: one record by name: header, statistics, metrics against its pair,
// an optional slice of values, and a locator to map the bytes directly.
#include <algorithm>
#include <climits>
#include <vector>

#include "server/ipc_lookup.h"
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
  if (matches.empty()) {
    std::string msg = "no tensor named '" + **name + "' in " + where;
    auto close = closest_names(records, **name, 5);
    if (!close.empty()) {
      msg += "; did you mean: ";
      for (std::size_t i = 0; i < close.size(); ++i) msg += (i ? ", " : "") + close[i];
    }
    return std::unexpected(ipc::fail(ipc::error_code::not_found, msg));
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

  json_writer w;
  w.begin_object();
  if (target->run) {
    w.field("run", target->run->id);
  } else {
    w.field_null("run");
  }
  w.field("path", df.path());
  if (target->run && !target->run->pair.empty()) {
    w.field("pair", target->run->pair);
  } else {
    w.field_null("pair");
  }
  w.field("source", target->source);
  w.key("record");
  write_record(w, rec);

  result<tensor_view> view = std::unexpected(error{});
  if (rec.ok()) view = df.view(index);
  if (!rec.ok() || !view) {
    if (range->has_value()) {
      return unavailable("record " + std::to_string(index) + " (" + rec.name +
                         ") cannot be read: " + (rec.ok() ? view.error().describe() : rec.problem));
    }
    w.field_null("stats");
  } else {
    // The file may have shrunk since it was parsed: check the pages first,
    // and keep the SIGBUS guard as the last line of defence.
    if (view->owner && !view->owner->probe(rec.payload_offset, rec.payload_bytes)) {
      return unavailable(df.path() + " shrank under record " + std::to_string(index) + " (" +
                         rec.name + "); it is being rewritten");
    }
    stats_job sj{&*view, {}};
    if (!guarded_read(
            [](void* p) {
              auto* j = static_cast<stats_job*>(p);
              j->out = compute_stats(*j->view);
            },
            &sj)) {
      return unavailable(df.path() + " was truncated while reading " + rec.name);
    }
    w.key("stats");
    write_stats_json(w, sj.out);
  }

  // Metrics come from the pair's comparison of this run, when it has one.
  w.key("metrics");
  const layer_result* layer = nullptr;
  if (target->run) {
    for (const auto& l : target->run->report.layers) {
      if (l.sample_record == index) {
        layer = &l;
        break;
      }
    }
  }
  if (layer != nullptr) {
    w.raw(layer_json(*layer));
  } else {
    w.null();
  }
  // Per-channel evidence against the layer's benchmark record, on request.
  w.key("channels");
  if (channels->value_or(false) && layer != nullptr && view) {
    w.raw(tensor_channels_json(ctx.state, *target->run, *layer, *view, ctx.peer));
  } else {
    w.null();
  }

  w.key("values");
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
    const std::int64_t hi = std::min(hi_req, n);  // [first, last) clipped to the tensor
    std::vector<double> data(static_cast<std::size_t>(hi - lo));
    values_job vj{&*view, static_cast<std::uint64_t>(lo), &data};
    if (!guarded_read(
            [](void* p) {
              auto* j = static_cast<values_job*>(p);
              j->view->read(j->first, std::span<double>(*j->out));
            },
            &vj)) {
      return unavailable(df.path() + " was truncated while reading " + rec.name);
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
  w.field("path", df.path());
  w.field("encoding", df.variant() == dump_variant::binary ? "binary" : "text");
  w.field("offset", rec.payload_offset);
  w.field("bytes", rec.payload_bytes);
  w.field("dtype", dtype_short_name(rec.storage));
  w.key("shape").begin_array();
  for (auto d : rec.shape) w.value(d);
  w.end_array();
  if (target->run) {
    w.field("run", target->run->id);
  } else {
    w.field_null("run");
  }
  w.field("record", rec.index);
  w.field("scale", rec.scale);
  w.field("zero_point", rec.zero_point);
  w.field("dequantize", view ? view->dequantize : (rec.storage != dtype::f32));
  w.field("inner", rec.inner);
  w.field("inner_stride", rec.inner_stride);
  w.end_object();
  w.end_object();
  return w.take();
}

}  // namespace sigdump::daemon
