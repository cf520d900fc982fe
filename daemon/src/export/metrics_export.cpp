#include "export/metrics_export.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>
#include <limits>
#include <utility>
#include <vector>

#include "platform/log.h"
#include "sigdump/atomic_file.h"
#include "sigdump/ipc/protocol.h"
#include "sigdump/ipc/unique_fd.h"
#include "sigdump/json_util.h"
#include "sigdump/version.h"
#include "state/state_store.h"

namespace sigdump::daemon {

namespace {

constexpr double nan_value = std::numeric_limits<double>::quiet_NaN();

using label_list = std::vector<std::pair<const char*, std::string_view>>;

// The text being built: families are declared once, then their samples.
class exposition {
 public:
  void family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;  // our own texts: no backslash or newline to escape
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void sample(const char* name, const label_list& labels, double value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      bool first = true;
      for (const auto& [k, v] : labels) {
        if (!first) out_ += ',';
        first = false;
        out_ += k;
        out_ += "=\"";
        out_ += escape_label_value(v);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += format_metric_value(value);
    out_ += '\n';
  }
  void sample(const char* name, double value) { sample(name, {}, value); }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// One run as exported: the numbers derived from its report.
struct run_row {
  const run_info* run = nullptr;
  bool current = false;
  double worst_cos = nan_value, worst_rmse = nan_value;
  std::int64_t latest_index = -1;
  double latest_cos = nan_value, latest_rmse = nan_value, latest_mse = nan_value;
};

run_row row_of(const run_info& r, bool current) {
  run_row row;
  row.run = &r;
  row.current = current;
  bool any = false;
  for (const auto& l : r.report.layers) {
    if (!l.error.empty()) continue;
    const double c = l.metrics.cos, e = l.metrics.rmse;
    // As on the status board: a NaN metric is the worst there is, and stays.
    if (!any) {
      row.worst_cos = c;
      row.worst_rmse = e;
      any = true;
      continue;
    }
    if (!std::isnan(row.worst_cos) && (std::isnan(c) || c < row.worst_cos)) row.worst_cos = c;
    if (!std::isnan(row.worst_rmse) && (std::isnan(e) || e > row.worst_rmse)) row.worst_rmse = e;
  }
  if (!r.report.layers.empty()) {
    const auto& last = r.report.layers.back();
    row.latest_index = last.index;
    if (last.error.empty()) {
      row.latest_cos = last.metrics.cos;
      row.latest_rmse = last.metrics.rmse;
      row.latest_mse = last.metrics.mse;
    }
  }
  return row;
}

double as_double(std::uint64_t v) { return static_cast<double>(v); }

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size();) {
    const char c = value[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      // node_exporter rejects the whole file over one invalid byte.
      i += append_utf8_or_replacement(out, value, i);
      continue;
    }
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
    ++i;
  }
  return out;
}

std::string format_metric_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

namespace {

// Triggers: one series per configured trigger and counter.
void render_trigger_metrics(exposition& x, const daemon_state& state) {
  struct counter {
    const char* name;
    const char* type;
    const char* help;
    std::uint64_t trigger_stats::*member;
  };
  static constexpr counter counters[] = {
      {"sigdump_trigger_runs_total", "counter", "Trigger commands started.", &trigger_stats::runs},
      {"sigdump_trigger_failures_total", "counter",
       "Trigger commands that could not start, exited non-zero or were killed by a signal.",
       &trigger_stats::failures},
      {"sigdump_trigger_timeouts_total", "counter",
       "Trigger commands killed (their process group) at timeout_ms.", &trigger_stats::timeouts},
      {"sigdump_trigger_skipped_total", "counter",
       "Events a trigger skipped: its command still ran for the same run.",
       &trigger_stats::skipped},
  };
  for (const counter& c : counters) {
    x.family(c.name, c.type, c.help);
    for (const auto& t : state.triggers) {
      x.sample(c.name, {{"trigger", t.config.name}, {"on", trigger_on_name(t.config.on)}},
               as_double(t.*c.member));
    }
  }
  x.family("sigdump_trigger_running", "gauge", "Trigger commands running now.");
  for (const auto& t : state.triggers) {
    x.sample("sigdump_trigger_running",
             {{"trigger", t.config.name}, {"on", trigger_on_name(t.config.on)}},
             static_cast<double>(t.running));
  }
}

}  // namespace

std::string render_metrics(const daemon_state& state, const metrics_inputs& in) {
  exposition x;

  // The daemon itself.
  x.family("sigdump_daemon_up", "gauge",
           "1 while sigdumpd runs; 0 in the file it leaves behind when it stops.");
  x.sample("sigdump_daemon_up", in.up ? 1 : 0);
  x.family("sigdump_build_info", "gauge", "Version of sigdumpd, its protocol and event loop.");
  const std::string protocol = std::to_string(ipc::protocol_version);
  x.sample(
      "sigdump_build_info",
      {{"version", version_string}, {"protocol", protocol}, {"event_loop", state.event_loop_name}},
      1);
  x.family("sigdump_daemon_start_time_seconds", "gauge", "Unix time sigdumpd started.");
  x.sample("sigdump_daemon_start_time_seconds", static_cast<double>(state.started()));
  x.family("sigdump_metrics_timestamp_seconds", "gauge",
           "Unix time this file was rendered (alert when it grows old).");
  x.sample("sigdump_metrics_timestamp_seconds", in.now);
  x.family("sigdump_metrics_write_failures_total", "counter",
           "Writes of this file that failed since sigdumpd started.");
  x.sample("sigdump_metrics_write_failures_total", as_double(in.write_failures));
  x.family("sigdump_state_unsaved_bytes", "gauge",
           "Bytes of run log lines the state folder refused (a full disk), kept in memory.");
  x.sample("sigdump_state_unsaved_bytes",
           as_double(state.store != nullptr ? state.store->unsaved_bytes() : 0));
  x.family("sigdump_state_write_failures_total", "counter",
           "Writes to the state folder that failed since sigdumpd started.");
  x.sample("sigdump_state_write_failures_total",
           as_double(state.store != nullptr ? state.store->write_failures() : 0));
  x.family("sigdump_daemon_watched_paths", "gauge", "Folders and files sigdumpd watches.");
  x.sample("sigdump_daemon_watched_paths", as_double(state.watched.size()));
  x.family("sigdump_daemon_tracked_files", "gauge", "Dump files currently tracked.");
  x.sample("sigdump_daemon_tracked_files", as_double(state.files.size()));
  std::uint64_t mapped = 0;
  for (const auto& [path, tf] : state.files) {
    if (!tf || !tf->file) continue;
    if (auto m = tf->file->current_mapping()) mapped += m->size();
  }
  x.family("sigdump_daemon_mapped_bytes", "gauge", "Bytes of dump files currently mapped.");
  x.sample("sigdump_daemon_mapped_bytes", as_double(mapped));
  x.family("sigdump_daemon_runs", "gauge", "Runs sigdumpd knows (live and persisted).");
  x.sample("sigdump_daemon_runs", as_double(state.runs.size()));
  x.family("sigdump_daemon_pairs", "gauge", "Configured sample/benchmark pairs.");
  x.sample("sigdump_daemon_pairs", as_double(state.pairs.size()));
  x.family("sigdump_daemon_clients", "gauge", "Clients connected to the socket.");
  x.sample("sigdump_daemon_clients", as_double(in.ipc.clients));
  x.family("sigdump_daemon_subscriptions", "gauge", "Open event subscriptions.");
  x.sample("sigdump_daemon_subscriptions", as_double(in.ipc.subscriptions));
  x.family("sigdump_daemon_dropped_events_total", "counter",
           "Events slow subscribers missed (reported to them as gap events).");
  x.sample("sigdump_daemon_dropped_events_total", as_double(in.ipc.dropped_events));
  x.family("sigdump_daemon_overloaded_clients_total", "counter",
           "Clients disconnected because they did not read their events.");
  x.sample("sigdump_daemon_overloaded_clients_total", as_double(in.ipc.overloaded));
  x.family("sigdump_daemon_layers_streamed_total", "counter",
           "Big layers compared partly while they were being written.");
  x.sample("sigdump_daemon_layers_streamed_total", as_double(state.layers_streamed));
  x.family("sigdump_daemon_chunks_discarded_total", "counter",
           "Chunks summed while written, then summed again: the file was cut under them.");
  x.sample("sigdump_daemon_chunks_discarded_total", as_double(state.chunks_discarded));

  render_trigger_metrics(x, state);

  // Pairs.
  x.family("sigdump_pair_info", "gauge", "A configured pair and its sample and benchmark paths.");
  for (const auto& p : state.pairs) {
    x.sample("sigdump_pair_info",
             {{"pair", p.name}, {"sample", p.sample}, {"benchmark", p.benchmark}}, 1);
  }
  x.family("sigdump_pair_runs_finished_total", "counter",
           "Runs of the pair that ended or were reset (truncated, rewritten, replaced).");
  for (const auto& p : state.pairs) {
    auto it = in.runs_finished.find(p.name);
    x.sample("sigdump_pair_runs_finished_total", {{"pair", p.name}},
             as_double(it == in.runs_finished.end() ? 0 : it->second));
  }

  // Runs: per pair its current run and the newest earlier ones.
  struct pair_rows {
    const pair_info* pair;
    std::vector<run_row> rows;
  };
  std::vector<pair_rows> all;
  for (const auto& p : state.pairs) {
    pair_rows pr{&p, {}};
    if (auto it = state.runs.find(p.run); p.run != 0 && it != state.runs.end() && it->second) {
      pr.rows.push_back(row_of(*it->second, true));
    }
    std::uint32_t kept = 0;
    for (auto it = state.runs.rbegin(); it != state.runs.rend() && kept < in.previous_runs; ++it) {
      if (!it->second || it->first == p.run || it->second->pair != p.name) continue;
      pr.rows.push_back(row_of(*it->second, false));
      ++kept;
    }
    all.push_back(std::move(pr));
  }
  auto each = [&](const char* name, const char* type, const char* help, auto value_of) {
    x.family(name, type, help);
    for (const auto& pr : all) {
      for (const auto& row : pr.rows) {
        std::optional<double> v = value_of(row);
        if (v) x.sample(name, {{"pair", pr.pair->name}, {"run", row.run->id}}, *v);
      }
    }
  };
  x.family("sigdump_run_info", "gauge", "A run of a pair and the dump file it reads.");
  for (const auto& pr : all) {
    for (const auto& row : pr.rows) {
      x.sample("sigdump_run_info",
               {{"pair", pr.pair->name}, {"run", row.run->id}, {"sample", row.run->path}}, 1);
    }
  }
  each("sigdump_run_current", "gauge", "1 for the pair's current run, 0 for earlier runs.",
       [](const run_row& r) -> std::optional<double> { return r.current ? 1 : 0; });
  each("sigdump_run_live", "gauge", "1 while the run's dump is being written, 0 once it ended.",
       [](const run_row& r) -> std::optional<double> {
         return r.run->state == run_state::live ? 1 : 0;
       });
  each("sigdump_run_start_time_seconds", "gauge", "Unix time the run started.",
       [](const run_row& r) -> std::optional<double> {
         return static_cast<double>(r.run->started);
       });
  each("sigdump_run_end_time_seconds", "gauge", "Unix time the run ended (absent while live).",
       [](const run_row& r) -> std::optional<double> {
         if (r.run->state == run_state::live || r.run->ended == 0) return std::nullopt;
         return static_cast<double>(r.run->ended);
       });
  each("sigdump_run_layers_compared", "gauge", "Layers of the run compared so far.",
       [](const run_row& r) -> std::optional<double> {
         return as_double(r.run->report.layers.size());
       });
  each("sigdump_run_suspect_layers", "gauge", "Layers past a threshold or not comparable, so far.",
       [](const run_row& r) -> std::optional<double> { return as_double(r.run->suspect_count()); });
  auto cov = [](const run_row& r) -> const coverage& { return r.run->report.coverage; };
  each("sigdump_run_sample_layers", "gauge", "Sample layers of the run that take part so far.",
       [&](const run_row& r) -> std::optional<double> { return as_double(cov(r).sample_layers); });
  each("sigdump_run_not_comparable_layers", "gauge",
       "Sample layers matched but not comparable, so far.",
       [&](const run_row& r) -> std::optional<double> { return as_double(cov(r).not_comparable); });
  each("sigdump_run_sample_only_layers", "gauge", "Sample layers no benchmark layer matched.",
       [&](const run_row& r) -> std::optional<double> { return as_double(cov(r).sample_only); });
  each("sigdump_run_benchmark_only_layers", "gauge",
       "Benchmark layers no sample layer matched (counted when the run ends).",
       [&](const run_row& r) -> std::optional<double> { return as_double(cov(r).benchmark_only); });
  each("sigdump_run_pending_layers", "gauge",
       "Sample layers not settled: no benchmark layer so far (at the end: never had one).",
       [&](const run_row& r) -> std::optional<double> { return as_double(cov(r).pending); });
  each("sigdump_run_lost_layers", "gauge",
       "Sample layers never compared: their file started over first and the archived copies "
       "did not hold them.",
       [&](const run_row& r) -> std::optional<double> { return as_double(cov(r).lost); });
  x.family("sigdump_run_verdict", "gauge",
           "1 for the run's verdict so far (pass, incomplete, nothing_compared, fail), 0 for "
           "the others (docs/compare.md).");
  for (const auto& pr : all) {
    for (const auto& row : pr.rows) {
      const verdict v = judge(row.run->report.coverage, row.run->suspect_count());
      for (verdict each_v :
           {verdict::pass, verdict::incomplete, verdict::nothing_compared, verdict::fail}) {
        x.sample("sigdump_run_verdict",
                 {{"pair", pr.pair->name}, {"run", row.run->id}, {"verdict", verdict_name(each_v)}},
                 v == each_v ? 1 : 0);
      }
    }
  }
  each("sigdump_run_first_bad_layer", "gauge",
       "Index (execution order, from 0) of the first bad layer; -1 while there is none.",
       [](const run_row& r) -> std::optional<double> {
         const auto& fb = r.run->report.first_bad;
         return fb ? static_cast<double>(fb->index) : -1.0;
       });
  each("sigdump_run_worst_cos", "gauge",
       "Lowest COS over the compared layers (NaN: none yet, or a layer's COS is NaN).",
       [](const run_row& r) -> std::optional<double> { return r.worst_cos; });
  each("sigdump_run_worst_rmse", "gauge",
       "Highest RMSE over the compared layers (NaN: none yet, or a layer's RMSE is NaN).",
       [](const run_row& r) -> std::optional<double> { return r.worst_rmse; });
  each("sigdump_run_latest_layer_index", "gauge",
       "Index of the last layer compared; -1 while there is none.",
       [](const run_row& r) -> std::optional<double> {
         return static_cast<double>(r.latest_index);
       });
  each("sigdump_run_latest_layer_cos", "gauge",
       "COS of the last layer compared (NaN: none, or not comparable).",
       [](const run_row& r) -> std::optional<double> { return r.latest_cos; });
  each("sigdump_run_latest_layer_rmse", "gauge",
       "RMSE of the last layer compared (NaN: none, or not comparable).",
       [](const run_row& r) -> std::optional<double> { return r.latest_rmse; });
  each("sigdump_run_latest_layer_mse", "gauge",
       "MSE of the last layer compared (NaN: none, or not comparable).",
       [](const run_row& r) -> std::optional<double> { return r.latest_mse; });
  return x.take();
}

result<void> write_textfile(const std::string& dir, const std::string& name,
                            std::string_view text) {
  const std::string target = dir + "/" + name;
  // The temporary name does not end in .prom: the collector never reads it.
  // 0644 whatever the umask: node_exporter runs as another user.
  auto written = write_file_atomically(target, text, mode_t{0644});
  if (!written) {
    return make_error(errc::io, target, no_record, no_offset,
                      "cannot write the metrics file: " + written.error().message);
  }
  return {};
}

// ---- the exporter -------------------------------------------------------

struct metrics_exporter::writer_state {
  std::mutex mu;
  std::condition_variable cv;
  std::string dir;
  std::optional<std::string> pending;  // newest text not yet written
  bool stop = false;
  bool finished = false;  // the thread left its loop
  std::atomic<std::uint64_t> failures{0};
  std::string last_error;  // writer thread only: the error logged last

  void run() {
    std::unique_lock lock(mu);
    while (true) {
      cv.wait(lock, [&] { return pending.has_value() || stop; });
      if (!pending) break;
      std::string text = std::move(*pending);
      pending.reset();
      lock.unlock();
      write_one(text);
      lock.lock();
    }
    finished = true;
    cv.notify_all();
  }

  void write_one(const std::string& text) {
    auto r = write_textfile(dir, metrics_file_name, text);
    if (!r) {
      failures.fetch_add(1, std::memory_order_relaxed);
      // One line per distinct failure, not one per interval.
      std::string msg = r.error().describe();
      if (msg != last_error) {
        log(log_level::err, msg + " (retrying every interval; logged again only if it changes)");
        last_error = std::move(msg);
      }
    } else if (!last_error.empty()) {
      log(log_level::notice, "metrics: writing " + dir + "/" + metrics_file_name + " works again");
      last_error.clear();
    }
  }
};

metrics_exporter::metrics_exporter(event_loop& loop, daemon_state& state, metrics_config config,
                                   std::function<ipc_health()> health)
    : loop_(loop),
      state_(state),
      config_(std::move(config)),
      health_(std::move(health)),
      writer_(std::make_shared<writer_state>()) {
  writer_->dir = config_.textfile_dir;
  // Finished runs read back from the state folder count too, so a restart
  // does not usually send the counter back to 0.
  for (const auto& [n, r] : state_.runs) {
    if (r && !r->pair.empty() && r->state != run_state::live) ++finished_[r->pair];
  }
  thread_ = std::thread([w = writer_] { w->run(); });
  state_.add_sink(this);
  log(log_level::info, "metrics: writing " + config_.textfile_dir + "/" + metrics_file_name +
                           " every " + std::to_string(config_.interval.count()) + " ms");
  write_now();
  arm_timer();
}

metrics_exporter::~metrics_exporter() {
  *alive_ = false;
  state_.remove_sink(this);
  if (timer_ != 0) loop_.cancel_timer(timer_);
  write_now(false);
  std::unique_lock lock(writer_->mu);
  writer_->stop = true;
  writer_->cv.notify_all();
  const bool done =
      writer_->cv.wait_for(lock, std::chrono::seconds(5), [&] { return writer_->finished; });
  lock.unlock();
  if (done) {
    thread_.join();
  } else {
    // The thread owns its share of the state; let a hung disk keep it.
    log(log_level::warning, "metrics: the last write of " + config_.textfile_dir + "/" +
                                metrics_file_name + " did not finish in 5 s; not waiting");
    thread_.detach();
  }
}

void metrics_exporter::arm_timer() {
  if (timer_ != 0) loop_.cancel_timer(timer_);
  timer_ = loop_.add_timer(config_.interval, true, [this] { write_now(); });
}

void metrics_exporter::reconfigure(const metrics_config& config) {
  const bool new_interval = config.interval != config_.interval;
  config_.interval = config.interval;
  config_.previous_runs = config.previous_runs;
  if (new_interval) arm_timer();
  write_now();
}

void metrics_exporter::publish(const daemon_event& e) {
  bool finished = false;
  if (e.kind == event_kind::run_end && !e.pair.empty()) {
    ++finished_[e.pair];
    last_counted_[e.pair] = e.run;
    finished = true;
  } else if (e.kind == event_kind::run_revised) {
    finished = true;  // not a new run: its gauges changed
  } else if (e.kind == event_kind::run_reset && !e.previous.empty() && !e.pair.empty()) {
    // A run that had already ended was counted by its run_end.
    auto it = last_counted_.find(e.pair);
    if (it == last_counted_.end() || it->second != e.previous) {
      ++finished_[e.pair];
      last_counted_[e.pair] = e.previous;
    }
    finished = true;
  }
  if (!finished || write_posted_) return;
  // After the tracker is done with this change, not from inside publish().
  write_posted_ = true;
  std::weak_ptr<bool> alive = alive_;
  loop_.post([this, alive] {
    if (auto a = alive.lock(); !a || !*a) return;
    write_posted_ = false;
    write_now();
  });
}

void metrics_exporter::write_now(bool up) {
  metrics_inputs in;
  in.up = up;
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  in.now = static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec / 1'000'000) / 1000.0;
  if (health_) in.ipc = health_();
  in.write_failures = writer_->failures.load(std::memory_order_relaxed);
  state_.metrics_write_failures = in.write_failures;
  in.previous_runs = config_.previous_runs;
  in.runs_finished = finished_;
  std::string text = render_metrics(state_, in);
  std::lock_guard lock(writer_->mu);
  writer_->pending = std::move(text);
  writer_->cv.notify_all();
}

}  // namespace sigdump::daemon
