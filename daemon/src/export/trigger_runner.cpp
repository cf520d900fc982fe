#include "export/trigger_runner.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdint>

#include "platform/log.h"

extern char** environ;

namespace sigdump::daemon {

namespace {

constexpr const char* our_variables[] = {
    "SIGDUMP_EVENT",      "SIGDUMP_PAIR",      "SIGDUMP_RUN",   "SIGDUMP_LAYER_INDEX",
    "SIGDUMP_LAYER_NAME", "SIGDUMP_COS",       "SIGDUMP_RMSE",  "SIGDUMP_DIAGNOSIS",
    "SIGDUMP_SAMPLE",     "SIGDUMP_BENCHMARK", "SIGDUMP_SOCKET"};

bool ours(std::string_view entry) {
  return std::ranges::any_of(our_variables, [&](std::string_view v) {
    return entry.size() > v.size() && entry.starts_with(v) && entry[v.size()] == '=';
  });
}

std::string number(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// The compared layer at report index `index` of run `run`, or nullptr.
const layer_result* layer_at(const daemon_state& state, const daemon_event& e,
                             std::uint32_t index) {
  if (e.layer && e.layer->index == index) return &*e.layer;
  auto r = state.find_run(e.run);
  if (!r) return nullptr;
  auto it = std::ranges::find_if(r->report.layers,
                                 [&](const layer_result& l) { return l.index == index; });
  return it == r->report.layers.end() ? nullptr : &*it;
}

}  // namespace

trigger_runner::trigger_runner(event_loop& loop, daemon_state& state)
    : loop_(loop), state_(state), stop_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  state_.add_sink(this);
}

trigger_runner::~trigger_runner() {
  state_.remove_sink(this);
  if (!jobs_.empty()) {
    log(log_level::info, "stopping " + std::to_string(jobs_.size()) + " running trigger command" +
                             (jobs_.size() == 1 ? "" : "s"));
  }
  const std::uint64_t one = 1;
  if (stop_) [[maybe_unused]]
    auto n = ::write(stop_.get(), &one, sizeof one);
  for (auto& j : jobs_) {
    if (j.thread.joinable()) j.thread.join();
  }
}

void trigger_runner::configure(const std::vector<trigger_config>& triggers) {
  std::vector<trigger_stats> next;
  for (const auto& t : triggers) {
    auto old = std::ranges::find_if(
        state_.triggers, [&](const trigger_stats& s) { return s.config.name == t.name; });
    trigger_stats s = old != state_.triggers.end() ? *old : trigger_stats{};
    s.config = t;
    next.push_back(std::move(s));
  }
  state_.triggers = std::move(next);
}

void trigger_runner::publish(const daemon_event& e) {
  if (e.kind == event_kind::run_reset) first_bad_seen_.erase(e.previous);
  if (e.pair.empty() || state_.triggers.empty()) return;
  // The first bad layer fires once per run: on the layer event that first
  // names it, or at run_end when no layer event did.
  const first_bad_layer* first_bad = nullptr;
  if ((e.kind == event_kind::layer || e.kind == event_kind::run_end) && e.first_bad &&
      first_bad_seen_.insert(e.run).second) {
    first_bad = &*e.first_bad;
  }
  if (e.kind == event_kind::run_end) first_bad_seen_.erase(e.run);
  for (auto& t : state_.triggers) {
    if (!t.config.pair.empty() && t.config.pair != e.pair) continue;
    switch (t.config.on) {
      case trigger_on::run_start:
        if (e.kind == event_kind::run_start) start(t, "run_start", e, nullptr);
        break;
      case trigger_on::run_end:
        if (e.kind == event_kind::run_end)
          start(t, "run_end", e, e.first_bad ? &*e.first_bad : nullptr);
        break;
      case trigger_on::first_bad:
        if (first_bad != nullptr) start(t, "first_bad", e, first_bad);
        break;
      case trigger_on::suspect:
        if (e.kind == event_kind::layer && e.suspect_layer()) {
          const first_bad_layer here{e.layer->index, e.layer->name, {}};
          start(t, "suspect", e, &here);
        }
        break;
    }
  }
}

std::vector<std::string> trigger_runner::environment(const char* event, const daemon_event& e,
                                                     const first_bad_layer* layer) const {
  std::vector<std::string> env;
  for (char** p = environ; p != nullptr && *p != nullptr; ++p) {
    if (!ours(*p)) env.emplace_back(*p);
  }
  const pair_info* pair = state_.find_pair(e.pair);
  const layer_result* l = layer != nullptr ? layer_at(state_, e, layer->index) : nullptr;
  const bool compared = l != nullptr && l->error.empty();
  std::string diagnosis;
  if (e.diagnosis) {
    diagnosis = e.diagnosis->text;
  } else if (auto r = state_.find_run(e.run)) {
    diagnosis = r->report.diagnosis.text;
  }
  env.push_back(std::string("SIGDUMP_EVENT=") + event);
  env.push_back("SIGDUMP_PAIR=" + e.pair);
  env.push_back("SIGDUMP_RUN=" + e.run);
  env.push_back("SIGDUMP_LAYER_INDEX=" + (layer ? std::to_string(layer->index) : std::string()));
  env.push_back("SIGDUMP_LAYER_NAME=" + (layer ? layer->name : std::string()));
  env.push_back("SIGDUMP_COS=" + (compared ? number(l->metrics.cos) : std::string()));
  env.push_back("SIGDUMP_RMSE=" + (compared ? number(l->metrics.rmse) : std::string()));
  env.push_back("SIGDUMP_DIAGNOSIS=" + diagnosis);
  env.push_back("SIGDUMP_SAMPLE=" + (pair ? pair->sample_key() : std::string()));
  env.push_back("SIGDUMP_BENCHMARK=" + (pair ? pair->benchmark_key() : std::string()));
  env.push_back("SIGDUMP_SOCKET=" + socket_);
  return env;
}

void trigger_runner::start(trigger_stats& t, const char* event, const daemon_event& e,
                           const first_bad_layer* layer) {
  const std::string& name = t.config.name;
  if (std::ranges::any_of(jobs_,
                          [&](const job& j) { return j.trigger == name && j.run == e.run; })) {
    ++t.skipped;
    log(log_level::debug, "trigger " + name + ": " + event + " of " + e.run +
                              " skipped, the command still runs for that run");
    return;
  }
  child_spec spec;
  spec.argv = t.config.command;
  spec.env = environment(event, e, layer);
  spec.stdin_text = event_json(e) + "\n";
  spec.timeout = t.config.timeout;
  spec.stop_fd = stop_.get();
  spec.on_line = [name](bool from_stderr, std::string_view line) {
    log(from_stderr ? log_level::warning : log_level::info,
        "trigger " + name + ": " + std::string(line));
  };
  ++t.runs;
  ++t.running;
  log(log_level::info, "trigger " + name + ": " + event + " of " + e.run + " (pair " + e.pair +
                           "): running " + t.config.command.front());
  const std::uint64_t id = next_job_++;
  job& j = jobs_.emplace_back();
  j.id = id;
  j.trigger = name;
  j.run = e.run;
  j.thread = std::thread([this, id, spec = std::move(spec)] {
    child_outcome outcome = run_child(spec);
    loop_.post([this, id, outcome] { finish(id, outcome); });
  });
}

void trigger_runner::finish(std::uint64_t id, const child_outcome& outcome) {
  auto it = std::ranges::find_if(jobs_, [&](const job& j) { return j.id == id; });
  if (it == jobs_.end()) return;
  if (it->thread.joinable()) it->thread.join();  // it has posted: it is returning
  auto t = std::ranges::find_if(
      state_.triggers, [&](const trigger_stats& s) { return s.config.name == it->trigger; });
  if (t != state_.triggers.end()) {
    if (t->running > 0) --t->running;
    if (outcome.what == child_outcome::how::timed_out) {
      ++t->timeouts;
    } else if (outcome.failed()) {
      ++t->failures;
    }
  }
  std::string line = "trigger " + it->trigger + " (" + it->run + "): " + outcome.describe();
  if (outcome.what == child_outcome::how::timed_out) line += ", its process group killed";
  if (outcome.dropped > 0) {
    line += "; " + std::to_string(outcome.dropped) + " more output lines not logged";
  }
  log(outcome.failed() ? log_level::warning : log_level::info, line);
  jobs_.erase(it);
}

}  // namespace sigdump::daemon
