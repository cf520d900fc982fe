// Per-channel evidence for the tensor method's "channels" param.
#include "server/methods/tensor_channels.h"

#include <sys/stat.h>
#include <unistd.h>

#include "server/ipc_methods.h"
#include "sigdump/channel_metrics.h"
#include "sigdump/report/report_json.h"

namespace sigdump::daemon {

std::string tensor_channels_json(const daemon_state& state, const run_info& run,
                                 const layer_result& layer, const tensor_view& sample,
                                 const ipc::peer_credentials& peer) {
  if (!layer.error.empty() || layer.bench_record < 0) return "null";
  if (peer.uid != ::geteuid() && !peer_could_read(run.report.benchmark_path, peer)) return "null";
  auto it = state.files.find(run.report.benchmark_path);
  if (it == state.files.end() || !it->second || !it->second->file) return "null";
  const dump_file& bench = *it->second->file;
  const auto bi = static_cast<std::uint32_t>(layer.bench_record);
  if (bi >= bench.records().size() || bench.records()[bi].name != layer.benchmark_name) {
    return "null";
  }
  auto bv = bench.view(bi);
  if (!bv || bv->elements != sample.elements) return "null";
  auto ev = compute_channel_evidence(sample, *bv, layer.layout);
  return ev ? channels_json(*ev) : "null";
}

}  // namespace sigdump::daemon
