// Shared by the daemon tests that run one pair (sample and benchmark in one
// watched folder) against a real sigdumpd under both event loops: the
// fixture, and the runs as the `runs` method lists them.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon_support.h"
#include "ipc_test_client.h"

namespace sigdump::testing {

namespace fs = std::filesystem;

// One run as `runs` lists it.
struct listed_run {
  std::string state, end_reason;
  std::uint64_t records = 0, layers = 0;
  std::uint64_t benchmark_only = 0;                   // its coverage's
  std::uint64_t compared = 0, lost = 0, pending = 0;  // its coverage's
  std::string coverage_text;                          // its coverage's `text`
  std::string benchmark_run, copy;                    // copy: its archived copy's path ("": none)
  bool copy_synced = false;       // the copy is made and on disk (the copier is done with it)
  std::optional<bool> persisted;  // every line of it is in its state log (none: not said)
};

inline std::map<std::string, listed_run> list_runs(const std::string& socket) {
  std::map<std::string, listed_run> out;
  raw_client c(socket);
  if (!c.connected()) return out;
  auto m = c.call("runs");
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  simdjson::dom::array list;
  if (p.parse(m.result).get(doc) || doc["runs"].get_array().get(list)) return out;
  for (simdjson::dom::element r : list) {
    std::string_view id, state, end, bench, copy;
    listed_run l;
    if (r["run"].get_string().get(id)) continue;
    if (!r["state"].get_string().get(state)) l.state = std::string(state);
    if (!r["end_reason"].get_string().get(end)) l.end_reason = std::string(end);
    if (r["records"].get_uint64().get(l.records)) l.records = 0;
    if (r["layers"].get_uint64().get(l.layers)) l.layers = 0;
    if (r["coverage"]["benchmark_only"].get_uint64().get(l.benchmark_only)) l.benchmark_only = 0;
    if (r["coverage"]["compared"].get_uint64().get(l.compared)) l.compared = 0;
    if (r["coverage"]["lost"].get_uint64().get(l.lost)) l.lost = 0;
    if (r["coverage"]["pending"].get_uint64().get(l.pending)) l.pending = 0;
    std::string_view text;
    if (!r["coverage"]["text"].get_string().get(text)) l.coverage_text = std::string(text);
    if (bool yes = false; !r["persisted"].get_bool().get(yes)) l.persisted = yes;
    if (!r["benchmark_run"].get_string().get(bench)) l.benchmark_run = std::string(bench);
    if (!r["archive"]["path"].get_string().get(copy)) l.copy = std::string(copy);
    bool copying = false;
    if (!r["archive"]["copying"].get_bool().get(copying) && !copying) {
      if (r["archive"]["synced"].get_bool().get(l.copy_synced)) l.copy_synced = false;
    }
    out[std::string(id)] = l;
  }
  return out;
}

// The persisted flag of every run `runs` lists, by run id: whether every
// line of the run is in its state log (written off the loop, so a layer's
// event may come first).
inline std::map<std::string, bool> persisted_runs(const std::string& socket) {
  std::map<std::string, bool> out;
  for (const auto& [id, r] : list_runs(socket)) {
    if (r.persisted) out[id] = *r.persisted;
  }
  return out;
}

inline std::size_t count_files(const std::string& dir) {
  std::size_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!name.empty() && name[0] == 'r') ++n;
  }
  return n;
}

inline std::size_t count_events(const std::vector<logged_event>& evs, const std::string& kind) {
  std::size_t n = 0;
  for (const auto& e : evs) n += e.event == kind ? 1 : 0;
  return n;
}

// Each index of run `run` as last published.
inline std::map<std::int64_t, std::string> last_layers(const std::vector<logged_event>& evs,
                                                       const std::string& run) {
  std::map<std::int64_t, std::string> out;
  for (const auto& e : evs) {
    if (e.event == "layer" && e.run == run) out[e.index] = e.layer;
  }
  return out;
}

// Every layer `run` published is the one `sigdump compare` gives (offline,
// by index) on the bytes it had.
inline void expect_layers_match(const std::vector<logged_event>& evs, const std::string& run,
                                const std::vector<std::string>& offline) {
  for (const auto& [i, layer] : last_layers(evs, run)) {
    ASSERT_LT(i, static_cast<std::int64_t>(offline.size())) << run;
    EXPECT_EQ(layer, offline[static_cast<std::size_t>(i)]) << run << " layer " << i;
  }
}

// The coverage of run `run` as `runs` shows it: its text, and its counts
// in compared, lost and pending (an empty text, counts untouched, when it
// is not listed).
inline std::string coverage_of(const std::string& socket, const std::string& run,
                               std::uint64_t& compared, std::uint64_t& lost,
                               std::uint64_t& pending) {
  const auto runs = list_runs(socket);
  const auto it = runs.find(run);
  if (it == runs.end()) return {};
  compared = it->second.compared;
  lost = it->second.lost;
  pending = it->second.pending;
  return it->second.coverage_text;
}

// A run as the events log tells it, checked on the way: one run_start, its
// layers, then one run_end.
struct told_run {
  std::string end_reason;
  std::size_t layers = 0;
  int ends = 0;
};

// The runs of `path` in evs, in the order they started; each is checked to
// have one run_start, then its layers, then one run_end.
inline std::vector<std::pair<std::string, told_run>> told_runs(const std::vector<logged_event>& evs,
                                                               const std::string& path) {
  std::vector<std::pair<std::string, told_run>> out;
  std::map<std::string, std::size_t> at;
  for (const auto& e : evs) {
    if (e.path != path) continue;
    if (e.event == "run_start") {
      EXPECT_FALSE(at.contains(e.run)) << "second run_start of " << e.run;
      at[e.run] = out.size();
      out.push_back({e.run, {}});
      continue;
    }
    if (e.event != "run_end" && e.event != "layer") continue;
    auto it = at.find(e.run);
    if (it == at.end()) {
      ADD_FAILURE() << e.event << " before run_start of " << e.run;
      continue;
    }
    told_run& r = out[it->second].second;
    if (e.event == "run_end") {
      EXPECT_EQ(r.ends++, 0) << "second run_end of " << e.run;
      r.end_reason = e.reason;
    } else {
      EXPECT_EQ(r.ends, 0) << "layer after run_end of " << e.run;
      ++r.layers;
    }
  }
  return out;
}

// Each run_end's coverage in the events log at events_path, by run: the
// sample layers the run held, and those still pending.
inline std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> ended_coverage(
    const std::string& events_path) {
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> held_pending;
  for (const auto& line : ndjson_lines(events_path)) {
    simdjson::dom::parser p;
    simdjson::dom::element e;
    std::string_view kind, run;
    std::uint64_t held = 0, pending = 0;
    if (p.parse(line).get(e) || e["event"].get_string().get(kind) || kind != "run_end" ||
        e["run"].get_string().get(run) || e["coverage"]["sample_layers"].get_uint64().get(held) ||
        e["coverage"]["pending"].get_uint64().get(pending)) {
      continue;
    }
    held_pending[std::string(run)] = {held, pending};
  }
  return held_pending;
}

class PairDaemonTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { fs::create_directories(dumps_); }
  std::string loop() const { return GetParam() == "epoll" ? "epoll" : ""; }
  std::vector<std::string> args() const {
    return {"--watch", dumps_, "--archive-dir", arch_, "--pair", "p:" + sample_ + "=" + bench_};
  }
  /* With `more` options after the fixture's (a later one wins), and `env`
     (NAME=VALUE) in its environment. */
  std::unique_ptr<test_daemon> start(const std::vector<std::string>& more = {},
                                     const std::vector<std::string>& env = {}) {
    auto all = args();
    all.insert(all.end(), more.begin(), more.end());
    auto d = std::make_unique<test_daemon>(dir_, all, loop(), "state", env);
    EXPECT_TRUE(d->wait_ready()) << d->proc().stderr_text();
    return d;
  }
  static void stop(test_daemon& d) {
    ASSERT_TRUE(d.proc().signal(SIGTERM));
    ASSERT_EQ(d.proc().wait(), 0) << d.proc().stderr_text();
  }
  void write_dump(const std::string& path, int layers, float scale) {
    auto w = dump_writer::create(path);
    ASSERT_TRUE(w);
    for (int i = 0; i < layers; ++i) {
      ASSERT_TRUE(w->write(spec_of("net/l" + std::to_string(i), 256, i), ramp(256, scale)));
    }
    ASSERT_TRUE(w->close());
  }
  // Waits until every run listed is ended and its copy synced.
  bool settled() {
    return wait_until([&] {
      raw_client c(dir_.file("sock"));
      if (!c.connected()) return false;
      auto m = c.call("runs");
      return !m.result.empty() && m.result.find("\"state\":\"live\"") == std::string::npos &&
             m.result.find("\"synced\":false") == std::string::npos &&
             m.result.find("\"archive\":null") == std::string::npos;
    });
  }

  // `sigdump CMD --socket SOCK MORE...` against the fixture's daemon.
  run_result sigdump(const std::string& cmd, const std::vector<std::string>& more = {}) const {
    std::vector<std::string> argv{bin_path("sigdump"), cmd, "--socket", dir_.file("sock")};
    argv.insert(argv.end(), more.begin(), more.end());
    return run(argv, {},
               {"XDG_CONFIG_HOME=" + dir_.file("no-config"),
                "XDG_RUNTIME_DIR=" + dir_.path().string(), "NO_COLOR=1"},
               std::chrono::seconds(30));
  }

  temp_dir dir_;
  std::string dumps_ = dir_.file("dumps");
  std::string arch_ = dir_.file("arch");
  std::string sample_ = dumps_ + "/sample_outtensor_dump.bin";
  std::string bench_ = dumps_ + "/bench_outtensor_dump.bin";
};

}  // namespace sigdump::testing
