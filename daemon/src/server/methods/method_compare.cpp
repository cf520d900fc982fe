// compare: two dumps (paths or runs) compared off the loop thread; the
// result is exactly what `sigdump compare --json` prints.
#include <sys/stat.h>
#include <unistd.h>

#include <optional>

#include "server/ipc_server.h"
#include "server/methods/methods.h"
#include "sigdump/compare.h"
#include "sigdump/dump_file.h"
#include "sigdump/report/report_json.h"

namespace sigdump::daemon {
namespace {

// A run id names the current contents of its file; anything else is a path.
std::expected<std::string, ipc::protocol_error> resolve(const daemon_state& st,
                                                        const std::string& what) {
  if (auto r = st.find_run(what)) {
    auto f = st.files.find(r->path);
    if (f == st.files.end() || !f->second || !f->second->holds_run(r->number)) {
      return std::unexpected(
          ipc::fail(ipc::error_code::unavailable,
                    "run " + r->id + " of " + r->path + " has been replaced; its bytes are gone"));
    }
    return r->path;
  }
  return normalize_path(what);
}

// For a peer of another uid: only files the daemon tracks, and only those
// it could read itself; never a message quoting the file.
std::optional<ipc::protocol_error> refused_to_peer(const daemon_state& st, const std::string& path,
                                                   const ipc::peer_credentials& peer) {
  if (!st.files.contains(path)) {
    return ipc::fail(ipc::error_code::forbidden,
                     path + ": not a dump sigdumpd tracks; other users may compare only those");
  }
  if (!peer_could_read(path, peer)) {
    return ipc::fail(ipc::error_code::forbidden,
                     path + ": uid " + std::to_string(peer.uid) + " cannot read this file");
  }
  return std::nullopt;
}

}  // namespace

method_result method_compare(method_context& ctx) {
  auto sample = ctx.params.get_string("sample");
  if (!sample) return std::unexpected(sample.error());
  auto bench = ctx.params.get_string("benchmark");
  if (!bench) return std::unexpected(bench.error());
  if (!*sample || !*bench || (*sample)->empty() || (*bench)->empty()) {
    return std::unexpected(ipc::fail(ipc::error_code::invalid_params,
                                     "params.sample and params.benchmark are required"));
  }
  auto cos_min = ctx.params.get_double("cos_min");
  if (!cos_min) return std::unexpected(cos_min.error());
  auto rmse_max = ctx.params.get_double("rmse_max");
  if (!rmse_max) return std::unexpected(rmse_max.error());
  auto constants = ctx.params.get_bool("include_constants");
  if (!constants) return std::unexpected(constants.error());
  auto inputs = ctx.params.get_bool("include_inputs");
  if (!inputs) return std::unexpected(inputs.error());
  auto sp = resolve(ctx.state, **sample);
  if (!sp) return std::unexpected(sp.error());
  auto bp = resolve(ctx.state, **bench);
  if (!bp) return std::unexpected(bp.error());
  const bool owner = owner_peer(ctx);
  if (!owner) {
    for (const std::string* p : {&*sp, &*bp}) {
      if (auto no = refused_to_peer(ctx.state, *p, ctx.peer)) return std::unexpected(*no);
    }
  }

  compare_options options = ctx.state.compare;
  options.progress = nullptr;
  options.channel_evidence = true;  // as `sigdump compare --json` prints
  if (*cos_min) options.thresholds.cos_min = **cos_min;
  if (*rmse_max) options.thresholds.rmse_max = **rmse_max;
  if (*constants) options.include_constants = **constants;
  if (*inputs) options.include_inputs = **inputs;

  ipc_server* server = &ctx.server;
  const std::uint64_t client = ctx.client;
  const std::string id = ctx.request.id;
  server->run_off_loop([server, client, id, owner, s = *sp, b = *bp,
                        options = std::move(options)]() -> std::function<void()> {
    // Errors may quote the file's first bytes: those go to the owner only.
    auto failure = [owner](const std::string& path, const error& e) {
      return ipc::fail(ipc::error_code::unavailable,
                       owner ? e.describe()
                             : path + ": cannot be compared (details in the daemon owner's reply)");
    };
    auto open = [&](const std::string& path) -> std::expected<dump_file, ipc::protocol_error> {
      if (::access(path.c_str(), F_OK) != 0) {
        return std::unexpected(ipc::fail(ipc::error_code::not_found, path + ": no such file"));
      }
      auto f = dump_file::open(path);
      if (!f) return std::unexpected(failure(path, f.error()));
      return std::move(*f);
    };
    method_result res;
    auto sf = open(s);
    auto bf =
        sf ? open(b) : std::expected<dump_file, ipc::protocol_error>(std::unexpected(sf.error()));
    if (!sf) {
      res = std::unexpected(sf.error());
    } else if (!bf) {
      res = std::unexpected(bf.error());
    } else {
      auto report = compare_dumps(*sf, *bf, options);
      if (!report) {
        res = std::unexpected(failure(report.error().file, report.error()));
      } else {
        res = report_json(*report);
      }
    }
    return [server, client, id, res = std::move(res)] { server->complete(client, id, res); };
  });
  return deferred_reply();
}

}  // namespace sigdump::daemon
