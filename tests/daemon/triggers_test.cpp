// Triggers (docs/configuration.md, "Triggers") against a real sigdumpd under
// both event loops, fed by real writers (sigdump simulate): a recording
// script sees the facts and the event's JSON of each event kind; a timeout
// kills the command's whole process group; a command flooding its output
// leaves the daemon answering and its log bounded; one command per trigger
// and run at a time; a reload applies new triggers; bad triggers stop the
// start with exit 2.
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "daemon_support.h"
#include "ipc_test_client.h"
#include "pair_run_fixture.h"

namespace sigdump::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A trigger's counters as `status` reports them.
struct trigger_counts {
  std::uint64_t runs = 0, failures = 0, timeouts = 0, skipped = 0, running = 0;
  bool found = false;
};

std::map<std::string, trigger_counts> trigger_status(const std::string& socket) {
  std::map<std::string, trigger_counts> out;
  raw_client c(socket);
  if (!c.connected()) return out;
  auto m = c.call("status", R"({"only":"triggers"})");
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  simdjson::dom::array list;
  if (p.parse(m.result).get(doc) || doc["triggers"].get_array().get(list)) return out;
  for (simdjson::dom::element t : list) {
    std::string_view name;
    if (t["name"].get_string().get(name)) continue;
    trigger_counts c2;
    c2.found = true;
    if (t["runs"].get_uint64().get(c2.runs)) c2.found = false;
    if (t["failures"].get_uint64().get(c2.failures)) c2.found = false;
    if (t["timeouts"].get_uint64().get(c2.timeouts)) c2.found = false;
    if (t["skipped"].get_uint64().get(c2.skipped)) c2.found = false;
    if (t["running"].get_uint64().get(c2.running)) c2.found = false;
    out[std::string(name)] = c2;
  }
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// "K=V" lines into a map.
std::map<std::string, std::string> env_of(const std::string& text) {
  std::map<std::string, std::string> out;
  for (const auto& l : lines_of(text)) {
    auto eq = l.find('=');
    if (eq != std::string::npos) out[l.substr(0, eq)] = l.substr(eq + 1);
  }
  return out;
}

// Files in dir whose name starts with prefix.
std::vector<std::string> files_starting(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().filename().string().starts_with(prefix)) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The events-log lines (whole JSON text) of one kind for the pair's runs.
std::vector<std::string> logged_lines(const std::string& events_path, const std::string& kind) {
  std::vector<std::string> out;
  for (const auto& l : lines_of(read_file(events_path))) {
    if (l.find("\"event\":\"" + kind + "\"") != std::string::npos &&
        l.find("\"pair\":\"net\"") != std::string::npos) {
      out.push_back(l);
    }
  }
  return out;
}

// Gone, or a zombie nobody reaps yet: no longer running.
bool process_gone(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return true;
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z';
}

std::uint64_t rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("VmRSS:")) return std::stoull(line.substr(6));
  }
  return 0;
}

class Triggers : public PairRunTest {
 protected:
  void SetUp() override { fs::create_directories(out_); }

  // Writes the configuration file with `triggers` (a JSON array).
  std::string config(const std::string& triggers) {
    const std::string path = dir_.file("sigdumpd.json");
    write_file(path, "{\"triggers\": " + triggers + "}\n");
    return path;
  }
  // A shell script in the temp folder, executable.
  std::string script(const std::string& name, const std::string& body) {
    const std::string path = dir_.file(name);
    write_file(path, "#!/bin/sh\n" + body);
    ::chmod(path.c_str(), 0755);
    return path;
  }
  bool wait_counts(const std::function<bool(const std::map<std::string, trigger_counts>&)>& pred,
                   std::chrono::milliseconds timeout = 30s) {
    return wait_until([&] { return pred(trigger_status(socket())); }, timeout);
  }

  const std::string out_ = dir_.file("out");
};

// Records its environment, stdin and open descriptors into out/EVENT-RUN-PID.*
constexpr const char* recorder = R"(o="$1/$SIGDUMP_EVENT-$SIGDUMP_RUN-$$"
env | grep '^SIGDUMP_' > "$o.env.tmp"
cat > "$o.stdin.tmp"
ls /proc/self/fd > "$o.fds.tmp"
mv "$o.stdin.tmp" "$o.stdin"; mv "$o.fds.tmp" "$o.fds"; mv "$o.env.tmp" "$o.env"
echo "recorded $SIGDUMP_EVENT"
)";

TEST_P(Triggers, EachEventGetsItsFactsInTheEnvironmentAndItsJsonOnStdin) {
  const std::string rec = script("record.sh", recorder);
  const std::string cfg = config(R"([
    {"name": "start", "on": "run_start", "pair": "net", "command": [")" +
                                 rec + R"(", ")" + out_ +
                                 R"("]},
    {"name": "end", "on": "run_end", "command": [")" +
                                 rec + R"(", ")" + out_ + R"("]},
    {"name": "suspects", "on": "suspect", "command": [")" +
                                 rec + R"(", ")" + out_ + R"("]}])");
  // first_bad from the command line's shorthand.
  auto d = start({"--config", cfg, "--on-first-bad", "[\"" + rec + "\",\"" + out_ + "\"]"});
  write_run();
  ASSERT_TRUE(d->wait_event([](const logged_event& e) { return e.event == "run_end"; }).event ==
              "run_end");
  // Every command started has finished.
  std::map<std::string, trigger_counts> counts;
  ASSERT_TRUE(wait_counts([&](const auto& c) {
    counts = c;
    std::uint64_t running = 0;
    for (const auto& [n, t] : c) running += t.running;
    return c.size() == 4 && running == 0 && c.contains("end") && c.at("end").runs == 1;
  })) << d->proc().stderr_text();
  for (const auto& [name, c] : counts) {
    EXPECT_EQ(c.failures, 0u) << name << d->proc().stderr_text();
    EXPECT_EQ(c.timeouts, 0u) << name;
  }
  EXPECT_EQ(counts["on-first-bad"].runs, 1u);
  EXPECT_EQ(counts["start"].runs, 1u) << "the benchmark's run is no pair's: no trigger";
  const auto suspect_events = [&] {
    std::vector<std::string> out;
    for (const auto& l : logged_lines(d->events_path(), "layer")) {
      if (l.find("\"suspect\":true") != std::string::npos) out.push_back(l);
    }
    return out;
  }();
  ASSERT_EQ(suspect_events.size(), 5u);
  EXPECT_EQ(counts["suspects"].runs + counts["suspects"].skipped, 5u);

  // The stdin of each is the event exactly as the protocol sends it.
  const auto first_of = [&](const std::string& prefix) {
    auto files = files_starting(out_, prefix);
    std::vector<std::string> envs;
    for (const auto& f : files) {
      if (f.ends_with(".env")) envs.push_back(f.substr(0, f.size() - 4));
    }
    return envs;
  };
  const auto starts = first_of("run_start-");
  ASSERT_EQ(starts.size(), 1u);
  const auto ends = first_of("run_end-");
  ASSERT_EQ(ends.size(), 1u);
  const auto first_bads = first_of("first_bad-");
  ASSERT_EQ(first_bads.size(), 1u);
  const auto suspects = first_of("suspect-");
  EXPECT_EQ(suspects.size(), counts["suspects"].runs);
  EXPECT_EQ(read_file(starts[0] + ".stdin"),
            logged_lines(d->events_path(), "run_start").at(0) + "\n");
  EXPECT_EQ(read_file(ends[0] + ".stdin"), logged_lines(d->events_path(), "run_end").at(0) + "\n");
  EXPECT_EQ(read_file(first_bads[0] + ".stdin"), suspect_events.front() + "\n");
  for (const auto& s : suspects) {
    const std::string in = read_file(s + ".stdin");
    EXPECT_NE(std::find(suspect_events.begin(), suspect_events.end(), in.substr(0, in.size() - 1)),
              suspect_events.end())
        << in;
  }

  // The facts.
  auto fb = env_of(read_file(first_bads[0] + ".env"));
  const std::string run_id = fb["SIGDUMP_RUN"];
  EXPECT_TRUE(run_id.starts_with("r")) << run_id;
  EXPECT_EQ(fb["SIGDUMP_EVENT"], "first_bad");
  EXPECT_EQ(fb["SIGDUMP_PAIR"], "net");
  EXPECT_EQ(fb["SIGDUMP_LAYER_NAME"], "conv3_1/linear/bn_xx");
  EXPECT_EQ(fb["SIGDUMP_LAYER_INDEX"], "8");
  simdjson::dom::parser p;
  simdjson::dom::element ev;
  ASSERT_FALSE(p.parse(suspect_events.front()).get(ev));
  double cos = 0, rmse = 0;
  ASSERT_FALSE(ev["layer"]["cos"].get_double().get(cos));
  ASSERT_FALSE(ev["layer"]["rmse"].get_double().get(rmse));
  EXPECT_DOUBLE_EQ(std::stod(fb["SIGDUMP_COS"]), cos);
  EXPECT_DOUBLE_EQ(std::stod(fb["SIGDUMP_RMSE"]), rmse);
  EXPECT_FALSE(fb["SIGDUMP_DIAGNOSIS"].empty());
  EXPECT_EQ(fb["SIGDUMP_SAMPLE"], sample());
  EXPECT_EQ(fb["SIGDUMP_BENCHMARK"], bench());
  EXPECT_EQ(fb["SIGDUMP_SOCKET"], socket());

  auto st = env_of(read_file(starts[0] + ".env"));
  EXPECT_EQ(st["SIGDUMP_EVENT"], "run_start");
  EXPECT_EQ(st["SIGDUMP_RUN"], run_id);
  EXPECT_EQ(st["SIGDUMP_LAYER_NAME"], "");
  EXPECT_EQ(st["SIGDUMP_COS"], "");
  EXPECT_EQ(st["SIGDUMP_SOCKET"], socket());
  auto en = env_of(read_file(ends[0] + ".env"));
  EXPECT_EQ(en["SIGDUMP_EVENT"], "run_end");
  EXPECT_EQ(en["SIGDUMP_RUN"], run_id);
  EXPECT_EQ(en["SIGDUMP_LAYER_NAME"], "conv3_1/linear/bn_xx") << "run_end: its first bad layer";
  auto su = env_of(read_file(suspects.at(0) + ".env"));
  EXPECT_EQ(su["SIGDUMP_EVENT"], "suspect");
  EXPECT_FALSE(su["SIGDUMP_LAYER_NAME"].empty());

  // Only 0, 1, 2 (and ls's own directory descriptor) reach the command.
  for (const auto& base : {starts[0], ends[0], first_bads[0]}) {
    auto fds = lines_of(read_file(base + ".fds"));
    EXPECT_LE(fds.size(), 4u) << read_file(base + ".fds");
    for (const auto& fd : fds) EXPECT_LE(std::stoi(fd), 3) << base;
  }
  // Their output is in the log with the trigger's name.
  EXPECT_NE(d->proc().stderr_text().find("trigger on-first-bad: recorded first_bad"),
            std::string::npos)
      << d->proc().stderr_text();
}

TEST_P(Triggers, TimeoutKillsTheWholeProcessGroup) {
  // Ignores SIGTERM (the group then gets SIGKILL) and leaves a child behind.
  const std::string hang = script("hang.sh",
                                  "trap '' TERM\nsleep 1000 &\necho $! > \"$1/child\"\n"
                                  "echo $$ > \"$1/leader\"\nwait\nsleep 1000\n");
  auto d = start({"--config", config(R"([{"name": "hang", "on": "run_start", "timeout_ms": 300,
      "command": [")" + hang + R"(", ")" +
                                     out_ + "\"]}]")});
  write_run();
  ASSERT_TRUE(wait_counts([](const auto& c) {
    return c.contains("hang") && c.at("hang").timeouts == 1 && c.at("hang").running == 0;
  })) << d->proc().stderr_text();
  const pid_t leader = static_cast<pid_t>(std::stol(read_file(out_ + "/leader")));
  const pid_t child_pid = static_cast<pid_t>(std::stol(read_file(out_ + "/child")));
  EXPECT_TRUE(wait_until([&] { return process_gone(leader) && process_gone(child_pid); }))
      << "leader " << leader << ", child " << child_pid;
  for (pid_t pid : {leader, child_pid}) {
    if (!process_gone(pid)) ::kill(pid, SIGKILL);  // not left behind by a failure
  }
  EXPECT_NE(d->proc().stderr_text().find("trigger hang (r"), std::string::npos);
  EXPECT_NE(d->proc().stderr_text().find("timed out, its process group killed"), std::string::npos)
      << d->proc().stderr_text();
  EXPECT_EQ(trigger_status(socket())["hang"].failures, 0u);
}

TEST_P(Triggers, FloodingOutputLeavesTheDaemonAnsweringAndItsLogBounded) {
  // One 5 MB line without a newline, then lines without end until the timeout.
  const std::string flood =
      script("flood.sh", "head -c 5000000 /dev/zero | tr '\\0' x\necho\nexec yes flood-line\n");
  auto d = start({"--config", config(R"([{"name": "flood", "on": "run_start", "timeout_ms": 3000,
      "command": [")" + flood + "\"]}]")});
  write_run();
  ASSERT_TRUE(wait_counts([](const auto& c) {
    return c.contains("flood") && c.at("flood").running == 1;
  })) << d->proc().stderr_text();
  // From here on only the flood runs: what the daemon holds must not grow with it.
  const std::uint64_t rss_before = rss_kib(d->proc().pid());
  // While it floods, the daemon answers.
  int answered = 0;
  while (trigger_status(socket())["flood"].running == 1 && answered < 20) {
    raw_client c(socket());
    ASSERT_TRUE(c.connected());
    auto m = c.call("status");
    ASSERT_FALSE(m.result.empty()) << m.raw;
    ++answered;
  }
  EXPECT_GT(answered, 0);
  ASSERT_TRUE(wait_counts(
      [](const auto& c) { return c.contains("flood") && c.at("flood").timeouts == 1; }));
  // `yes` writes hundreds of MB a second; a sanitizer's own bookkeeping
  // (ASan's quarantine) grows the daemon by tens of MB meanwhile.
  EXPECT_LT(rss_kib(d->proc().pid()), rss_before + 256 * 1024) << "output is not kept";
  const std::string log = d->proc().stderr_text();
  std::size_t lines = 0, cut = 0;
  for (const auto& l : lines_of(log)) {
    if (l.find("sigdumpd: trigger flood: ") == std::string::npos) continue;
    ++lines;
    if (l.ends_with(" [cut]")) {
      ++cut;
      EXPECT_LT(l.size(), 4096u + 64u);
    }
  }
  EXPECT_EQ(lines, 200u) << "the first 200 lines of a command are logged";
  EXPECT_EQ(cut, 1u);
  EXPECT_NE(log.find("more output lines not logged"), std::string::npos);
}

TEST_P(Triggers, OneCommandPerTriggerAndRunAtATime) {
  // Blocks until released: the other suspect layers of the run are skipped.
  const std::string slow = script(
      "slow.sh", "echo x >> \"$1/started\"\nwhile [ ! -e \"$1/release\" ]; do sleep 0.02; done\n");
  auto d = start({"--config", config(R"([{"name": "slow", "on": "suspect",
      "command": [")" + slow + R"(", ")" +
                                     out_ + "\"]}]")});
  write_run();
  ASSERT_TRUE(d->wait_event([](const logged_event& e) { return e.event == "run_end"; }).event ==
              "run_end");
  ASSERT_TRUE(wait_counts([](const auto& c) {
    return c.contains("slow") && c.at("slow").runs + c.at("slow").skipped == 5;
  })) << d->proc().stderr_text();
  auto c = trigger_status(socket())["slow"];
  EXPECT_EQ(c.runs, 1u);
  EXPECT_EQ(c.skipped, 4u);
  EXPECT_EQ(c.running, 1u);
  write_file(out_ + "/release", "");
  ASSERT_TRUE(
      wait_counts([](const auto& m) { return m.contains("slow") && m.at("slow").running == 0; }));
  EXPECT_EQ(lines_of(read_file(out_ + "/started")).size(), 1u);
  EXPECT_EQ(trigger_status(socket())["slow"].failures, 0u);
}

TEST_P(Triggers, ReloadAppliesNewTriggersAndFailuresAreCounted) {
  fs::create_directories(dir_.file("prom"));
  auto d = start({"--config", config(R"([{"name": "a", "on": "run_end", "command": ["true"]}])"),
                  "--metrics-dir", dir_.file("prom"), "--metrics-interval-ms", "50"});
  ASSERT_TRUE(trigger_status(socket()).contains("a"));
  config(R"([{"name": "b", "on": "run_start", "command": ["false"]},
             {"name": "c", "on": "run_start", "command": ["/nonexistent/program"]}])");
  ASSERT_TRUE(d->proc().signal(SIGHUP));
  ASSERT_TRUE(wait_counts([](const auto& c) { return c.contains("b") && !c.contains("a"); }));
  write_run();
  ASSERT_TRUE(wait_counts([](const auto& c) {
    return c.contains("b") && c.contains("c") && c.at("b").failures == 1 && c.at("c").failures == 1;
  })) << d->proc().stderr_text();
  EXPECT_NE(d->proc().stderr_text().find("trigger b (r"), std::string::npos);
  EXPECT_NE(d->proc().stderr_text().find("exit 1"), std::string::npos);
  EXPECT_NE(d->proc().stderr_text().find("cannot run: No such file or directory"),
            std::string::npos)
      << d->proc().stderr_text();
  EXPECT_TRUE(d->proc().alive());
  // The same counts in the metrics file.
  EXPECT_TRUE(wait_until([&] {
    const std::string prom = read_file(dir_.file("prom") + "/sigdumpd.prom");
    return prom.find("sigdump_trigger_failures_total{trigger=\"b\",on=\"run_start\"} 1\n") !=
               std::string::npos &&
           prom.find("sigdump_trigger_runs_total{trigger=\"c\",on=\"run_start\"} 1\n") !=
               std::string::npos &&
           prom.find("sigdump_trigger_running{trigger=\"b\",on=\"run_start\"} 0\n") !=
               std::string::npos;
  })) << read_file(dir_.file("prom") + "/sigdumpd.prom");
}

INSTANTIATE_TEST_SUITE_P(Loops, Triggers, ::testing::Values("io_uring", "epoll"),
                         [](const auto& param) { return param.param; });

// Bad triggers stop the start: exit 2, one line quoting what is wrong.
TEST(TriggerConfig, BadTriggersAreRefusedWithTheValueQuoted) {
  temp_dir dir;
  const std::string cfg = dir.file("c.json");
  const std::vector<std::pair<std::string, std::string>> bad_files = {
      {R"({"triggers": [{"name": "x", "on": "first-bad", "command": ["true"]}]})",
       "triggers[0].on: expected first_bad, suspect, run_end or run_start, got \"first-bad\""},
      {R"({"triggers": [{"name": "x", "on": "run_end", "command": []}]})",
       "triggers[0].command: expected a program and its arguments, got []"},
      {R"({"triggers": [{"name": "x", "on": "run_end", "command": ["true"], "timeout_ms": 5}]})",
       "triggers[0].timeout_ms: expected an integer in [10, 86400000], got 5"},
      {R"({"triggers": [{"name": "x", "on": "run_end", "command": ["true"], "when": 1}]})",
       "triggers[0].when: unknown key (expected name, on, pair, command or timeout_ms)"},
      {R"({"triggers": [{"on": "run_end", "command": ["true"]}]})",
       "triggers[0]: missing \"name\""},
      {R"({"triggers": [{"name": "x", "on": "run_end", "pair": "nope", "command": ["true"]}]})",
       "triggers[0].pair: no pair named 'nope' (pairs: none)"},
      {R"({"triggers": [{"name": "x", "on": "run_end", "command": ["true"]},
                        {"name": "x", "on": "run_start", "command": ["true"]}]})",
       "triggers[1]: two triggers are named 'x'"},
  };
  for (const auto& [text, message] : bad_files) {
    write_file(cfg, text);
    auto r = run({bin_path("sigdumpd"), "--foreground", "--config", cfg, "--state-dir",
                  dir.file("state"), "--socket", dir.file("sock")});
    EXPECT_EQ(r.exit_code, 2) << text;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(cfg), std::string::npos) << "names the file: " << r.err;
  }
  const std::vector<std::pair<std::string, std::string>> bad_args = {
      {"pkill -INT -F sim.pid", "--on-first-bad: 'pkill -INT -F sim.pid' has blanks"},
      {"[\"pkill\",", "--on-first-bad: not a valid JSON array: '[\"pkill\",'"},
      {"[]", "--on-first-bad: expected a program and its arguments, got [] in '[]'"},
      {"", "--on-first-bad: empty command"},
  };
  for (const auto& [arg, message] : bad_args) {
    auto r = run({bin_path("sigdumpd"), "--foreground", "--on-first-bad", arg, "--state-dir",
                  dir.file("state"), "--socket", dir.file("sock")},
                 {}, {"XDG_CONFIG_HOME=" + dir.file("none")});
    EXPECT_EQ(r.exit_code, 2) << arg;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace sigdump::testing
