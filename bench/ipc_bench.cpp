// The socket server under load, against a real sigdumpd started here:
//  - BM_EventFanout/N: layer events per second delivered to N subscribers
//    (a sample dump of 200 layers rewritten per iteration; the daemon parses,
//    compares and publishes; every subscriber must receive all 200 layers of
//    that run, checked before the counter counts). N=1 is the baseline; the
//    "per_sub_ratio" counter is events/s per subscriber relative to N=1.
//  - BM_TensorRoundTrip / BM_HelloRoundTrip: request->reply time of `tensor`
//    (no values) and of `hello` (the baseline), p50/p99 in microseconds.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <simdjson.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "sigdump/dump_writer.h"

namespace {

namespace fs = std::filesystem;
using clk = std::chrono::steady_clock;

constexpr int layers = 200;

std::string layer_name(int i) { return "bench/layer_" + std::to_string(i) + "/conv"; }

sigdump::tensor_spec spec(int i) {
  sigdump::tensor_spec s;
  s.name = layer_name(i);
  s.shape = {1, 8, 8, 16};
  s.op_index = i;
  return s;
}

std::vector<float> values(int i, float noise) {
  std::vector<float> v(1024);
  for (std::size_t j = 0; j < v.size(); ++j) {
    v[j] = static_cast<float>((j * 7 + static_cast<std::size_t>(i)) % 29) / 5.0f - 2.0f +
           noise * static_cast<float>(j % 3);
  }
  return v;
}

// Written beside the watched folder, then renamed into it: each call is
// one clean new run for the daemon (IN_MOVED_TO), never a rewrite in place.
void write_dump(const std::string& path, float noise) {
  const std::string tmp = fs::path(path).parent_path().parent_path() / "next.tmp";
  auto w = sigdump::dump_writer::create(tmp);
  if (!w) std::abort();
  for (int i = 0; i < layers; ++i) {
    if (!w->write(spec(i), values(i, noise))) std::abort();
  }
  (void)w->close();
  if (::rename(tmp.c_str(), path.c_str()) != 0) std::abort();
}

int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// A blocking line client.
struct line_client {
  int fd = -1;
  std::string buf;
  explicit line_client(const std::string& path) : fd(connect_unix(path)) {}
  ~line_client() {
    if (fd >= 0) ::close(fd);
  }
  void send(const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) std::abort();
      off += static_cast<std::size_t>(n);
    }
  }
  // Reads available bytes; false at end of stream.
  bool fill() {
    char tmp[65536];
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<std::size_t>(n));
    return true;
  }
  std::optional<std::string> take_line() {
    auto nl = buf.find('\n');
    if (nl == std::string::npos) return std::nullopt;
    std::string l = buf.substr(0, nl);
    buf.erase(0, nl + 1);
    return l;
  }
  std::string line() {
    for (;;) {
      if (auto l = take_line()) return *l;
      if (!fill()) std::abort();
    }
  }
};

// sigdumpd in a temp folder, pair p: sample.bin = bench.bin.
class daemon_process {
 public:
  daemon_process() {
    char tmpl[] = "/tmp/sigdump-ipc-bench-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    fs::create_directories(dir_ + "/dumps");
    write_dump(bench(), 0.0f);
    const std::string exe = fs::read_symlink("/proc/self/exe").parent_path() / "sigdumpd";
    std::vector<std::string> args{exe,           "--foreground",
                                  "--state-dir", dir_ + "/state",
                                  "--socket",    socket(),
                                  "--watch",     dir_ + "/dumps",
                                  "--pair",      "p:" + sample() + "=" + bench(),
                                  "--quiet-ms",  "600000"};
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::setenv("XDG_CONFIG_HOME", (dir_ + "/no-config").c_str(), 1);
      int devnull = ::open("/dev/null", O_WRONLY);
      ::dup2(devnull, 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 500; ++i) {
      int fd = connect_unix(socket());
      if (fd >= 0) {
        ::close(fd);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::fprintf(stderr, "ipc_bench: sigdumpd did not start (%s)\n", exe.c_str());
    std::abort();
  }
  ~daemon_process() {
    ::kill(pid_, SIGTERM);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string socket() const { return dir_ + "/sock"; }
  std::string sample() const { return dir_ + "/dumps/sample.bin"; }
  std::string bench() const { return dir_ + "/dumps/bench.bin"; }

 private:
  std::string dir_;
  pid_t pid_ = -1;
};

daemon_process& the_daemon() {
  static daemon_process d;
  return d;
}

// Counts layer events per subscriber until each has all `layers` of one run.
// Returns false on a wrong or missing event (the reference check).
bool receive_run(std::vector<std::unique_ptr<line_client>>& subs, simdjson::dom::parser& parser) {
  std::vector<int> got(subs.size(), 0);
  std::vector<std::string> run(subs.size());
  std::vector<pollfd> fds(subs.size());
  for (std::size_t i = 0; i < subs.size(); ++i) fds[i] = {subs[i]->fd, POLLIN, 0};
  std::size_t done = 0;
  const auto deadline = clk::now() + std::chrono::seconds(30);
  while (done < subs.size()) {
    if (clk::now() > deadline) return false;
    if (::poll(fds.data(), fds.size(), 1000) <= 0) continue;
    for (std::size_t i = 0; i < subs.size(); ++i) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      if (!subs[i]->fill()) return false;
      while (auto l = subs[i]->take_line()) {
        if (l->find("\"event\":\"layer\"") == std::string::npos) continue;
        simdjson::dom::element e;
        if (parser.parse(*l).get(e)) return false;
        std::string_view r = e["run"].get_string().value_unsafe();
        if (got[i] == 0) run[i] = r;
        if (r != run[i] || e["layer"]["index"].get_int64().value_unsafe() != got[i]) return false;
        if (++got[i] == layers) ++done;
      }
    }
  }
  return true;
}

double& baseline_per_sub() {
  static double v = 0;
  return v;
}

void BM_EventFanout(benchmark::State& state) {
  auto& d = the_daemon();
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<std::unique_ptr<line_client>> subs;
  for (std::size_t i = 0; i < n; ++i) {
    subs.push_back(std::make_unique<line_client>(d.socket()));
    subs.back()->send("{\"id\":1,\"method\":\"subscribe\",\"params\":{\"pair\":\"p\"}}\n");
    std::string reply = subs.back()->line();
    if (reply.find("\"result\"") == std::string::npos) {
      state.SkipWithError("subscribe failed");
      return;
    }
  }
  // The fresh_instance snapshot of an earlier run may follow: drain it.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (auto& s : subs) {
    pollfd p{s->fd, POLLIN, 0};
    while (::poll(&p, 1, 0) > 0 && s->fill()) {
    }
    s->buf.clear();
  }
  simdjson::dom::parser parser;
  float noise = 0.001f;
  std::uint64_t events = 0;
  double seconds = 0;
  for (auto _ : state) {
    const auto t0 = clk::now();
    write_dump(d.sample(), noise);  // a new run of 200 layers
    noise += 0.0001f;
    if (!receive_run(subs, parser)) {
      state.SkipWithError("a subscriber missed or misordered a layer event");
      return;
    }
    seconds += std::chrono::duration<double>(clk::now() - t0).count();
    events += static_cast<std::uint64_t>(layers) * n;
  }
  const double rate = static_cast<double>(events) / seconds;
  state.counters["events_per_s"] = rate;
  const double per_sub = rate / static_cast<double>(n);
  if (n == 1) baseline_per_sub() = per_sub;
  if (baseline_per_sub() > 0) state.counters["per_sub_ratio"] = per_sub / baseline_per_sub();
}
BENCHMARK(BM_EventFanout)->Arg(1)->Arg(10)->Arg(100)->Unit(benchmark::kMillisecond)->UseRealTime();

void round_trips(benchmark::State& state, const std::string& request, const char* must_contain) {
  auto& d = the_daemon();
  // Make sure the pair has a run to query.
  write_dump(d.sample(), 0.001f);
  line_client c(d.socket());
  for (int i = 0; i < 500; ++i) {
    c.send("{\"id\":0,\"method\":\"runs\",\"params\":{\"pair\":\"p\"}}\n");
    if (c.line().find("\"layers\":" + std::to_string(layers)) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  c.send(request);
  const std::string ref = c.line();
  if (ref.find(must_contain) == std::string::npos || ref.starts_with("{\"id\":1,\"error\"")) {
    state.SkipWithError(("unexpected reply: " + ref.substr(0, 2000)).c_str());
    return;
  }
  std::vector<double> us;
  for (auto _ : state) {
    const auto t0 = clk::now();
    c.send(request);
    const std::string r = c.line();
    us.push_back(std::chrono::duration<double, std::micro>(clk::now() - t0).count());
    benchmark::DoNotOptimize(r.data());
  }
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) {
    return us.empty() ? 0.0
                      : us[std::min(us.size() - 1,
                                    static_cast<std::size_t>(p * static_cast<double>(us.size())))];
  };
  state.counters["p50_us"] = pct(0.50);
  state.counters["p99_us"] = pct(0.99);
}

void BM_HelloRoundTrip(benchmark::State& state) {
  round_trips(state, "{\"id\":1,\"method\":\"hello\"}\n", "\"sigdumpd\"");
}
BENCHMARK(BM_HelloRoundTrip)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_TensorRoundTrip(benchmark::State& state) {
  round_trips(state,
              "{\"id\":1,\"method\":\"tensor\",\"params\":{\"pair\":\"p\",\"name\":\"" +
                  layer_name(123) + "\"}}\n",
              "\"count\":1024");
}
BENCHMARK(BM_TensorRoundTrip)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
