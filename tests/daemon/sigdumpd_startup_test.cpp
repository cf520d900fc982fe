// sigdumpd's start-up, end to end: options and configuration files refused
// with one clear line (values quoted, FILE:LINE:COLUMN), --pair values
// checked, a second daemon on the same state refused, --help and
// --version, and a SIGHUP reload that keeps the runs. A real sigdumpd each.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "daemon_support.h"

namespace sigdump::testing {
namespace {

namespace fs = std::filesystem;

// `sigdumpd --cos-min 2` was accepted and made every layer suspect; a
// threshold no metric can reach is refused, on the command line and in the
// file, with the value named.
TEST(SigdumpdStartup, ThresholdsOutOfRangeAreRefused) {
  temp_dir dir;
  const std::vector<std::string> env{"XDG_CONFIG_HOME=" + dir.file("no-config")};
  const auto start = [&](std::vector<std::string> more) {
    std::vector<std::string> argv{bin_path("sigdumpd"), "--foreground", "--state-dir",
                                  dir.file("state"),    "--socket",     dir.file("sock")};
    argv.insert(argv.end(), more.begin(), more.end());
    return run(argv, {}, env, std::chrono::seconds(20));
  };
  auto cos = start({"--cos-min", "2"});
  EXPECT_EQ(cos.exit_code, 2);
  EXPECT_NE(cos.err.find("--cos-min: 2 is out of range: COS lies in [-1, 1]"), std::string::npos)
      << cos.err;
  auto rmse = start({"--rmse-max=-0.5"});
  EXPECT_EQ(rmse.exit_code, 2);
  EXPECT_NE(rmse.err.find("--rmse-max: -0.5 is out of range"), std::string::npos) << rmse.err;
  write_file(dir.file("config.json"), R"({"cos_min": 1.5})");
  auto file = start({"--config", dir.file("config.json")});
  EXPECT_EQ(file.exit_code, 2);
  EXPECT_NE(file.err.find("cos_min: 1.5 is out of range"), std::string::npos) << file.err;
}

// --pair values that cannot mean what the user wants are refused with the
// value quoted; accepted ones are logged with their absolute paths.
TEST(SigdumpdStartup, PairValuesAreCheckedAndLoggedAbsolute) {
  temp_dir dir;
  const std::vector<std::string> env{"XDG_CONFIG_HOME=" + dir.file("no-config")};
  const auto start = [&](const std::string& pair) {
    return run({bin_path("sigdumpd"), "--foreground", "--state-dir", dir.file("state"), "--socket",
                dir.file("sock"), "--pair", pair},
               {}, env, std::chrono::seconds(20));
  };
  auto same = start("p:/d/x.bin=/d/x.bin");
  EXPECT_EQ(same.exit_code, 2);
  EXPECT_NE(
      same.err.find("the sample and the benchmark are the same file in 'p:/d/x.bin=/d/x.bin'"),
      std::string::npos)
      << same.err;
  auto nameless = start("/d/a.bin=/d/b.bin");
  EXPECT_EQ(nameless.exit_code, 2);
  EXPECT_NE(nameless.err.find("--pair '/d/a.bin=/d/b.bin' needs a name: --pair "
                              "NAME:/d/a.bin=/d/b.bin"),
            std::string::npos)
      << nameless.err;
  auto two = start("p:/d/a=1.bin=/d/b.bin");
  EXPECT_EQ(two.exit_code, 2);
  EXPECT_NE(two.err.find("more than one '=' in 'p:/d/a=1.bin=/d/b.bin'"), std::string::npos)
      << two.err;
  write_file(dir.file("config.json"),
             R"({"pairs":[{"name":"p","sample":"s.bin","benchmark":"s.bin"}]})");
  auto file = run({bin_path("sigdumpd"), "--foreground", "--state-dir", dir.file("state"),
                   "--socket", dir.file("sock"), "--config", dir.file("config.json")},
                  {}, env, std::chrono::seconds(20));
  EXPECT_EQ(file.exit_code, 2);
  EXPECT_NE(file.err.find("the sample and the benchmark are the same file"), std::string::npos)
      << file.err;

  test_daemon d(dir, {"--pair", "net:" + dir.file("s.bin") + "=" + dir.file("b.bin")}, "");
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  const std::string err = d.proc().stderr_text();
  EXPECT_NE(err.find("pair net: sample " + dir.file("s.bin") + ", benchmark " + dir.file("b.bin")),
            std::string::npos)
      << err;
  EXPECT_NE(err.find(", 1 pair ("), std::string::npos) << err;
}

TEST(SigdumpdStartup, SecondDaemonOnTheSameStateRefuses) {
  temp_dir dir;
  fs::create_directories(dir.file("w"));
  test_daemon first(dir, {"--watch", dir.file("w")}, "");
  ASSERT_TRUE(first.wait_ready()) << first.proc().stderr_text();
  auto r = run({bin_path("sigdumpd"), "--state-dir", dir.file("state"), "--socket",
                dir.file("sock2"), "--watch", dir.file("w")},
               {}, {"XDG_CONFIG_HOME=" + dir.file("no-config")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("sigdumpd.lock"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("pid " + std::to_string(first.proc().pid())), std::string::npos) << r.err;
  EXPECT_TRUE(first.proc().alive());
}

struct bad_config {
  const char* json;
  const char* expect;  // substring of the one error line
};

TEST(SigdumpdStartup, BadConfigurationIsOneClearLine) {
  temp_dir dir;
  const bad_config cases[] = {
      {R"({"watch":["/tmp"],"keep_run":3})", "keep_run: unknown key"},
      {R"({"watch":"/tmp"})", "watch: expected an array of paths, got a string"},
      {R"({"pairs":[{"sample":"a.bin"}]})", "pairs[0]: missing \"benchmark\""},
      {R"({"pairs":[{"name":"p","sample":"a","benchmark":"b","nmae":"x"}]})",
       "pairs[0].nmae: unknown key"},
      {R"({"quiet_ms":-5})", "quiet_ms: expected a non-negative integer"},
      {R"({"keep_runs":0})", "keep_runs: expected an integer in [1, 1000000], got 0"},
      {R"({"watch":[)", "not valid JSON"},
      {R"([1,2])", "expected an object"},
  };
  for (const auto& c : cases) {
    std::string cfg = dir.file("sigdumpd.json");
    write_file(cfg, c.json);
    auto r = run({bin_path("sigdumpd"), "--config", cfg, "--state-dir", dir.file("state")});
    EXPECT_EQ(r.exit_code, 2) << c.json;
    EXPECT_NE(r.err.find(cfg), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.json << " -> " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  auto missing = run({bin_path("sigdumpd"), "--config", dir.file("nope.json")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("nope.json"), std::string::npos) << missing.err;
}

struct located_config {
  const char* json;
  const char* line;  // the whole error line after "FILE:"
};

// A bad configuration file is one line, "FILE:LINE:COLUMN: error: ...",
// pointing at the offending byte (syntax) or value/key (type, range).
TEST(SigdumpdStartup, BadConfigurationNamesLineAndColumn) {
  temp_dir dir;
  const located_config cases[] = {
      // Syntax errors, found by our own scan (simdjson gives no position).
      {"{\n  \"watch\": [\"/tmp\",]\n}", "2:19: error: not valid JSON: trailing comma before ']'"},
      {"{\n  \"quiet_ms\": 50,\n}", "2:17: error: not valid JSON: trailing comma before '}'"},
      {"{\n  \"watch\" [\"/tmp\"]\n}",
       "2:11: error: not valid JSON: expected ':' after the key \"watch\", found '['"},
      {"{\"watch\": [\"/tmp\"]\n \"poll_ms\": 50}",
       "2:2: error: not valid JSON: expected ',' or '}' after the value of \"watch\", found '\"'"},
      {"{\n\t\"socket\": \"/tmp/s\n}",
       "2:12: error: not valid JSON: unterminated string: no closing '\"' on its line"},
      {"{\"watch\": [\"/tmp\"",
       "1:18: error: not valid JSON: unexpected end of file: '[' opened at 1:11 is never closed"},
      {"// settings\n{}",
       "1:1: error: not valid JSON: expected a value, found '/' (JSON has no comments)"},
      {"{'watch': []}",
       "1:2: error: not valid JSON: expected a key in double quotes, found ''' (JSON strings use "
       "double quotes)"},
      {"{\"poll_ms\":\n  1e999}", "2:3: error: not valid JSON: number out of range"},
      {"", "1:1: error: not valid JSON: empty file (expected a JSON object)"},
      // Type and value errors: the field path, and where its value (or, for
      // an unknown key, the key) is.
      {"{\n  \"pairs\": [\n    {\"name\": \"p\", \"sample\": \"a.bin\", \"benchmark\": "
       "\"b.bin\"},\n"
       "    {\"sample\": 7, \"benchmark\": \"b.bin\"}\n  ]\n}",
       "4:16: error: pairs[1].sample: expected a string, got an integer"},
      {"{\"watch\": [\"/tmp\"],\n   \"keep_run\": 3}",
       "2:4: error: keep_run: unknown key (expected watch, pairs, state_dir, socket, events_log, "
       "quiet_ms, poll_ms, keep_runs, history_max_bytes, workers, cos_min, rmse_max, allow_uids, "
       "metrics, archive, triggers)"},
      {"{\"pairs\": [{\"name\": \"p\", \"sample\": \"a\", \"benchmark\": \"b\"},\n  {\"sample\": "
       "\"a.bin\"}]}",
       "2:3: error: pairs[1]: missing \"benchmark\""},
      {"{\"pairs\": [\n  {\"sample\": \"a.bin\", \"benchmark\": \"b.bin\"}]}",
       "2:3: error: pairs[0]: needs a name: {\"name\": \"NAME\", \"sample\": \"a.bin\", "
       "\"benchmark\": \"b.bin\"}"},
      {"{\"keep_runs\":\n\n      0}",
       "3:7: error: keep_runs: expected an integer in [1, 1000000], got 0"},
      {"{\"allow_uids\": [1000, \"root\"]}",
       "1:23: error: allow_uids[1]: expected a non-negative integer, got a string"},
      {"[1, 2]", "1:1: error: (top level): expected an object, got an array"},
      // A pair's own thresholds: the ranges of the global ones.
      {"{\"pairs\": [{\"name\": \"p\", \"sample\": \"a\", \"benchmark\": \"b\", \"cos_min\": "
       "1.5}]}",
       "1:70: error: pairs[0].cos_min: 1.5 is out of range: COS lies in [-1, 1]"},
      {"{\"pairs\": [{\"name\": \"p\", \"sample\": \"a\", \"benchmark\": \"b\", \"rmse_max\": "
       "\"x\"}]}",
       "1:71: error: pairs[0].rmse_max: expected a number, got a string"},
  };
  for (const auto& c : cases) {
    const std::string cfg = dir.file("sigdumpd.json");
    write_file(cfg, c.json);
    auto r = run({bin_path("sigdumpd"), "--config", cfg, "--state-dir", dir.file("state")});
    EXPECT_EQ(r.exit_code, 2) << c.json;
    EXPECT_EQ(r.err, cfg + ":" + c.line + "\n") << c.json;
  }
}

// The daemon's threads are named for what they do, as `top -H`, `ps -L`
// and gdb show them (docs/configuration.md, "Threads"); the main thread
// (the loop) keeps the program's name, as does a sanitizer's own thread.
TEST(SigdumpdStartup, ThreadsAreNamed) {
  temp_dir dir;
  std::filesystem::create_directories(dir.file("w"));
  test_daemon d(dir, {"--watch", dir.file("w"), "--workers", "2", "--archive-dir", dir.file("a")},
                "");
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  // A dump, so that a run log is written (the state store's thread starts
  // at its first job).
  {
    auto w = dump_writer::create(dir.file("w") + "/x.bin");
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write(spec_of("conv", 4), ramp(4, 1.0f)));
    ASSERT_TRUE(w->close());
  }
  const std::string tasks = "/proc/" + std::to_string(d.proc().pid()) + "/task";
  const std::multiset<std::string> wanted{"metric-worker",  "metric-worker",  "ipc-worker",
                                          "run-log-writer", "archive-copier", "archive-index",
                                          "archive-sync"};
  std::multiset<std::string> names;
  std::string main_name;
  EXPECT_TRUE(wait_until([&] {
    names.clear();
    std::error_code ec;
    for (const auto& t : std::filesystem::directory_iterator(tasks, ec)) {
      std::string comm = read_file(t.path().string() + "/comm");
      if (!comm.empty() && comm.back() == '\n') comm.pop_back();
      if (t.path().filename() == std::to_string(d.proc().pid())) {
        main_name = comm;
      } else if (comm != "sigdumpd") {
        names.insert(comm);
      }
    }
    return names == wanted && main_name == "sigdumpd";
  })) << main_name
      << ' ' << ::testing::PrintToString(names);
}

TEST(SigdumpdStartup, HelpAndVersion) {
  auto h = run({bin_path("sigdumpd"), "--help"});
  EXPECT_EQ(h.exit_code, 0);
  for (const char* opt : {"--watch", "--pair", "--config", "--state-dir", "--events-log",
                          "--socket", "--foreground", "SIGHUP", "SIGDUMP_EVENT_LOOP"}) {
    EXPECT_NE(h.out.find(opt), std::string::npos) << opt;
  }
  auto v = run({bin_path("sigdumpd"), "--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_NE(v.out.find("protocol 1"), std::string::npos);
  auto bad = run({bin_path("sigdumpd"), "--frobnicate"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--frobnicate"), std::string::npos);
}

TEST(SigdumpdStartup, SighupReloadsWithoutLosingRuns) {
  temp_dir dir;
  fs::create_directories(dir.file("a"));
  fs::create_directories(dir.file("b"));
  std::string cfg = dir.file("sigdumpd.json");
  write_file(cfg, "{\"watch\":[\"" + dir.file("a") + "\"]}");
  std::string fa = dir.file("a") + "/sigma_outtensor_dump.bin";
  std::string fb = dir.file("b") + "/sigma_outtensor_dump.bin";
  for (const auto& f : {fa, fb}) {
    auto w = dump_writer::create(f);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write(spec_of("a", 16), ramp(16, 1.0f)));
  }
  test_daemon d(dir, {"--config", cfg}, "");
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  auto ra =
      d.wait_event([&](const logged_event& e) { return e.event == "run_start" && e.path == fa; });
  ASSERT_EQ(ra.event, "run_start");
  write_file(cfg, "{\"watch\":[\"" + dir.file("a") + "\",\"" + dir.file("b") + "\"]}");
  ASSERT_TRUE(d.proc().signal(SIGHUP));
  auto rs = d.wait_event(
      [&](const logged_event& e) { return e.event == "resync" && e.reason == "reload"; });
  EXPECT_EQ(rs.event, "resync");
  auto rb =
      d.wait_event([&](const logged_event& e) { return e.event == "run_start" && e.path == fb; });
  EXPECT_EQ(rb.event, "run_start");
  // fa's run was not restarted by the reload.
  int starts_a = 0;
  for (const auto& e : d.events()) starts_a += (e.event == "run_start" && e.path == fa) ? 1 : 0;
  EXPECT_EQ(starts_a, 1);
}

}  // namespace
}  // namespace sigdump::testing
