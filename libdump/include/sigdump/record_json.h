// The JSON forms of a record and of tensor statistics, shared by
// `sigdump ls/show --json` and the daemon's `tensors`/`tensor` methods so
// the CLI and the protocol describe a record with the same keys.
#pragma once

#include "sigdump/json_util.h"
#include "sigdump/record.h"
#include "sigdump/tensor.h"

namespace sigdump {

/* "exact", "unpadded_inner", "truncated", "too_small" */
const char* payload_fit_name(payload_fit f) noexcept;

/* Writes the keys (not the braces) of the record object of `sigdump ls
   --json`: index, kind, output, op_index, op, name, shape, type, constant,
   offset, bytes, problem. With `details`, then also dtype, storage, scale,
   zero_point, elements, header_offset, end_offset, fit. The caller may add
   keys of its own before closing the object. */
void write_record_fields(json_writer& w, const record& r, bool details);

/* Writes {"count","min","max","mean","std","zeros","nan","inf"}. */
void write_stats_json(json_writer& w, const tensor_stats& s);

}  // namespace sigdump
