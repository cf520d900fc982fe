// The "channels" member of a tensor reply: per-channel evidence of a
// sample record against its benchmark record in the pair's comparison.
#pragma once

#include <string>

#include "sigdump/compare.h"
#include "sigdump/ipc/listener.h"
#include "sigdump/tensor.h"
#include "state/daemon_state.h"

namespace sigdump::daemon {

/* Per-channel evidence (channel_metrics.h) of `sample`, the sample record of
   `layer` in `run`'s comparison, against that layer's benchmark record, read
   from the benchmark file the daemon tracks, as the JSON object of
   channels_json (docs/protocol.md, `tensor`); "null" when the layer could
   not be compared or its benchmark record is no longer the one compared
   (the benchmark was rewritten) or cannot be read, and for a peer of
   another uid that could not read the benchmark file itself (the evidence
   quotes benchmark values). Loop thread, like the state it reads. */
std::string tensor_channels_json(const daemon_state& state, const run_info& run,
                                 const layer_result& layer, const tensor_view& sample,
                                 const ipc::peer_credentials& peer);

}  // namespace sigdump::daemon
