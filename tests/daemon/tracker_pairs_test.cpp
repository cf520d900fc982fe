// sigdumpd's pairing end to end (issue 4): a benchmark written after its
// sample, folder sides, one sample in several pairs, and a dump rewritten in
// place byte for byte. A real daemon, real writers (this process or
// `sigdump simulate`), events read back from --events-log and compared with
// `sigdump compare --json` on the finished files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <thread>

#include "core/file_runs.h"
#include "daemon_support.h"
#include "ipc_test_client.h"

namespace sigdump::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::vector<logged_event> layers_of(const std::vector<logged_event>& evs, const std::string& run) {
  std::vector<logged_event> out;
  for (const auto& e : evs) {
    if (e.event == "layer" && e.run == run) out.push_back(e);
  }
  return out;
}

// Live layers equal the offline report: same count, same order, each
// layer object (index included) identical.
void expect_equal_to_offline(const std::vector<logged_event>& live,
                             const std::vector<std::string>& offline) {
  ASSERT_FALSE(offline.empty());
  ASSERT_EQ(live.size(), offline.size());
  for (std::size_t i = 0; i < live.size(); ++i) {
    EXPECT_EQ(live[i].index, static_cast<std::int64_t>(i)) << "layers out of order";
    EXPECT_EQ(live[i].layer, offline[i]) << "layer " << i;
  }
}

// (index, name, benchmark_name) of each persisted layer line of a run log.
std::vector<std::string> persisted_layers(const std::string& state_dir, const std::string& run) {
  std::vector<std::string> out;
  std::string text;
  try {
    text = read_file(state_dir + "/runs/" + run + ".ndjson");
  } catch (...) {
    return out;
  }
  simdjson::dom::parser parser;
  std::size_t pos = 0;
  for (auto nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', pos)) {
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    simdjson::dom::element doc;
    if (parser.parse(line).get(doc)) continue;
    std::string_view t;
    if (doc["t"].get_string().get(t) || t != "layer") continue;
    std::int64_t index = -1;
    std::string_view name, bname;
    if (doc["layer"]["index"].get_int64().get(index) ||
        doc["layer"]["name"].get_string().get(name) ||
        doc["layer"]["benchmark_name"].get_string().get(bname))
      continue;
    out.push_back(std::to_string(index) + " " + std::string(name) + " " + std::string(bname));
  }
  return out;
}

std::vector<std::string> offline_keys(const std::vector<std::string>& offline) {
  std::vector<std::string> out;
  simdjson::dom::parser parser;
  for (const auto& l : offline) {
    simdjson::dom::element doc;
    if (parser.parse(l).get(doc)) continue;
    std::int64_t index = -1;
    std::string_view name, bname;
    if (doc["index"].get_int64().get(index) || doc["name"].get_string().get(name) ||
        doc["benchmark_name"].get_string().get(bname))
      continue;
    out.push_back(std::to_string(index) + " " + std::string(name) + " " + std::string(bname));
  }
  return out;
}

// Sample and benchmark of the matching-rule scenario, in execution order.
// Sample: a layer absent from the benchmark, a name repeated (n-th with
// n-th), a name only the sanitized form matches (Caffe writes "conv2_b").
const std::vector<std::string> sample_names = {
    "conv1/a", "extra/only_in_sample", "x", "conv2/b", "x", "y", "w"};
const std::vector<std::string> bench_names = {"conv1/a", "x", "conv2_b", "bench_only",
                                              "x",       "y", "w"};

std::vector<float> values_of(std::size_t layer, bool sample) {
  auto v = ramp(256, 0.01f * static_cast<float>(layer + 1));
  if (sample) {
    for (std::size_t i = 0; i < v.size(); i += 7) v[i] *= 1.0f + 0.05f * static_cast<float>(layer);
  }
  return v;
}

// Writes the two dumps step by step: 's' writes the next sample record,
// 'b' the next benchmark record; a side's file is created at its first
// step and closed after its last record. After each step it waits until
// the daemon on `socket` has seen that record, so the daemon sees the steps
// in this order.
void write_steps(const std::string& socket, const std::string& sample, const std::string& bench,
                 const std::string& steps) {
  std::unique_ptr<dump_writer> s, b;
  std::size_t si = 0, bi = 0;
  for (char c : steps) {
    const bool is_sample = c == 's';
    auto& w = is_sample ? s : b;
    std::size_t& i = is_sample ? si : bi;
    const auto& names = is_sample ? sample_names : bench_names;
    if (!w) {
      auto created = dump_writer::create(is_sample ? sample : bench);
      ASSERT_TRUE(created);
      w = std::make_unique<dump_writer>(std::move(*created));
    }
    ASSERT_LT(i, names.size());
    // The benchmark's layer carries the values of the sample layer it matches.
    static const std::size_t bench_value_layer[] = {0, 2, 3, 1, 4, 5, 6};
    const std::size_t value_layer = is_sample ? i : bench_value_layer[i];
    ASSERT_TRUE(w->write(spec_of(names[i], 256, static_cast<std::int64_t>(i)),
                         values_of(value_layer, is_sample)));
    ++i;
    if (i == names.size()) {
      ASSERT_TRUE(w->close());
    }
    const std::string& path = is_sample ? sample : bench;
    ASSERT_TRUE(wait_until([&] {
      auto t = tracked_file_status(socket, path);
      return t && t->records >= i;
    })) << path
        << " record " << i;
  }
}

class TrackerPairs : public ::testing::TestWithParam<std::string> {
 protected:
  std::string loop() const { return GetParam() == "epoll" ? "epoll" : ""; }
  temp_dir dir_;
};

struct late_case {
  const char* name;
  const char* steps;
};

// The sample's layers arrive before their benchmark layers (entirely, or
// interleaved): results, indexes and order still equal the offline report.
TEST_P(TrackerPairs, LateBenchmarkLayersEqualOfflineCompare) {
  const late_case cases[] = {
      {"sample_first", "sssssssbbbbbbb"},
      {"bench_lags", "ssbssbbsbsbsbb"},
      {"bench_starts_first", "bbbsssssssbbbb"},
  };
  fs::create_directories(dir_.file("w"));
  std::vector<std::string> args{"--watch", dir_.file("w")};
  for (const auto& c : cases) {
    args.push_back("--pair");
    args.push_back(std::string(c.name) + ":" + dir_.file("w") + "/" + c.name +
                   "_s.bin=" + dir_.file("w") + "/" + c.name + "_b.bin");
  }
  test_daemon d(dir_, args, loop());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string s = dir_.file("w") + "/" + c.name + "_s.bin";
    const std::string b = dir_.file("w") + "/" + c.name + "_b.bin";
    write_steps(dir_.file("sock"), s, b, c.steps);
    auto offline = offline_layers(s, b);
    ASSERT_EQ(offline.size(), 6u);  // the sample-only layer is not in the report
    auto start = d.wait_event([&](const logged_event& e) {
      return e.event == "run_start" && e.path == s && e.pair == c.name;
    });
    ASSERT_EQ(start.event, "run_start") << d.proc().stderr_text();
    ASSERT_TRUE(wait_until([&] { return layers_of(d.events(), start.run).size() >= 6; }))
        << d.proc().stderr_text();
    auto end = d.wait_event(
        [&](const logged_event& e) { return e.event == "run_end" && e.run == start.run; });
    ASSERT_EQ(end.event, "run_end");
    auto evs = d.events();
    expect_equal_to_offline(layers_of(evs, start.run), offline);
    // When the benchmark was still being written as the sample closed, the
    // run ends after its last layer.
    if (std::string(c.name) != "sample_first") {
      std::size_t last_layer = 0, end_pos = 0;
      for (std::size_t i = 0; i < evs.size(); ++i) {
        if (evs[i].event == "layer" && evs[i].run == start.run) last_layer = i;
        if (evs[i].event == "run_end" && evs[i].run == start.run) end_pos = i;
      }
      EXPECT_LT(last_layer, end_pos);
    }
    // The persisted run holds the same layers.
    ASSERT_TRUE(wait_until(
        [&] { return persisted_layers(dir_.file("state"), start.run).size() == offline.size(); }));
    EXPECT_EQ(persisted_layers(dir_.file("state"), start.run), offline_keys(offline));
  }
}

// The simulator's network (inputs, constants, repeated runs in one file):
// a fixed model dumped first, its float benchmark written afterwards layer
// by layer by another process.
TEST_P(TrackerPairs, SimulatedBenchmarkWrittenAfterTheSample) {
  fs::create_directories(dir_.file("w"));
  const std::string fixed = dir_.file("w") + "/fixed.bin";
  const std::string flt = dir_.file("w") + "/float.bin";
  test_daemon d(dir_, {"--pair", "fx:" + fixed + "=" + flt}, loop());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  auto r =
      run({bin_path("sigdump"), "simulate", "--mode", "fixed", "--repeat", "2", "--out", fixed});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run({bin_path("sigdump"), "simulate", "--mode", "float", "--repeat", "2", "--pace-ms", "3",
           "--out", flt});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto offline = offline_layers(fixed, flt);
  auto start = d.wait_event([&](const logged_event& e) {
    return e.event == "run_start" && e.path == fixed && e.pair == "fx";
  });
  ASSERT_EQ(start.event, "run_start");
  ASSERT_TRUE(wait_until([&] { return layers_of(d.events(), start.run).size() >= offline.size(); }))
      << d.proc().stderr_text();
  expect_equal_to_offline(layers_of(d.events(), start.run), offline);
}

// Folder sides (the dump found in the folder) and one sample in two pairs;
// three-way rows still join the fixed->float->framework chain.
TEST_P(TrackerPairs, FolderSidesAndASampleInSeveralPairs) {
  const std::string fixed_dir = dir_.file("fixed"), float_dir = dir_.file("float"),
                    fw_dir = dir_.file("fw"), two_dir = dir_.file("two");
  for (const auto& p : {fixed_dir, float_dir, fw_dir, two_dir}) fs::create_directories(p);
  auto sim = [&](const std::string& mode, const std::string& out) {
    auto r = run({bin_path("sigdump"), "simulate", "--mode", mode, "--out", out});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  };
  const std::string fixed = fixed_dir + "/sigma_outtensor_dump.bin";
  const std::string flt = float_dir + "/sigma_outtensor_dump.bin";
  const std::string fw = fw_dir + "/onnx_NHWC_outtensor_dump.bin";
  // The framework dump: any dump with the same names will do.
  sim("float", flt);
  {
    auto r = run({bin_path("sigdump"), "simulate", "--mode", "fixed", "--dequant", "--out", fw});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // Another dump beside the float model's: the folder's sigma_outtensor_dump.bin wins.
  sim("fixed", float_dir + "/old_outtensor_dump.bin");
  // Two dumps and no sigma_outtensor_dump.bin: ambiguous, reported once.
  sim("float", two_dir + "/a_outtensor_dump.bin");
  sim("float", two_dir + "/b_outtensor_dump.bin");

  test_daemon d(
      dir_,
      {"--pair", "quant:" + fixed_dir + "=" + float_dir, "--pair", "conv:" + float_dir + "=" + fw,
       "--pair", "fxfw:" + fixed + "=" + fw_dir, "--pair", "amb:" + fixed_dir + "=" + two_dir},
      loop());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  sim("fixed", fixed);  // written while the daemon watches

  const std::map<std::string, std::pair<std::string, std::string>> expected = {
      {"quant", {fixed, flt}}, {"conv", {flt, fw}}, {"fxfw", {fixed, fw}}};
  std::map<std::string, std::string> run_of;
  for (const auto& [pair, files] : expected) {
    SCOPED_TRACE(pair);
    auto offline = offline_layers(files.first, files.second);
    logged_event start;
    ASSERT_TRUE(wait_until([&] {
      start = d.wait_event(
          [&](const logged_event& e) {
            return e.event == "run_start" && e.pair == pair && e.path == files.first &&
                   layers_of(d.events(), e.run).size() >= offline.size();
          },
          100ms);
      return !start.run.empty();
    })) << d.proc().stderr_text();
    expect_equal_to_offline(layers_of(d.events(), start.run), offline);
    run_of[pair] = start.run;
  }
  // The fixed dump is the sample of three pairs: one run each, same path.
  EXPECT_NE(run_of["quant"], run_of["fxfw"]);
  // The ambiguous folder: a run but no layers, and one error line.
  auto amb = d.wait_event([&](const logged_event& e) {
    return e.event == "run_start" && e.pair == "amb" && e.path == fixed;
  });
  ASSERT_EQ(amb.event, "run_start");
  EXPECT_TRUE(layers_of(d.events(), amb.run).empty());
  const std::string err = d.proc().stderr_text();
  const std::string what = "pair side " + two_dir + " holds 2 dump files";
  ASSERT_NE(err.find(what), std::string::npos) << err;
  EXPECT_EQ(err.find(what, err.find(what) + 1), std::string::npos) << "logged more than once";

  // Three-way rows join quant (fixed vs float) and conv (float vs framework).
  auto st = run({bin_path("sigdump"), "status", "--json", "--socket", dir_.file("sock")});
  ASSERT_EQ(st.exit_code, 0) << st.err;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser.parse(st.out).get(doc)) << st.out;
  simdjson::dom::array pairs;
  ASSERT_FALSE(doc["pairs"].get_array().get(pairs));
  bool found = false;
  for (auto p : pairs) {
    std::string_view name;
    if (p["name"].get_string().get(name) || name != "quant") continue;
    simdjson::dom::array rows;
    ASSERT_FALSE(p["three_way"].get_array().get(rows)) << simdjson::minify(p);
    EXPECT_EQ(rows.size(), offline_layers(fixed, flt).size());
    found = true;
  }
  EXPECT_TRUE(found);
}

// A rewrite that completes between two looks, byte for byte identical, is a
// new run ("rewritten"); reads and stats are not.
TEST_P(TrackerPairs, ByteIdenticalRewriteStartsANewRun) {
  fs::create_directories(dir_.file("w"));
  const std::string fixed = dir_.file("w") + "/fixed.bin";
  const std::string flt = dir_.file("w") + "/float.bin";
  for (const auto& [mode, out] : {std::pair{"fixed", fixed}, std::pair{"float", flt}}) {
    auto r = run({bin_path("sigdump"), "simulate", "--mode", mode, "--out", out});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const std::string bytes = read_file(fixed);
  const std::size_t n_layers = offline_layers(fixed, flt).size();
  test_daemon d(dir_, {"--watch", dir_.file("w"), "--pair", "fx:" + fixed + "=" + flt}, loop());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  auto first =
      d.wait_event([&](const logged_event& e) { return e.event == "run_end" && e.path == fixed; });
  ASSERT_EQ(first.event, "run_end") << d.proc().stderr_text();

  // Reads and stats after the run ended change nothing.
  EXPECT_EQ(read_file(fixed), bytes);
  std::error_code ec;
  (void)fs::file_size(fixed, ec);
  // The stat timer looks at each finished file at least twice meanwhile.
  const auto ticks = daemon_counter(dir_.file("sock"), "stat_ticks");
  ASSERT_TRUE(ticks);
  ASSERT_TRUE(wait_until([&] {
    return daemon_counter(dir_.file("sock"), "stat_ticks").value_or(0) >=
           *ticks + 2 * daemon::file_runs::finished_period + 1;
  }));
  auto resets = [&] {
    std::size_t n = 0;
    for (const auto& e : d.events()) n += e.event == "run_reset" && e.path == fixed ? 1 : 0;
    return n;
  };
  EXPECT_EQ(resets(), 0u);

  auto frozen_rewrite = [&](bool close_it) {
    // The daemon is stopped while the writer truncates and writes the same
    // bytes again: it only sees the finished file.
    ASSERT_TRUE(d.proc().signal(SIGSTOP));
    // The test's input, not a wait for the daemon (it is stopped): the
    // rewrite gets an mtime the coarse file system clock tells apart.
    std::this_thread::sleep_for(20ms);
    int fd = ::open(fixed.c_str(), O_WRONLY | O_CLOEXEC | (close_it ? O_TRUNC : 0));
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ASSERT_TRUE(d.proc().signal(SIGCONT));
    if (close_it) {
      ::close(fd);
    } else {
      // Still open: the timer's second look confirms it.
      ASSERT_TRUE(wait_until([&] { return resets() == 2; }));
      ::close(fd);
    }
  };
  frozen_rewrite(true);
  auto reset = d.wait_event([&](const logged_event& e) {
    return e.event == "run_reset" && e.path == fixed && e.previous == first.run;
  });
  ASSERT_EQ(reset.event, "run_reset") << d.proc().stderr_text();
  EXPECT_EQ(reset.reason, "rewritten");
  auto end = d.wait_event(
      [&](const logged_event& e) { return e.event == "run_end" && e.run == reset.run; });
  ASSERT_EQ(end.event, "run_end");
  expect_equal_to_offline(layers_of(d.events(), reset.run), offline_layers(fixed, flt));
  EXPECT_EQ(layers_of(d.events(), reset.run).size(), n_layers);

  // Written in place again through a descriptor kept open (no close).
  frozen_rewrite(false);
  auto again = d.wait_event([&](const logged_event& e) {
    return e.event == "run_reset" && e.path == fixed && e.previous == reset.run;
  });
  ASSERT_EQ(again.event, "run_reset");
  EXPECT_EQ(again.reason, "rewritten");
  EXPECT_EQ(resets(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Loops, TrackerPairs, ::testing::Values("io_uring", "epoll"),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace sigdump::testing
