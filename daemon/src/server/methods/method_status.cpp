// status: the daemon, what it watches, the files it tracks, the pairs and
// the run archive.
#include <algorithm>
#include <iterator>
#include <string_view>

#include "export/archive.h"
#include "platform/heap_trim.h"
#include "server/ipc_lookup.h"
#include "server/ipc_server.h"
#include "server/methods/methods.h"
#include "sigdump/json_util.h"
#include "sigdump/report/report_json.h"
#include "sigdump/version.h"
#include "state/state_store.h"

namespace sigdump::daemon {
namespace {

constexpr std::string_view sections[] = {"daemon", "watched", "files",
                                         "pairs",  "archive", "triggers"};

// "triggers": each configured trigger and its counters (docs/protocol.md).
void write_triggers(json_writer& w, const daemon_state& st) {
  w.key("triggers").begin_array();
  for (const auto& t : st.triggers) {
    w.begin_object();
    w.field("name", t.config.name);
    w.field("on", trigger_on_name(t.config.on));
    if (t.config.pair.empty()) {
      w.field_null("pair");
    } else {
      w.field("pair", t.config.pair);
    }
    w.key("command").begin_array();
    for (const auto& a : t.config.command) w.value(a);
    w.end_array();
    w.field("timeout_ms", static_cast<std::uint64_t>(t.config.timeout.count()));
    w.field("runs", t.runs);
    w.field("failures", t.failures);
    w.field("timeouts", t.timeouts);
    w.field("skipped", t.skipped);
    w.field("running", static_cast<std::uint64_t>(t.running));
    w.end_object();
  }
  w.end_array();
}

// "own": what of pair p's comparison differs from the daemon's (its own
// cos_min, rmse_max, name map from the configuration); null when nothing.
void write_own(json_writer& w, const pair_info& p, const compare_options& daemon) {
  w.key("own");
  if (!p.compare) {
    w.null();
    return;
  }
  const thresholds& own = p.compare->thresholds;
  const bool cos = own.cos_min != daemon.thresholds.cos_min;
  const bool rmse = own.rmse_max != daemon.thresholds.rmse_max;
  const bool map = p.compare->name_map != daemon.name_map;
  if (!cos && !rmse && !map) {
    w.null();
    return;
  }
  w.begin_object();
  if (cos) {
    w.field("cos_min", own.cos_min);
  } else {
    w.field_null("cos_min");
  }
  if (rmse) {
    w.field("rmse_max", own.rmse_max);
  } else {
    w.field_null("rmse_max");
  }
  if (map) {
    w.field("name_map", static_cast<std::uint64_t>(p.compare->name_map.size()));
  } else {
    w.field_null("name_map");
  }
  w.end_object();
}

}  // namespace

method_result method_status(method_context& ctx) {
  const daemon_state& st = ctx.state;
  // "only": one section, for a cheap periodic look (sigdump top's archive line).
  auto only = ctx.params.get_string("only");
  if (!only) return std::unexpected(only.error());
  if (*only && std::find(std::begin(sections), std::end(sections), **only) == std::end(sections)) {
    return std::unexpected(
        ipc::fail(ipc::error_code::invalid_params,
                  "only: expected one of daemon, watched, files, pairs, archive, triggers, got '" +
                      **only + "'"));
  }
  auto want = [&](std::string_view section) { return !*only || **only == section; };
  json_writer w;
  w.begin_object();
  if (want("daemon")) {
    w.key("daemon").begin_object();
    w.field("version", version_string);
    w.field("pid", static_cast<std::int64_t>(st.pid()));
    w.field("started", st.started());
    w.field("clock", st.clock());
    w.field("event_loop", ctx.server.loop().name());
    w.field("state_dir", st.state_dir);
    // Run log lines the state folder refused (a full disk), kept in memory.
    w.field("state_unsaved_bytes", st.store != nullptr ? st.store->unsaved_bytes() : 0);
    w.field("state_write_failures", st.store != nullptr ? st.store->write_failures() : 0);
    if (st.store == nullptr || st.store->last_error().empty()) {
      w.field_null("state_error");
    } else {
      w.field("state_error", st.store->last_error());
    }
    w.field("socket", ctx.server.socket_path());
    if (ctx.server.board_name().empty()) {
      w.field_null("board");
    } else {
      w.field("board", ctx.server.board_name());
    }
    w.field("clients", static_cast<std::uint64_t>(ctx.server.client_count()));
    w.field("layers_streamed", st.layers_streamed);
    w.field("chunks_streamed", st.chunks_streamed);
    w.field("chunks_discarded", st.chunks_discarded);
    w.field("chunks_summed", st.chunks_summed);
    w.field("parse_slices", st.parse_slices);
    w.field("stat_ticks", st.stat_ticks);
    w.field("stat_looks", st.stat_looks);
    w.field("metrics_write_failures", st.metrics_write_failures);
    const event_loop::callback_stats loop = ctx.server.loop().stats();
    w.field("loop_callbacks", loop.callbacks);
    w.field("loop_longest_cpu_us", loop.longest_cpu_ns / 1000);
    w.field("loop_longest_wall_us", loop.longest_wall_ns / 1000);
    w.field("loop_over_5ms", loop.over_budget);
    // The heap as malloc sees it, and the trims that gave its free pages
    // back (platform/heap_trim.h).
    const heap_usage heap = heap_now();
    w.field("heap_bytes", heap.bytes);
    w.field("heap_in_use_bytes", heap.in_use);
    const heap_trimmer::stats trims =
        st.heap_trims != nullptr ? st.heap_trims->counts() : heap_trimmer::stats{};
    w.field("heap_trims", trims.trims);
    w.field("heap_trims_released", trims.released);
    w.field("heap_trim_longest_us", trims.longest_us);
    w.field("heap_trim_longest_cpu_us", trims.longest_cpu_us);
    w.end_object();
  }

  if (want("watched")) {
    w.key("watched").begin_array();
    for (const auto& wp : st.watched) {
      w.begin_object();
      w.field("path", wp.path);
      w.field("kind", watched_kind_name(wp.what));
      w.field("exists", st.exists_now(wp));
      w.end_object();
    }
    w.end_array();
  }

  if (want("files")) {
    w.key("files").begin_array();
    for (const auto& [path, tf] : st.files) {
      if (!tf) continue;
      w.begin_object();
      w.field("path", path);
      auto r = st.runs.find(tf->run);
      if (r != st.runs.end() && r->second) {
        w.field("run", r->second->id);
      } else {
        w.field_null("run");
      }
      w.field("records", static_cast<std::uint64_t>(tf->file ? tf->file->records().size() : 0));
      w.field("bytes", tf->bytes);
      w.field("state", run_state_name(tf->state));
      if (tf->failed.empty()) {
        w.field_null("error");
      } else {
        w.field("error", tf->failed);
      }
      w.end_object();
    }
    w.end_array();
  }

  if (want("pairs")) {
    w.key("pairs").begin_array();
    for (const auto& p : st.pairs) {
      w.begin_object();
      w.field("name", p.name);
      w.field("sample", p.sample);
      w.field("benchmark", p.benchmark);
      write_own(w, p, st.compare);
      auto r = st.runs.find(p.run);
      const run_info* run = r != st.runs.end() ? r->second.get() : nullptr;
      if (run != nullptr) {
        w.field("run", run->id);
        write_string_or_null(w, "benchmark_run", run->benchmark_run);
        w.field("state", run_state_name(run->state));
        w.field("layers", static_cast<std::uint64_t>(run->report.layers.size()));
        w.field("suspect", run->suspect_count());
        w.key("first_bad");
        write_first_bad(w, run->report.first_bad);
        w.key("diagnosis");
        write_diagnosis(w, run->report.diagnosis);
        w.key("advice");
        write_advice(w, run->report.advice);
        w.key("warnings").raw(warnings_json(run->report.warnings));
        write_outcome(w, run->report.coverage, run->suspect_count());
      } else {
        w.field_null("run");
        w.field_null("benchmark_run");
        w.field_null("state");
        w.field("layers", 0);
        w.field("suspect", 0);
        w.field_null("first_bad");
        w.key("diagnosis");
        write_diagnosis(w, diagnosis{});
        w.key("advice");
        write_advice(w, advice{});
        w.key("warnings").begin_array().end_array();
        write_outcome(w, std::nullopt, 0);
      }
      w.key("three_way");
      if (auto rows = st.three_way(p)) {
        w.begin_array();
        for (const auto& row : *rows) {
          w.begin_object();
          w.field("index", row.index);
          w.field("name", row.name);
          w.key("conversion").begin_object();
          w.field("cos", row.conversion_cos);
          w.field("rmse", row.conversion_rmse);
          w.end_object();
          w.key("quantization").begin_object();
          w.field("cos", row.quantization_cos);
          w.field("rmse", row.quantization_rmse);
          w.end_object();
          w.end_object();
        }
        w.end_array();
      } else {
        w.null();
      }
      w.end_object();
    }
    w.end_array();
  }

  // Only when runs are archived (docs/protocol.md).
  if (want("archive") && st.run_archive != nullptr) {
    const archive::usage u = st.run_archive->summary();
    w.key("archive").begin_object();
    w.field("dir", u.dir);
    w.field("bytes", u.bytes);
    w.field("max_bytes", u.max_bytes);
    w.field("copies", u.copies);
    w.field("copying", u.copying);
    w.field("failed", u.failed);
    if (u.last_error.empty()) {
      w.field_null("last_error");
    } else {
      w.field("last_error", u.last_error);
    }
    w.end_object();
  }
  if (want("triggers")) write_triggers(w, st);
  w.end_object();
  return w.take();
}

}  // namespace sigdump::daemon
