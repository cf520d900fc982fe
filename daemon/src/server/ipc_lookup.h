// Shared pieces of the protocol methods: finding the run/file a request
// names and rendering records and runs as JSON. Loop thread only.
#pragma once

#include <expected>
#include <memory>
#include <string>
#include <vector>

#include "sigdump/ipc/protocol.h"
#include "sigdump/json_util.h"
#include "sigdump/record.h"
#include "state/daemon_state.h"

namespace sigdump::daemon {

class archive;

/* A run together with the tracked file that holds its records now. */
struct run_target {
  std::shared_ptr<run_info> run;       // may be null for a file without a run yet
  std::shared_ptr<tracked_file> file;  // non-null, file->file non-null
  const char* source = "file";  // "file": the dump itself; "archive": the run's archived copy
};

/* Resolves params "run", "pair", "path" (first given wins), by default the
   newest run of any tracked file. A run whose file now holds a newer run
   (or is gone) is read from its archived copy when archiving is on.
   not_found for unknown names; unavailable when neither the file nor a
   copy holds the run's records. */
std::expected<run_target, ipc::protocol_error> resolve_target(const daemon_state& state,
                                                              const ipc::params_reader& params);

/* The records of `name` in df: exact, else by the sanitized name. */
std::vector<std::uint32_t> find_tensor(const dump_file& df, const std::string& name);

/* The run a tensor request reads: resolve_target when params name a run,
   pair or path. Otherwise the current run of a pair whose sample holds
   `name` (the pair with the newest run first), else the newest readable
   run that holds it, else resolve_target's default. */
std::expected<run_target, ipc::protocol_error> resolve_tensor_target(
    const daemon_state& state, const ipc::params_reader& params, const std::string& name);

/* not_found for a name given in params that does not exist: "no pair
   'nett'; did you mean: net" (up to 5 of the closest known names; the
   known ones listed when none is close, or "none is configured"). */
ipc::protocol_error unknown_name(const char* what, const std::string& name,
                                 const std::vector<std::string>& known);
/* The same for a pair, a run id or a tracked dump file path of state. */
ipc::protocol_error unknown_pair(const daemon_state& state, const std::string& name);
ipc::protocol_error unknown_run(const daemon_state& state, const std::string& id);
ipc::protocol_error unknown_path(const daemon_state& state, const std::string& path);

/* The record object of `sigdump ls --json` (docs/protocol.md). */
void write_record(json_writer& w, const record& r);

/* A run object of the `runs` method: with whether and where the run is
   archived, and where its records are read from now ("source": the file,
   its archived copy, or null when neither holds them). */
void write_run(json_writer& w, const run_info& r, const daemon_state& state);

}  // namespace sigdump::daemon
