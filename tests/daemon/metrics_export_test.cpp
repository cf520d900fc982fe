// The monitoring export: rendering of the Prometheus text (escaping, NaN,
// bounded runs, grouping), the atomic textfile writer and its failure paths,
// and a real sigdumpd whose .prom file must agree with `sigdump compare --json`.
#include "export/metrics_export.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "daemon_support.h"
#include "ipc_test_client.h"

namespace sigdump::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using daemon::daemon_state;
using daemon::metrics_inputs;
using daemon::run_info;
using daemon::run_state;

constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();

// Every sample line "NAME{LABELS} VALUE" of an exposition text, keyed by
// everything before the value.
std::map<std::string, std::string> samples_of(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto sp = line.rfind(' ');
    if (sp == std::string::npos) continue;
    out[line.substr(0, sp)] = line.substr(sp + 1);
  }
  return out;
}

// The value of one series; NaN when it is absent (checked separately).
double value_of(const std::map<std::string, std::string>& s, const std::string& key) {
  auto it = s.find(key);
  if (it == s.end()) {
    ADD_FAILURE() << "no series " << key;
    return nan_v;
  }
  return std::strtod(it->second.c_str(), nullptr);
}

std::shared_ptr<run_info> make_run(std::uint64_t n, const std::string& pair,
                                   std::vector<double> cos, run_state st = run_state::ended) {
  auto r = std::make_shared<run_info>();
  r->number = n;
  r->id = "r" + std::to_string(n);
  r->pair = pair;
  r->path = "/dumps/" + pair + "/sample.bin";
  r->state = st;
  r->started = 1000 + static_cast<std::int64_t>(n);
  r->ended = st == run_state::live ? 0 : 2000 + static_cast<std::int64_t>(n);
  for (std::size_t i = 0; i < cos.size(); ++i) {
    layer_result l;
    l.index = static_cast<std::uint32_t>(i);
    l.name = "layer" + std::to_string(i);
    l.metrics.cos = cos[i];
    l.metrics.rmse = 1.0 - cos[i];
    l.metrics.mse = (1.0 - cos[i]) / 10;
    l.suspect = !(cos[i] >= 0.99);
    r->report.layers.push_back(l);
  }
  return r;
}

void add_pair(daemon_state& st, const std::string& name, std::uint64_t current) {
  daemon::pair_info p;
  p.name = name;
  p.sample = "/dumps/" + name + "/sample.bin";
  p.benchmark = "/dumps/" + name + "/bench.bin";
  p.run = current;
  st.pairs.push_back(p);
}

TEST(MetricsExport, EscapesLabelValuesAndKeepsUtf8) {
  EXPECT_EQ(daemon::escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  const std::string utf8 = "/données/путь/数据/🙂.bin";
  EXPECT_EQ(daemon::escape_label_value(utf8), utf8);
  // Not UTF-8 (a Latin-1 byte, a cut sequence, an overlong '/', a
  // surrogate): each bad byte becomes U+FFFD so the scrape stays valid.
  EXPECT_EQ(daemon::escape_label_value("a\xE9z"), "a\xEF\xBF\xBDz");
  EXPECT_EQ(daemon::escape_label_value("x\xE2\x82"), "x\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(daemon::escape_label_value("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(daemon::escape_label_value("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(MetricsExport, FormatsValuesAsPrometheusParsesThem) {
  EXPECT_EQ(daemon::format_metric_value(nan_v), "NaN");
  EXPECT_EQ(daemon::format_metric_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(daemon::format_metric_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(daemon::format_metric_value(13), "13");
  EXPECT_EQ(daemon::format_metric_value(-1), "-1");
  const double x = 0.9999930134625842;
  EXPECT_EQ(std::strtod(daemon::format_metric_value(x).c_str(), nullptr), x);  // round trip
}

TEST(MetricsExport, RendersRunsWithNaNAndEscapedLabels) {
  daemon_state st(1764183000, 4242);
  st.event_loop_name = "epoll";
  const std::string odd = "fx \"q\"\\\nné";  // quote, backslash, newline, UTF-8
  add_pair(st, odd, 2);
  add_pair(st, "empty", 0);
  st.runs[1] = make_run(1, odd, {0.9999, 0.95, 0.999});
  st.runs[1]->report.first_bad = first_bad_layer{1, "layer1", "COS 0.95 < 0.99"};
  st.runs[2] = make_run(2, odd, {0.9999, nan_v, 0.5, 0.999}, run_state::live);
  st.runs[2]->report.layers[3].error = "not comparable: shapes differ";
  st.runs[1]->report.coverage.sample_layers = 5;
  st.runs[1]->report.coverage.sample_only_layers = {{3, "a"}, {4, "b"}};
  st.runs[1]->report.coverage.benchmark_only = 1;
  count_coverage(st.runs[1]->report);
  st.runs[2]->report.coverage.sample_layers = 7;
  st.runs[2]->report.coverage.lost = 1;
  count_coverage(st.runs[2]->report);
  metrics_inputs in;
  in.now = 1764183100.5;
  in.runs_finished[odd] = 7;
  in.ipc.subscriptions = 2;
  in.ipc.dropped_events = 37;
  const std::string text = daemon::render_metrics(st, in);
  auto s = samples_of(text);
  const std::string lp = "pair=\"fx \\\"q\\\"\\\\\\nné\"";
  const std::string r1 = "{" + lp + ",run=\"r1\"}", r2 = "{" + lp + ",run=\"r2\"}";

  EXPECT_EQ(s["sigdump_daemon_up"], "1");
  EXPECT_EQ(s["sigdump_daemon_start_time_seconds"], "1764183000");
  EXPECT_EQ(s["sigdump_metrics_timestamp_seconds"], "1764183100.5");
  EXPECT_EQ(s["sigdump_daemon_subscriptions"], "2");
  EXPECT_EQ(s["sigdump_daemon_dropped_events_total"], "37");
  EXPECT_EQ(s["sigdump_daemon_runs"], "2");
  EXPECT_EQ(s["sigdump_pair_runs_finished_total{" + lp + "}"], "7");
  EXPECT_EQ(s["sigdump_pair_runs_finished_total{pair=\"empty\"}"], "0");

  // Ended run r1: a first bad layer, finite worst values.
  EXPECT_EQ(s["sigdump_run_current" + r1], "0");
  EXPECT_EQ(s["sigdump_run_live" + r1], "0");
  EXPECT_EQ(s["sigdump_run_layers_compared" + r1], "3");
  EXPECT_EQ(s["sigdump_run_suspect_layers" + r1], "1");
  EXPECT_EQ(s["sigdump_run_first_bad_layer" + r1], "1");
  EXPECT_EQ(value_of(s, "sigdump_run_worst_cos" + r1), 0.95);
  EXPECT_EQ(s["sigdump_run_end_time_seconds" + r1], "2001");
  EXPECT_EQ(value_of(s, "sigdump_run_latest_layer_cos" + r1), 0.999);

  // Live run r2: a NaN COS is the worst; the last layer was not comparable.
  EXPECT_EQ(s["sigdump_run_current" + r2], "1");
  EXPECT_EQ(s["sigdump_run_live" + r2], "1");
  EXPECT_EQ(s["sigdump_run_worst_cos" + r2], "NaN");
  EXPECT_EQ(s["sigdump_run_worst_rmse" + r2], "NaN");
  EXPECT_EQ(s["sigdump_run_first_bad_layer" + r2], "-1");
  EXPECT_EQ(s["sigdump_run_latest_layer_index" + r2], "3");
  EXPECT_EQ(s["sigdump_run_latest_layer_cos" + r2], "NaN");
  EXPECT_EQ(s["sigdump_run_suspect_layers" + r2], "3");  // NaN, 0.5, not comparable
  EXPECT_EQ(s.count("sigdump_run_end_time_seconds" + r2), 0u);

  // Coverage and verdict.
  EXPECT_EQ(s["sigdump_run_sample_layers" + r1], "5");
  EXPECT_EQ(s["sigdump_run_sample_only_layers" + r1], "2");
  EXPECT_EQ(s["sigdump_run_benchmark_only_layers" + r1], "1");
  EXPECT_EQ(s["sigdump_run_pending_layers" + r2], "2");
  EXPECT_EQ(s["sigdump_run_lost_layers" + r2], "1");
  EXPECT_EQ(s["sigdump_run_lost_layers" + r1], "0");
  EXPECT_EQ(s["sigdump_run_not_comparable_layers" + r2], "1");
  EXPECT_EQ(s["sigdump_run_verdict{" + lp + ",run=\"r1\",verdict=\"fail\"}"], "1");
  EXPECT_EQ(s["sigdump_run_verdict{" + lp + ",run=\"r1\",verdict=\"pass\"}"], "0");
  EXPECT_EQ(s["sigdump_run_verdict{" + lp + ",run=\"r1\",verdict=\"incomplete\"}"], "0");
  EXPECT_NE(text.find("sigdump_build_info{version=\""), std::string::npos);
  EXPECT_NE(text.find("event_loop=\"epoll\"} 1\n"), std::string::npos);

  // The format: each family once, HELP then TYPE, its samples together
  // after them; no raw newline inside a sample line.
  std::istringstream lines(text);
  std::string line, current;
  std::set<std::string> seen;
  while (std::getline(lines, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(seen.insert(name).second) << "family twice: " << name;
      current = name;
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      EXPECT_EQ(line.substr(7, line.find(' ', 7) - 7), current);
      continue;
    }
    const std::string name = line.substr(0, line.find_first_of("{ "));
    EXPECT_EQ(name, current) << "sample outside its family: " << line;
    EXPECT_NE(line.find(' '), std::string::npos) << line;
  }
}

TEST(MetricsExport, KeepsTheCurrentRunAndAFewEarlierOnesPerPair) {
  daemon_state st(1, 1);
  add_pair(st, "a", 30);
  add_pair(st, "b", 29);
  for (std::uint64_t n = 1; n <= 30; ++n) {
    st.runs[n] = make_run(n, n % 2 == 0 ? "a" : "b", {0.999});
  }
  st.runs[31] = make_run(31, "", {0.999});  // a run of no pair: not exported
  metrics_inputs in;
  in.previous_runs = 3;
  auto s = samples_of(daemon::render_metrics(st, in));
  std::set<std::string> runs;
  for (const auto& [k, v] : s) {
    if (k.rfind("sigdump_run_layers_compared{", 0) == 0) runs.insert(k);
  }
  EXPECT_EQ(runs, (std::set<std::string>{
                      "sigdump_run_layers_compared{pair=\"a\",run=\"r30\"}",
                      "sigdump_run_layers_compared{pair=\"a\",run=\"r28\"}",
                      "sigdump_run_layers_compared{pair=\"a\",run=\"r26\"}",
                      "sigdump_run_layers_compared{pair=\"a\",run=\"r24\"}",
                      "sigdump_run_layers_compared{pair=\"b\",run=\"r29\"}",
                      "sigdump_run_layers_compared{pair=\"b\",run=\"r27\"}",
                      "sigdump_run_layers_compared{pair=\"b\",run=\"r25\"}",
                      "sigdump_run_layers_compared{pair=\"b\",run=\"r23\"}",
                  }));
  in.previous_runs = 0;
  s = samples_of(daemon::render_metrics(st, in));
  std::size_t n = 0;
  for (const auto& [k, v] : s) n += k.rfind("sigdump_run_info{", 0) == 0 ? 1 : 0;
  EXPECT_EQ(n, 2u);
}

std::vector<std::string> entries_of(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  return out;
}

TEST(MetricsExport, WriteIsAtomicWithMode0644WhateverTheUmask) {
  temp_dir dir;
  const mode_t old = ::umask(077);
  auto r = daemon::write_textfile(dir.path().string(), "x.prom", "a 1\n");
  ::umask(old);
  ASSERT_TRUE(r) << r.error().describe();
  struct stat sb {};
  ASSERT_EQ(::stat(dir.file("x.prom").c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 07777, 0644u);
  EXPECT_EQ(read_file(dir.file("x.prom")), "a 1\n");
  EXPECT_EQ(entries_of(dir.path().string()), std::vector<std::string>{"x.prom"});

  // A reader never sees a mix or a part of two versions.
  const std::string a(200'000, 'a'), b(300'000, 'b');
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0}, reads{0};
  std::thread reader([&] {
    while (!stop.load()) {
      std::string t;
      try {
        t = read_file(dir.file("x.prom"));
      } catch (...) {
        bad.fetch_add(1);  // the name must always exist
        continue;
      }
      if (t != a && t != b && t != "a 1\n") bad.fetch_add(1);
      reads.fetch_add(1);
    }
  });
  for (int i = 0; i < 40; ++i) {
    auto w = daemon::write_textfile(dir.path().string(), "x.prom", i % 2 == 0 ? a : b);
    ASSERT_TRUE(w) << w.error().describe();
  }
  wait_until([&] { return reads.load() > 0; });
  stop.store(true);
  reader.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(read_file(dir.file("x.prom")), b);
  EXPECT_EQ(entries_of(dir.path().string()), std::vector<std::string>{"x.prom"});
}

TEST(MetricsExport, FailedWritesAreErrorsAndLeaveNothingBehind) {
  temp_dir dir;
  // The folder does not exist.
  auto r = daemon::write_textfile(dir.file("nope"), "x.prom", "a 1\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().describe().find("nope/x.prom"), std::string::npos) << r.error().describe();
  EXPECT_NE(r.error().describe().find("No such file or directory"), std::string::npos);
  // The "folder" is a file.
  write_file(dir.file("plain"), "x");
  r = daemon::write_textfile(dir.file("plain"), "x.prom", "a 1\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().describe().find("Not a directory"), std::string::npos);
  // The target name is taken by a folder: rename fails, the temp file goes.
  fs::create_directories(dir.file("d/x.prom"));
  r = daemon::write_textfile(dir.file("d"), "x.prom", "a 1\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().describe().find("rename"), std::string::npos) << r.error().describe();
  EXPECT_EQ(entries_of(dir.file("d")), std::vector<std::string>{"x.prom"});
}

TEST(MetricsExport, FullDiskKeepsTheOldFile) {
  // RLIMIT_FSIZE makes write(2) fail with EFBIG past the limit, as a full
  // disk fails with ENOSPC (SIGXFSZ ignored so it is an error, not a kill).
  temp_dir dir;
  ASSERT_TRUE(daemon::write_textfile(dir.path().string(), "x.prom", "old 1\n"));
  struct rlimit old {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  auto r = daemon::write_textfile(dir.path().string(), "x.prom", std::string(100'000, 'z'));
  ::setrlimit(RLIMIT_FSIZE, &old);
  ::signal(SIGXFSZ, old_handler);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().describe().find("write"), std::string::npos) << r.error().describe();
  EXPECT_EQ(read_file(dir.file("x.prom")), "old 1\n");
  EXPECT_EQ(entries_of(dir.path().string()), std::vector<std::string>{"x.prom"});
}

// ---- with a real sigdumpd ----------------------------------------------

std::string simulate(const std::string& mode, const std::string& out) {
  auto r = run({bin_path("sigdump"), "simulate", "--mode", mode, "--out", out});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return out;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

// The interval is an hour: what the test sees was written because the run
// ended (and, at the end, because the daemon stopped).
TEST(MetricsExportDaemon, FileAgreesWithOfflineCompareAndSaysDownAfterStop) {
  temp_dir dir;
  fs::create_directories(dir.file("w"));
  fs::create_directories(dir.file("prom"));
  const std::string fixed = dir.file("w") + "/fixed.bin";
  const std::string flt = simulate("float", dir.file("w") + "/float.bin");
  test_daemon d(dir,
                {"--watch", dir.file("w"), "--pair", "fx:" + fixed + "=" + flt, "--metrics-dir",
                 dir.file("prom"), "--metrics-interval-ms", "3600000"},
                "");
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  const std::string prom = dir.file("prom") + "/sigdumpd.prom";
  ASSERT_TRUE(wait_until([&] { return fs::exists(prom); })) << d.proc().stderr_text();
  simulate("fixed", fixed);
  auto start = d.wait_event(
      [&](const logged_event& e) { return e.event == "run_start" && e.path == fixed; });
  ASSERT_EQ(start.pair, "fx");
  auto end = d.wait_event(
      [&](const logged_event& e) { return e.event == "run_end" && e.run == start.run; });
  ASSERT_EQ(end.event, "run_end") << d.proc().stderr_text();
  const std::string rl = "{pair=\"fx\",run=\"" + start.run + "\"}";
  std::map<std::string, std::string> s;
  ASSERT_TRUE(wait_until([&] {
    s = samples_of(read_file(prom));
    return s["sigdump_run_live" + rl] == "0";
  })) << read_file(prom);

  // The offline numbers of the same two files.
  auto c = run({bin_path("sigdump"), "compare", "--json", fixed, flt});
  ASSERT_TRUE(c.exit_code == 0 || c.exit_code == 1) << c.err;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser.parse(c.out).get(doc)) << c.out;
  simdjson::dom::array layers;
  ASSERT_FALSE(doc["layers"].get_array().get(layers));
  double worst_cos = 2, worst_rmse = -1, cos = 0, rmse = 0, mse = 0;
  std::int64_t last = -1, suspect = 0, n = 0;
  for (auto l : layers) {
    ++n;
    bool sus = false;
    if (l["suspect"].get_bool().get(sus)) sus = false;
    if (sus || !l["error"].is_null()) ++suspect;
    if (!l["error"].is_null()) continue;
    ASSERT_FALSE(l["cos"].get_double().get(cos));
    ASSERT_FALSE(l["rmse"].get_double().get(rmse));
    ASSERT_FALSE(l["mse"].get_double().get(mse));
    ASSERT_FALSE(l["index"].get_int64().get(last));
    worst_cos = std::min(worst_cos, cos);
    worst_rmse = std::max(worst_rmse, rmse);
  }
  std::int64_t first_bad = -1;
  simdjson::dom::element fb;
  if (!doc["first_bad"].get(fb) && fb.is_object()) {
    ASSERT_FALSE(fb["index"].get_int64().get(first_bad));
  }
  ASSERT_GT(n, 0);

  EXPECT_EQ(value_of(s, "sigdump_run_layers_compared" + rl), static_cast<double>(n));
  EXPECT_EQ(value_of(s, "sigdump_run_suspect_layers" + rl), static_cast<double>(suspect));
  EXPECT_EQ(value_of(s, "sigdump_run_first_bad_layer" + rl), static_cast<double>(first_bad));
  EXPECT_GE(first_bad, 0) << "the simulator's fixed model has a bad layer";
  EXPECT_EQ(value_of(s, "sigdump_run_worst_cos" + rl), worst_cos);
  EXPECT_EQ(value_of(s, "sigdump_run_worst_rmse" + rl), worst_rmse);
  EXPECT_EQ(value_of(s, "sigdump_run_latest_layer_index" + rl), static_cast<double>(last));
  EXPECT_EQ(value_of(s, "sigdump_run_latest_layer_cos" + rl), cos);
  EXPECT_EQ(value_of(s, "sigdump_run_latest_layer_rmse" + rl), rmse);
  EXPECT_EQ(value_of(s, "sigdump_run_latest_layer_mse" + rl), mse);
  EXPECT_EQ(value_of(s, "sigdump_run_current" + rl), 1);
  EXPECT_GE(value_of(s, "sigdump_pair_runs_finished_total{pair=\"fx\"}"), 1);
  EXPECT_EQ(value_of(s, "sigdump_daemon_up"), 1);
  EXPECT_GE(value_of(s, "sigdump_daemon_tracked_files"), 2);
  EXPECT_GT(value_of(s, "sigdump_daemon_mapped_bytes"), 0);
  struct stat sb {};
  ASSERT_EQ(::stat(prom.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 07777, 0644u);

  // Stopped: the file stays, saying the daemon is down, the run kept.
  ASSERT_TRUE(d.proc().signal(SIGTERM));
  EXPECT_EQ(d.proc().wait(), 0) << d.proc().stderr_text();
  s = samples_of(read_file(prom));
  EXPECT_EQ(s["sigdump_daemon_up"], "0");
  EXPECT_EQ(value_of(s, "sigdump_run_layers_compared" + rl), static_cast<double>(n));
  EXPECT_EQ(entries_of(dir.file("prom")), std::vector<std::string>{"sigdumpd.prom"});
}

TEST(MetricsExportDaemon, MissingFolderIsOneErrorLineNotADeadDaemon) {
  temp_dir dir;
  const std::string where = dir.file("later");
  test_daemon d(dir, {"--metrics-dir", where, "--metrics-interval-ms", "20"}, "");
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  ASSERT_TRUE(wait_until([&] {
    return d.proc().stderr_text().find("cannot write the metrics file") != std::string::npos;
  })) << d.proc().stderr_text();
  // Many intervals fail meanwhile (checked below through the counter).
  ASSERT_TRUE(wait_until([&] {
    return daemon_counter(dir.file("sock"), "metrics_write_failures").value_or(0) >= 5;
  })) << d.proc().stderr_text();
  ASSERT_TRUE(d.proc().alive());
  fs::create_directories(where);
  const std::string prom = where + "/sigdumpd.prom";
  ASSERT_TRUE(wait_until([&] { return fs::exists(prom); })) << d.proc().stderr_text();
  ASSERT_TRUE(
      wait_until([&] { return d.proc().stderr_text().find("works again") != std::string::npos; }));
  auto s = samples_of(read_file(prom));
  EXPECT_GE(value_of(s, "sigdump_metrics_write_failures_total"), 2);
  EXPECT_EQ(count_of(d.proc().stderr_text(), "cannot write the metrics file"), 1u)
      << d.proc().stderr_text();
  ASSERT_TRUE(d.proc().signal(SIGTERM));
  EXPECT_EQ(d.proc().wait(), 0);
}

TEST(MetricsExportDaemon, ConfigurationKeysAndErrors) {
  temp_dir dir;
  write_file(dir.file("good.json"),
             R"({"metrics": {"textfile_dir": "prom", "interval_ms": 50, "previous_runs": 1}})");
  fs::create_directories(dir.file("prom"));
  test_daemon d(dir, {"--config", dir.file("good.json")}, "");
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  EXPECT_TRUE(wait_until([&] { return fs::exists(dir.file("prom") + "/sigdumpd.prom"); }));
  EXPECT_NE(d.proc().stderr_text().find("every 50 ms"), std::string::npos);

  write_file(dir.file("bad.json"), R"({"metrics": {"textfile_dir": "prom", "interval": 5}})");
  auto r =
      run({bin_path("sigdumpd"), "--config", dir.file("bad.json"), "--state-dir", dir.file("s2")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("metrics.interval: unknown key"), std::string::npos) << r.err;
  write_file(dir.file("bad2.json"), R"({"metrics": {"interval_ms": 1}})");
  r = run({bin_path("sigdumpd"), "--config", dir.file("bad2.json"), "--state-dir", dir.file("s3")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("metrics.interval_ms"), std::string::npos) << r.err;
  r = run({bin_path("sigdumpd"), "--help"});
  EXPECT_NE(r.out.find("--metrics-dir DIR"), std::string::npos);
}

TEST(MetricsExportDaemon, SighupMovesTheFileAndLeavesTheOldOneDown) {
  temp_dir dir;
  fs::create_directories(dir.file("a"));
  fs::create_directories(dir.file("b"));
  write_file(dir.file("c.json"), R"({"metrics": {"textfile_dir": "a", "interval_ms": 3600000}})");
  test_daemon d(dir, {"--config", dir.file("c.json")}, "");
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  const std::string a = dir.file("a") + "/sigdumpd.prom", b = dir.file("b") + "/sigdumpd.prom";
  ASSERT_TRUE(wait_until([&] { return fs::exists(a); }));
  EXPECT_EQ(samples_of(read_file(a))["sigdump_daemon_up"], "1");
  write_file(dir.file("c.json"), R"({"metrics": {"textfile_dir": "b", "interval_ms": 3600000}})");
  ASSERT_TRUE(d.proc().signal(SIGHUP));
  ASSERT_TRUE(wait_until([&] { return fs::exists(b); })) << d.proc().stderr_text();
  EXPECT_EQ(samples_of(read_file(b))["sigdump_daemon_up"], "1");
  EXPECT_EQ(samples_of(read_file(a))["sigdump_daemon_up"], "0");
  ASSERT_TRUE(d.proc().signal(SIGTERM));
  EXPECT_EQ(d.proc().wait(), 0);
  EXPECT_EQ(samples_of(read_file(b))["sigdump_daemon_up"], "0");
}

TEST(MetricsExportDaemon, FileSizeLimitIsAnErrorNotADeath) {
  // Under `ulimit -f` a write past the limit raises SIGXFSZ, which would
  // kill the daemon by default; sigdumpd ignores it and gets EFBIG.
  temp_dir dir;
  fs::create_directories(dir.file("prom"));
  child d({"/bin/bash", "-c", "ulimit -f 2 && exec \"$0\" \"$@\"", bin_path("sigdumpd"),
           "--foreground", "--state-dir", dir.file("state"), "--socket", dir.file("sock"),
           "--metrics-dir", dir.file("prom"), "--metrics-interval-ms", "20"},
          {"XDG_CONFIG_HOME=" + dir.file("no-config")});
  ASSERT_TRUE(wait_until([&] {
    return d.stderr_text().find("File too large") != std::string::npos || !d.alive();
  })) << d.stderr_text();
  // Several more intervals fail.
  ASSERT_TRUE(wait_until([&] {
    return daemon_counter(dir.file("sock"), "metrics_write_failures").value_or(0) >= 5 ||
           !d.alive();
  })) << d.stderr_text();
  ASSERT_TRUE(d.alive()) << d.stderr_text();
  EXPECT_EQ(count_of(d.stderr_text(), "cannot write the metrics file"), 1u) << d.stderr_text();
  EXPECT_FALSE(fs::exists(dir.file("prom") + "/sigdumpd.prom"));
  EXPECT_TRUE(d.signal(SIGTERM));
  EXPECT_EQ(d.wait(), 0) << d.stderr_text();
}

}  // namespace
}  // namespace sigdump::testing
