#include "server/ipc_lookup.h"

#include <algorithm>
#include <optional>

#include "export/archive.h"
#include "sigdump/diagnosis.h"
#include "sigdump/record_index.h"
#include "sigdump/record_json.h"
#include "sigdump/report/report_json.h"

namespace sigdump::daemon {

namespace {

std::unexpected<ipc::protocol_error> not_found(std::string msg) {
  return std::unexpected(ipc::fail(ipc::error_code::not_found, std::move(msg)));
}

}  // namespace

ipc::protocol_error unknown_name(const char* what, const std::string& name,
                                 const std::vector<std::string>& known) {
  std::string msg = std::string("no ") + what + " '" + name + "'";
  auto close = closest_names(known, name, 5);
  if (!close.empty()) {
    msg += "; did you mean: ";
    for (std::size_t i = 0; i < close.size(); ++i) msg += (i ? ", " : "") + close[i];
  } else if (known.empty()) {
    msg += std::string("; none is known");
  } else if (known.size() <= 10) {
    msg += "; known: ";
    for (std::size_t i = 0; i < known.size(); ++i) msg += (i ? ", " : "") + known[i];
  }
  return ipc::fail(ipc::error_code::not_found, msg);
}

ipc::protocol_error unknown_pair(const daemon_state& state, const std::string& name) {
  std::vector<std::string> known;
  for (const auto& p : state.pairs) known.push_back(p.name);
  return unknown_name("pair", name, known);
}

ipc::protocol_error unknown_run(const daemon_state& state, const std::string& id) {
  std::vector<std::string> known;
  for (auto it = state.runs.rbegin(); it != state.runs.rend(); ++it)
    known.push_back(it->second->id);
  return unknown_name("run", id, known);
}

ipc::protocol_error unknown_path(const daemon_state& state, const std::string& path) {
  std::vector<std::string> known;
  for (const auto& [p, f] : state.files) known.push_back(p);
  return unknown_name("tracked dump file", path, known);
}

namespace {

std::expected<run_target, ipc::protocol_error> target_of_run(const daemon_state& state,
                                                             std::shared_ptr<run_info> run) {
  auto it = state.files.find(run->path);
  const bool tracked = it != state.files.end() && it->second && it->second->file;
  if (tracked && it->second->holds_run(run->number)) return run_target{std::move(run), it->second};
  std::string why =
      tracked
          ? "run " + run->id + " of " + run->path + " was replaced by r" +
                std::to_string(it->second->run) + "; its records are no longer readable"
          : "run " + run->id + ": " + run->path + " is not tracked any more (gone or unreadable)";
  if (state.run_archive != nullptr) {
    auto copy = state.run_archive->open_copy(run->number);
    if (copy) return run_target{std::move(run), std::move(*copy), "archive"};
    why += "; archive: " + copy.error().describe();
  }
  return std::unexpected(ipc::fail(ipc::error_code::unavailable, why));
}

}  // namespace

std::expected<run_target, ipc::protocol_error> resolve_target(const daemon_state& state,
                                                              const ipc::params_reader& params) {
  auto run_id = params.get_string("run");
  if (!run_id) return std::unexpected(run_id.error());
  auto pair = params.get_string("pair");
  if (!pair) return std::unexpected(pair.error());
  auto path = params.get_string("path");
  if (!path) return std::unexpected(path.error());

  if (*run_id) {
    auto r = state.find_run(**run_id);
    if (!r) return std::unexpected(unknown_run(state, **run_id));
    return target_of_run(state, std::move(r));
  }
  if (*pair) {
    const pair_info* p = state.find_pair(**pair);
    if (p == nullptr) return std::unexpected(unknown_pair(state, **pair));
    auto it = state.runs.find(p->run);
    if (p->run == 0 || it == state.runs.end()) {
      return not_found("pair '" + **pair + "' has no run yet (" + p->sample + " not seen)");
    }
    return target_of_run(state, it->second);
  }
  if (*path) {
    const std::string norm = normalize_path(**path);
    auto it = state.files.find(norm);
    if (it == state.files.end() || !it->second || !it->second->file) {
      return std::unexpected(unknown_path(state, **path));
    }
    run_target t;
    t.file = it->second;
    if (auto r = state.runs.find(it->second->run); r != state.runs.end()) t.run = r->second;
    return t;
  }
  // Default: the newest run whose records are readable.
  for (auto it = state.runs.rbegin(); it != state.runs.rend(); ++it) {
    if (!it->second) continue;
    auto t = target_of_run(state, it->second);
    if (t) return t;
  }
  return not_found("no dump file is tracked yet");
}

std::vector<std::uint32_t> find_tensor(const dump_file& df, const std::string& name) {
  auto matches = df.index().find(df.records(), name);
  if (matches.empty()) matches = df.index().find_sanitized(df.records(), name);
  return matches;
}

std::expected<run_target, ipc::protocol_error> resolve_tensor_target(
    const daemon_state& state, const ipc::params_reader& params, const std::string& name) {
  for (const char* key : {"run", "pair", "path"}) {
    auto given = params.get_string(key);
    if (!given || *given) return resolve_target(state, params);
  }
  auto holds = [&](const std::shared_ptr<run_info>& r) -> std::optional<run_target> {
    if (!r) return std::nullopt;
    auto t = target_of_run(state, r);
    if (!t || find_tensor(*t->file->file, name).empty()) return std::nullopt;
    return std::move(*t);
  };
  // The sample side of a pair first: that is where the metrics are.
  std::vector<const pair_info*> pairs;
  for (const auto& p : state.pairs) pairs.push_back(&p);
  std::sort(pairs.begin(), pairs.end(),
            [](const pair_info* a, const pair_info* b) { return a->run > b->run; });
  for (const pair_info* p : pairs) {
    auto r = state.runs.find(p->run);
    if (r == state.runs.end()) continue;
    if (auto t = holds(r->second)) return std::move(*t);
  }
  for (auto it = state.runs.rbegin(); it != state.runs.rend(); ++it) {
    if (auto t = holds(it->second)) return std::move(*t);
  }
  return resolve_target(state, params);
}

void write_record(json_writer& w, const record& r) {
  // The keys of `sigdump ls --json` first, then the details.
  w.begin_object();
  write_record_fields(w, r, true);
  w.end_object();
}

void write_run(json_writer& w, const run_info& r, const daemon_state& state) {
  const archive* copies = state.run_archive;
  w.begin_object();
  w.field("run", r.id);
  w.field("path", r.path);
  if (r.pair.empty()) {
    w.field_null("pair");
    w.field_null("benchmark");
  } else {
    w.field("pair", r.pair);
    w.field("benchmark", r.report.benchmark_path);
  }
  write_string_or_null(w, "benchmark_run", r.benchmark_run);
  w.field("state", run_state_name(r.state));
  w.field("start_reason", r.start_reason);
  if (r.end_reason.empty()) {
    w.field_null("end_reason");
  } else {
    w.field("end_reason", r.end_reason);
  }
  w.field("started", r.started);
  if (r.ended == 0) {
    w.field_null("ended");
  } else {
    w.field("ended", r.ended);
  }
  w.field("records", r.records);
  w.field("layers", static_cast<std::uint64_t>(r.report.layers.size()));
  w.field("suspect", r.suspect_count());
  w.key("first_bad");
  write_first_bad(w, r.report.first_bad);
  w.key("diagnosis");
  write_diagnosis(w, r.report.diagnosis);
  w.key("advice");
  write_advice(w, r.report.advice);
  w.key("warnings").raw(warnings_json(r.report.warnings));
  write_outcome(w, r.pair.empty() ? std::nullopt : std::optional(r.report.coverage),
                r.suspect_count());
  w.field("persisted", r.persisted);
  auto copy = copies != nullptr ? copies->find(r.number) : std::nullopt;
  auto f = state.files.find(r.path);
  if (f != state.files.end() && f->second && f->second->file && f->second->holds_run(r.number)) {
    w.field("source", "file");
  } else if (copy && !copy->failed) {
    w.field("source", "archive");
  } else {
    w.field_null("source");
  }
  w.key("archive");
  if (!copy) {
    w.null();
  } else {
    w.begin_object();
    w.field("path", copy->path);
    w.field("bytes", copy->bytes);
    w.field("copying", copy->live || copy->busy);
    w.field("failed", copy->failed);
    w.field("synced", copy->synced);
    w.field("verified_bytes", copy->verified);
    w.field("short", copy->short_copy);
    w.end_object();
  }
  w.end_object();
}

}  // namespace sigdump::daemon
