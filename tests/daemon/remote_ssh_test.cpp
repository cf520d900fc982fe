// `sigdump --host ssh://...` against a real sigdumpd behind a real sshd:
// a throwaway OpenSSH server on a loopback port (tests/support/start_sshd.sh:
// its own host and user keys, config and pid file in a temp folder), the
// OpenSSH client spawned by sigdump, `sigdump dial-stdio` on the far side.
// Every daemon runs under both event loops.
#include <dirent.h>
#include <signal.h>
#include <simdjson.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "daemon_support.h"

namespace sigdump::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

std::string describe(const run_result& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

// The direct children of `parent` whose command name is `comm`.
std::vector<pid_t> children_named(pid_t parent, const std::string& comm) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "stat");
    std::string stat;
    std::getline(in, stat);
    // pid (comm) state ppid ...: comm may hold spaces, so split at the last ')'.
    const auto open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent && stat.substr(open + 1, close - open - 1) == comm) {
      out.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return out;
}

// The clocks of the event lines of `sigdump subscribe --json` output.
std::vector<std::string> clocks_of(const std::string& out) {
  std::vector<std::string> clocks;
  simdjson::dom::parser p;
  // Complete lines only: the writer may be in the middle of one.
  for (const auto& line : lines_of(out.substr(0, out.rfind('\n') + 1))) {
    simdjson::dom::element ev;
    std::string_view clock;
    if (p.parse(line).get(ev) || ev["clock"].get_string().get(clock)) {
      ADD_FAILURE() << "not an event line: " << line;
      continue;
    }
    clocks.emplace_back(clock);
  }
  return clocks;
}

class RemoteSsh : public ::testing::TestWithParam<std::string> {
 protected:
  // One sshd for the suite; a missing OpenSSH skips, any other failure fails.
  static void SetUpTestSuite() {
    ssh_dir_ = std::make_unique<temp_dir>();
    auto r = run({"/bin/bash", source_path("tests/support/start_sshd.sh"), ssh_dir_->file("ssh")});
    if (r.exit_code == 77) {
      skip_ = r.out;
    } else if (r.exit_code != 0) {
      setup_error_ = "start_sshd.sh: " + describe(r);
    } else {
      port_ = r.out.substr(0, r.out.find('\n'));
    }
  }
  static void TearDownTestSuite() {
    const std::string pid = read_file(ssh_dir_->file("ssh/sshd.pid"));
    if (!pid.empty()) ::kill(static_cast<pid_t>(std::stol(pid)), SIGTERM);
    ssh_dir_.reset();
  }

  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    if (!setup_error_.empty()) FAIL() << setup_error_;
    fs::create_directories(dir_.file("w"));
    fixed_ = dir_.file("w") + "/fixed.bin";
    float_ = dir_.file("w") + "/float.bin";
    // Runs end when their writer closes the file: a writer that pauses
    // (a test holding the sample half written) must not end one by quiet time.
    daemon_ = std::make_unique<test_daemon>(
        dir_,
        std::vector<std::string>{"--watch", dir_.file("w"), "--pair",
                                 "net:" + fixed_ + "=" + float_, "--quiet-ms", "600000"},
        GetParam() == "epoll" ? "epoll" : "");
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->proc().stderr_text();
  }

  // The URL of the test daemon through the test sshd.
  std::string url() const { return "ssh://127.0.0.1:" + port_ + dir_.file("sock"); }
  // How sigdump finds the test's ssh client settings and its own binary there.
  std::vector<std::string> env() const {
    return {"SIGDUMP_SSH=ssh -F " + ssh_dir_->file("ssh/ssh_config"),
            "SIGDUMP_REMOTE_BIN=" + bin_path("sigdump"), "XDG_STATE_HOME=" + dir_.file("xdg"),
            "NO_COLOR=1"};
  }
  run_result remote(std::vector<std::string> args, std::vector<std::string> more_env = {}) {
    std::vector<std::string> argv{bin_path("sigdump"), "--host", url()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto e = env();
    e.insert(e.end(), more_env.begin(), more_env.end());
    return run(argv, {}, e, 60s);
  }
  run_result local(std::vector<std::string> args) {
    std::vector<std::string> argv{bin_path("sigdump")};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--socket", dir_.file("sock")});
    return run(argv, {}, {"XDG_STATE_HOME=" + dir_.file("xdg-local"), "NO_COLOR=1"}, 60s);
  }
  // The benchmark, then the sample written to `sample_out`.
  void write_run(const std::string& sample_out) {
    auto w1 = run({bin_path("sigdump"), "simulate", "--mode", "float", "--out", float_});
    ASSERT_EQ(w1.exit_code, 0) << w1.err;
    auto w2 = run({bin_path("sigdump"), "simulate", "--mode", "fixed", "--out", sample_out});
    ASSERT_EQ(w2.exit_code, 0) << w2.err;
  }
  std::string daemon_clock() {
    auto st = local({"status", "--json"});
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    std::string_view clock;
    if (p.parse(st.out).get(doc) || doc["daemon"]["clock"].get_string().get(clock)) {
      ADD_FAILURE() << "status --json has no daemon.clock: " << describe(st);
      return {};
    }
    return std::string(clock);
  }
  std::int64_t daemon_clients() {
    auto st = local({"status", "--json"});
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    std::int64_t n = -1;
    if (p.parse(st.out).get(doc) || doc["daemon"]["clients"].get_int64().get(n)) return -1;
    return n;
  }

  static std::unique_ptr<temp_dir> ssh_dir_;
  static std::string port_, skip_, setup_error_;
  temp_dir dir_;
  std::string fixed_, float_;
  std::unique_ptr<test_daemon> daemon_;
};

std::unique_ptr<temp_dir> RemoteSsh::ssh_dir_;
std::string RemoteSsh::port_, RemoteSsh::skip_, RemoteSsh::setup_error_;

constexpr const char* bad_layer = "conv3_1/linear/bn_xx";  // the simulator's lossy layer

TEST_P(RemoteSsh, StatusRunsAndQueryAnswerAsTheyDoLocally) {
  ASSERT_NO_FATAL_FAILURE(write_run(fixed_));
  ASSERT_FALSE(daemon_->wait_event([](const logged_event& e) { return e.event == "run_end"; })
                   .event.empty());
  auto st = remote({"status", "--json"});
  ASSERT_EQ(st.exit_code, 0) << describe(st);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_FALSE(p.parse(st.out).get(doc)) << st.out;
  std::string_view socket, first_bad;
  ASSERT_FALSE(doc["daemon"]["socket"].get_string().get(socket)) << st.out;
  EXPECT_EQ(socket, dir_.file("sock"));
  ASSERT_FALSE(doc["pairs"].at(0)["first_bad"]["name"].get_string().get(first_bad)) << st.out;
  EXPECT_EQ(first_bad, bad_layer);

  for (std::vector<std::string> cmd :
       {std::vector<std::string>{"query", bad_layer, "--pair", "net", "--values", "0:4", "--json"},
        std::vector<std::string>{"runs", "--json"}}) {
    auto far = remote(cmd);
    auto near = local(cmd);
    EXPECT_EQ(far.exit_code, near.exit_code) << describe(far);
    EXPECT_EQ(far.out, near.out) << cmd[0];
    EXPECT_FALSE(far.out.empty()) << cmd[0];
  }
  // SIGDUMP_HOST does the same as --host, and the socket may be named by
  // --socket instead of the URL's path.
  auto by_env = run(
      {bin_path("sigdump"), "status", "--socket", dir_.file("sock")}, {},
      [&] {
        auto e = env();
        e.push_back("SIGDUMP_HOST=ssh://127.0.0.1:" + port_);
        return e;
      }(),
      60s);
  ASSERT_EQ(by_env.exit_code, 0) << describe(by_env);
  EXPECT_NE(by_env.out.find(std::string("first bad: 8 ") + bad_layer), std::string::npos)
      << by_env.out;
  // Every bridge ended with its command: only our own status is connected.
  EXPECT_TRUE(wait_until([&] { return daemon_clients() == 1; })) << daemon_clients();
}

// Two subscribers over ssh lose their ssh in the middle of a run: one
// reconnects by itself, the other (--no-reconnect) exits and a second
// `--since last` goes on from its saved clock. Both see exactly what a
// local subscriber sees, clock for clock.
TEST_P(RemoteSsh, SubscribeResumesAfterTheSshConnectionIsKilled) {
  const std::string start = daemon_clock();
  ASSERT_FALSE(start.empty());
  child reference({bin_path("sigdump"), "subscribe", "--socket", dir_.file("sock"), "--json",
                   "--pair", "net", "--since", start, "--until-run-end"},
                  {"XDG_STATE_HOME=" + dir_.file("xdg-local")}, dir_.file("reference"));
  const std::vector<std::string> argv{
      bin_path("sigdump"), "--host", url(), "subscribe", "--json", "--pair", "net", "--since"};
  auto with = [&](std::vector<std::string> more) {
    auto v = argv;
    v.insert(v.end(), more.begin(), more.end());
    return v;
  };
  // `again` saves its clock in a folder of its own: saved under the same URL,
  // its clock (perhaps past the run_end) would be the `last` that `second`
  // resumes from, and `second` would wait for a run end that had been.
  auto again_env = env();
  for (auto& e : again_env) {
    if (e.rfind("XDG_STATE_HOME=", 0) == 0) e = "XDG_STATE_HOME=" + dir_.file("xdg-again");
  }
  child again(with({start, "--until-run-end"}), again_env, dir_.file("again"));
  child first(with({start, "--no-reconnect"}), env(), dir_.file("first"));
  // The connections die in the middle of the run: the sample's writer
  // writes its first half and holds the file open until both are killed
  // (the run ends on its close). A writer paced by time raced the ssh
  // connections: on a loaded machine they came up after the run ended.
  const std::string staged = dir_.file("fixed-staged.bin");
  ASSERT_NO_FATAL_FAILURE(write_run(staged));
  const std::string sample = read_file(staged);
  std::ofstream writer(fixed_, std::ios::binary);
  ASSERT_TRUE(writer.write(sample.data(), static_cast<std::streamsize>(sample.size() / 2)).flush());
  for (child* c : {&again, &first}) {
    ASSERT_TRUE(wait_until([&] { return clocks_of(c->stdout_text()).size() >= 4; }, 60s))
        << c->stderr_text();
    const auto ssh = children_named(c->pid(), "ssh");
    ASSERT_EQ(ssh.size(), 1u) << "the subscriber's ssh process";
    ASSERT_EQ(::kill(ssh.front(), SIGKILL), 0);
  }
  ASSERT_TRUE(writer.write(sample.data() + sample.size() / 2,
                           static_cast<std::streamsize>(sample.size() - sample.size() / 2)));
  writer.close();
  EXPECT_EQ(first.wait(30s), 2) << first.stderr_text();
  EXPECT_NE(first.stderr_text().find("ssh was killed by signal 9"), std::string::npos)
      << first.stderr_text();
  // The clock is saved under the URL, and the next subscribe goes on from it.
  const std::string saved = read_file(dir_.file("xdg") + "/sigdump/subscribe.clock");
  EXPECT_NE(saved.find(url() + "\t"), std::string::npos) << saved;
  child second(with({"last", "--until-run-end"}), env(), dir_.file("second"));
  EXPECT_EQ(second.wait(60s), 1) << "suspect run: " << second.stderr_text();
  EXPECT_EQ(again.wait(60s), 1) << "suspect run: " << again.stderr_text();
  EXPECT_NE(again.stderr_text().find("reconnecting"), std::string::npos) << again.stderr_text();
  EXPECT_EQ(reference.wait(60s), 1) << reference.stderr_text();

  // Nothing lost, nothing twice.
  const auto want = clocks_of(reference.stdout_text());
  ASSERT_GT(want.size(), 6u) << reference.stdout_text();
  EXPECT_EQ(clocks_of(again.stdout_text()), want) << again.stdout_text() << again.stderr_text();
  auto got = clocks_of(first.stdout_text());
  const std::size_t before_kill = got.size();
  for (auto& c : clocks_of(second.stdout_text())) got.push_back(c);
  EXPECT_LT(before_kill, want.size()) << "the kill came after the run: nothing was resumed";
  EXPECT_EQ(got, want) << "first:\n" << first.stdout_text() << "second:\n" << second.stdout_text();
  // The far side of the killed connections went away too.
  EXPECT_TRUE(wait_until([&] { return daemon_clients() == 1; })) << daemon_clients();
}

TEST_P(RemoteSsh, ErrorsSayWhereTheyHappened) {
  // No daemon behind the remote socket: the remote message, then ours.
  auto none = run({bin_path("sigdump"), "--host",
                   "ssh://127.0.0.1:" + port_ + dir_.file("no-such-sock"), "status"},
                  {}, env(), 60s);
  EXPECT_EQ(none.exit_code, 2) << describe(none);
  EXPECT_NE(none.err.find("no sigdumpd listening on " + dir_.file("no-such-sock")),
            std::string::npos)
      << none.err;
  EXPECT_NE(none.err.find("ssh exited with status 2"), std::string::npos) << none.err;
  // top reads shared memory on the daemon's machine: it says so.
  auto top = remote({"top", "--once"});
  EXPECT_EQ(top.exit_code, 2);
  EXPECT_NE(top.err.find("top reads the status board in the shared memory"), std::string::npos)
      << top.err;
  // Commands on local files refuse an explicit --host.
  auto ls = remote({"ls", fixed_});
  EXPECT_EQ(ls.exit_code, 2);
  EXPECT_NE(ls.err.find("'ls' works on this machine only"), std::string::npos) << ls.err;
  // A bad URL names itself and the form.
  auto bad = run({bin_path("sigdump"), "--host", "ssh://127.0.0.1:0", "status"}, {}, env(), 60s);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("bad remote host 'ssh://127.0.0.1:0'"), std::string::npos) << bad.err;
}

INSTANTIATE_TEST_SUITE_P(Loops, RemoteSsh, ::testing::Values("io_uring", "epoll"),
                         [](const auto& p) { return std::string(p.param); });

// dial-stdio alone: the end of stdin is the end of the requests, and every
// reply still arrives before the bridge ends.
TEST(DialStdio, HalfCloseStillDeliversEveryReply) {
  temp_dir dir;
  test_daemon d(dir, {"--watch", dir.path().string()}, "");
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  std::string requests;
  for (int i = 1; i <= 50; ++i) {
    requests += "{\"id\":" + std::to_string(i) + ",\"method\":\"status\"}\n";
  }
  auto r = run({bin_path("sigdump"), "dial-stdio", "--socket", dir.file("sock")}, requests);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  auto replies = lines_of(r.out);
  ASSERT_EQ(replies.size(), 50u) << r.out;
  EXPECT_EQ(replies.back().rfind("{\"id\":50,\"result\":", 0), 0u) << replies.back();
  auto none = run({bin_path("sigdump"), "dial-stdio", "--socket", dir.file("nothing")});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("no sigdumpd listening on"), std::string::npos) << none.err;
}

}  // namespace
}  // namespace sigdump::testing
