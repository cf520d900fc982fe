// Per-channel evidence for the tensor method's "channels" param.
#include "server/methods/tensor_channels.h"

#include <sys/stat.h>
#include <unistd.h>

#include "sigdump/channel_metrics.h"
#include "sigdump/report/report_json.h"

namespace sigdump::daemon {

namespace {

// Whether a peer of uid/gid could open path for reading itself (mode bits;
// group read counts only for its primary group), as the compare method asks.
bool peer_could_read(const std::string& path, const ipc::peer_credentials& peer) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  if (st.st_uid == peer.uid) return (st.st_mode & S_IRUSR) != 0;
  if (st.st_gid == peer.gid) return (st.st_mode & S_IRGRP) != 0;
  return (st.st_mode & S_IROTH) != 0;
}

}  // namespace

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
