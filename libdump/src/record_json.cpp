#include "sigdump/record_json.h"

namespace sigdump {

const char* payload_fit_name(payload_fit f) noexcept {
  switch (f) {
    case payload_fit::exact: return "exact";
    case payload_fit::unpadded_inner: return "unpadded_inner";
    case payload_fit::truncated: return "truncated";
    case payload_fit::too_small: return "too_small";
  }
  return "exact";
}

void write_record_fields(json_writer& w, const record& r, bool details) {
  w.field("index", static_cast<std::uint64_t>(r.index));
  w.field("kind", r.kind == record_kind::out ? "out" : "in");
  w.field("output", static_cast<std::uint64_t>(r.port));
  w.field("op_index", r.op_index);
  w.field("op", r.op_type);
  w.field("name", r.name);
  w.key("shape").begin_array();
  for (auto d : r.shape) w.value(d);
  w.end_array();
  w.field("type", r.type_name);
  w.field("constant", r.constant);
  w.field("offset", r.payload_offset);
  w.field("bytes", r.payload_bytes);
  if (r.problem.empty()) {
    w.field_null("problem");
  } else {
    w.field("problem", r.problem);
  }
  if (!details) return;
  w.field("dtype", dtype_short_name(r.type));
  w.field("storage", dtype_short_name(r.storage));
  w.field("scale", r.scale);
  w.field("zero_point", r.zero_point);
  w.field("elements", r.elements);
  w.field("header_offset", r.header_offset);
  w.field("end_offset", r.end_offset);
  w.field("fit", payload_fit_name(r.fit));
}

void write_stats_json(json_writer& w, const tensor_stats& s) {
  w.begin_object();
  w.field("count", s.count);
  w.field("min", s.min);
  w.field("max", s.max);
  w.field("mean", s.mean);
  w.field("std", s.std);
  w.field("zeros", s.zeros);
  w.field("nan", s.nans);
  w.field("inf", s.infs);
  w.end_object();
}

}  // namespace sigdump
