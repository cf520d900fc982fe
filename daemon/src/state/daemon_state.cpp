#include "state/daemon_state.h"

#include <sys/stat.h>

#include <algorithm>
#include <unordered_map>

#include "sigdump/ipc/clock.h"

namespace sigdump::daemon {

const char* watched_kind_name(watched_path::kind k) noexcept {
  return k == watched_path::kind::dir ? "dir" : "file";
}

const char* run_state_name(run_state s) noexcept {
  switch (s) {
    case run_state::live: return "live";
    case run_state::ended: return "ended";
    case run_state::reset: return "reset";
  }
  return "ended";
}

std::uint64_t run_info::suspect_count() const noexcept {
  return static_cast<std::uint64_t>(
      std::count_if(report.layers.begin(), report.layers.end(),
                    [](const layer_result& l) { return l.suspect || !l.error.empty(); }));
}

std::string daemon_state::clock() const {
  return ipc::format_clock(ipc::event_clock{start_, pid_, tick_});
}

std::shared_ptr<run_info> daemon_state::find_run(std::string_view id) const {
  if (id.size() < 2 || id[0] != 'r') return nullptr;
  std::uint64_t n = 0;
  for (char c : id.substr(1)) {
    if (c < '0' || c > '9') return nullptr;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  auto it = runs.find(n);
  return it == runs.end() ? nullptr : it->second;
}

std::shared_ptr<run_info> daemon_state::latest_run_of(std::string_view path) const {
  for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
    if (it->second->path == path) return it->second;
  }
  return nullptr;
}

std::string daemon_state::current_run_id(const std::string& path) const {
  auto f = files.find(path);
  if (f == files.end() || !f->second || f->second->run == 0) return {};
  return "r" + std::to_string(f->second->run);
}

const pair_info* daemon_state::find_pair(std::string_view name) const {
  for (const auto& p : pairs) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

bool daemon_state::exists_now(const watched_path& w) const {
  if (files.contains(w.path)) return true;
  struct stat st {};
  return ::stat(w.path.c_str(), &st) == 0;
}

const compare_options& daemon_state::compare_for(std::string_view name) const {
  const pair_info* p = name.empty() ? nullptr : find_pair(name);
  return p != nullptr && p->compare ? *p->compare : compare;
}

std::optional<std::vector<three_way_row>> daemon_state::three_way(const pair_info& p) const {
  // quant: fixed vs float (sample fixed, benchmark float);
  // conv: float vs framework (sample float). They share the float file.
  const pair_info* quant = nullptr;
  const pair_info* conv = nullptr;
  for (const auto& q : pairs) {
    if (&q == &p) continue;
    if (q.sample_key() == p.benchmark_key()) {
      quant = &p;
      conv = &q;
      break;
    }
    if (q.benchmark_key() == p.sample_key()) {
      quant = &q;
      conv = &p;
      break;
    }
  }
  if (quant == nullptr || conv == nullptr) return std::nullopt;
  auto qrun = runs.find(quant->run);
  auto crun = runs.find(conv->run);
  std::vector<three_way_row> rows;
  if (qrun == runs.end() || crun == runs.end()) return rows;
  // The float model's layer is the quant pair's benchmark name and the
  // conversion pair's sample name.
  std::unordered_map<std::string, const layer_result*> conv_by_name;
  for (const auto& l : crun->second->report.layers) conv_by_name.emplace(l.name, &l);
  for (const auto& l : qrun->second->report.layers) {
    auto c = conv_by_name.find(l.benchmark_name.empty() ? l.name : l.benchmark_name);
    if (c == conv_by_name.end()) continue;
    three_way_row row;
    row.index = l.index;
    row.name = &p == quant ? l.name : c->second->name;
    if (&p == conv) row.index = c->second->index;
    row.quantization_cos = l.metrics.cos;
    row.quantization_rmse = l.metrics.rmse;
    row.conversion_cos = c->second->metrics.cos;
    row.conversion_rmse = c->second->metrics.rmse;
    rows.push_back(std::move(row));
  }
  std::sort(rows.begin(), rows.end(),
            [](const three_way_row& a, const three_way_row& b) { return a.index < b.index; });
  return rows;
}

void daemon_state::remove_sink(event_sink* s) {
  sinks_.erase(std::remove(sinks_.begin(), sinks_.end(), s), sinks_.end());
}

void daemon_state::publish(daemon_event& e) {
  e.tick = ++tick_;
  e.clock = clock();
  for (event_sink* s : std::vector<event_sink*>(sinks_)) s->publish(e);
}

void daemon_state::run_changed(const run_info& r) {
  for (event_sink* s : std::vector<event_sink*>(sinks_)) s->run_changed(r);
}

}  // namespace sigdump::daemon
