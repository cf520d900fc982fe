// Live latency of sigdumpd's core: from the last byte of a layer written to
// the sample dump (by another thread, plain write(2)) to its metrics being
// published on the loop thread, for 64 KiB, 1 MiB and 16 MiB layers; p50
// and p99 as counters. Also the anonymous memory (RssAnon) the core needs
// while tracking 8 GiB of (sparse) dumps.
//
// The tracker, worker pool and event loop are the daemon's own classes,
// run in-process; the event sink is the seam the socket server uses.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "event_loop.h"
#include "sigdump/compare.h"
#include "sigdump/dump_writer.h"
#include "tracker.h"
#include "worker_pool.h"

namespace {

using namespace sigdump;
using namespace sigdump::daemon;
using clock_type = std::chrono::steady_clock;

std::string make_temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/sigdump-bench-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return {};
  return tmpl;
}

// Collects the publish time of each layer event of one run.
struct latency_sink : event_sink {
  std::mutex m;
  std::condition_variable cv;
  std::map<std::int64_t, clock_type::time_point> seen;
  std::map<std::int64_t, layer_result> layers;
  void publish(const daemon_event& e) override {
    if (e.kind != event_kind::layer || !e.layer) return;
    auto now = clock_type::now();
    std::lock_guard lock(m);
    seen[e.layer->index] = now;
    layers[e.layer->index] = *e.layer;
    cv.notify_all();
  }
  bool wait_for(std::int64_t index, clock_type::time_point& at) {
    std::unique_lock lock(m);
    bool ok = cv.wait_for(lock, std::chrono::seconds(30), [&] { return seen.contains(index); });
    if (ok) at = seen[index];
    return ok;
  }
};

// The daemon core on its own loop thread.
struct live_core {
  std::unique_ptr<event_loop> loop;
  daemon_state state{1, ::getpid()};
  worker_pool pool{2};
  std::unique_ptr<tracker> core;
  std::thread thread;

  bool start(const daemon_options& opts, event_sink* sink) {
    auto l = make_event_loop();
    if (!l) return false;
    loop = std::move(*l);
    state.add_sink(sink);
    core = std::make_unique<tracker>(*loop, state, nullptr, pool);
    if (!core->start(opts)) return false;
    thread = std::thread([this] { (void)loop->run(); });
    return true;
  }
  void stop() {
    if (!thread.joinable()) return;
    loop->post([this] {
      core->stop();
      loop->stop();
    });
    thread.join();
    pool.shutdown();
    core.reset();
  }
  ~live_core() { stop(); }
};

tensor_spec layer_spec(int i, std::int64_t elements) {
  tensor_spec s;
  s.name = "layer" + std::to_string(i) + "/conv";
  s.shape = {1, elements};
  s.op_index = i;
  return s;
}

void BM_LiveLayerLatency(benchmark::State& st) {
  const auto bytes = static_cast<std::int64_t>(st.range(0));
  const std::int64_t elements = bytes / 4;
  const int layers = bytes <= (64 << 10) ? 300 : bytes <= (1 << 20) ? 120 : 24;
  const int warmup = 3;
  std::string dir = make_temp_dir();
  std::string bench_path = dir + "/bench.bin", sample_path = dir + "/sample.bin";
  std::vector<float> bvals(static_cast<std::size_t>(elements)), svals(bvals.size());
  for (std::size_t i = 0; i < bvals.size(); ++i) {
    bvals[i] = static_cast<float>(std::sin(static_cast<double>(i) * 0.01));
    svals[i] = bvals[i] * 1.01f + 0.001f;
  }
  {
    auto w = dump_writer::create(bench_path);
    for (int i = 0; i < layers + warmup; ++i) (void)w->write(layer_spec(i, elements), bvals);
  }
  auto w = dump_writer::create(sample_path);
  if (!w) {
    st.SkipWithError("cannot create the sample dump");
    return;
  }
  latency_sink sink;
  live_core live;
  daemon_options opts;
  opts.pairs = {{"bench", sample_path, bench_path}};
  opts.poll = std::chrono::milliseconds(1000);  // latency must come from inotify, not the timer
  if (!live.start(opts, &sink)) {
    st.SkipWithError("cannot start the core");
    return;
  }
  // Reference check before timing: the first layers must equal the
  // offline comparison of the same bytes.
  for (int i = 0; i < warmup; ++i) {
    (void)w->write(layer_spec(i, elements), svals);
    clock_type::time_point at;
    if (!sink.wait_for(i, at)) {
      st.SkipWithError("a warm-up layer was never published");
      return;
    }
  }
  {
    auto s = dump_file::open(sample_path);
    auto b = dump_file::open(bench_path);
    compare_options co;
    co.threads = 1;
    std::lock_guard lock(sink.m);
    for (int i = 0; i < warmup; ++i) {
      auto ref =
          compare_layer(*s, static_cast<std::uint32_t>(i), *b, static_cast<std::uint32_t>(i), co);
      const auto& got = sink.layers[i];
      if (ref.metrics.cos != got.metrics.cos || ref.metrics.mse != got.metrics.mse ||
          ref.metrics.rmse != got.metrics.rmse) {
        st.SkipWithError("published metrics differ from compare_layer");
        return;
      }
    }
  }
  std::vector<double> lat_us;
  int next = warmup;
  for (auto _ : st) {
    // One write(2) for the whole record, so "last byte written" is exact.
    st.PauseTiming();
    std::string rec = dump_writer::render({}, layer_spec(next, elements), svals);
    st.ResumeTiming();
    (void)w->append_bytes(rec);
    auto t0 = clock_type::now();  // write(2) of the last byte has returned
    clock_type::time_point t1;
    if (!sink.wait_for(next, t1)) {
      st.SkipWithError("layer never published");
      break;
    }
    double us = std::chrono::duration<double, std::micro>(t1 - t0).count();
    lat_us.push_back(std::max(us, 0.0));
    st.SetIterationTime(std::max(us, 0.0) / 1e6);
    ++next;
  }
  live.stop();
  std::sort(lat_us.begin(), lat_us.end());
  auto pct = [&](double p) {
    if (lat_us.empty()) return 0.0;
    auto i = static_cast<std::size_t>(p * static_cast<double>(lat_us.size() - 1));
    return lat_us[i];
  };
  st.counters["p50_us"] = pct(0.50);
  st.counters["p99_us"] = pct(0.99);
  st.counters["max_us"] = lat_us.empty() ? 0.0 : lat_us.back();
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations()) * bytes);
  std::filesystem::remove_all(dir);
}
// Iterations are fixed: the bench file holds that many layers.
BENCHMARK(BM_LiveLayerLatency)
    ->Arg(64 << 10)
    ->Iterations(300)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LiveLayerLatency)
    ->Arg(1 << 20)
    ->Iterations(120)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LiveLayerLatency)
    ->Arg(16 << 20)
    ->Iterations(24)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// A sparse dump: real headers, payloads left as holes (never read unless
// a pair needs them; no pair here).
bool write_sparse_dump(const std::string& path, int records, std::uint64_t payload) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  std::string first = "isFloat: 1\n";
  off_t off = 0;
  bool ok = ::pwrite(fd, first.data(), first.size(), off) == static_cast<ssize_t>(first.size());
  off += static_cast<off_t>(first.size());
  for (int i = 0; i < records && ok; ++i) {
    std::string head = "//out 0 s: 1.000000 z: 0 type: float name: big" + std::to_string(i) +
                       "/conv bConstant:0 shape:[1, " + std::to_string(payload / 4) +
                       "] dims:2\nop_out[" + std::to_string(i) +
                       "] CONV_2D = {\n//buffer data size: " + std::to_string(payload) + "\n";
    ok = ::pwrite(fd, head.data(), head.size(), off) == static_cast<ssize_t>(head.size());
    off += static_cast<off_t>(head.size() + payload);
    const char trailer[] = "\n};\n";
    ok = ok && ::pwrite(fd, trailer, 4, off) == 4;
    off += 4;
  }
  ::close(fd);
  return ok;
}

long pid_status_kb(pid_t pid, const char* key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::strlen(key)));
  }
  return -1;
}

std::string sigdumpd_path() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  std::string self(buf, static_cast<std::size_t>(n));
  return self.substr(0, self.find_last_of('/')) + "/sigdumpd";
}

std::size_t count_lines_with(const std::string& path, const std::string& needle) {
  std::ifstream in(path);
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) n += line.find(needle) != std::string::npos ? 1 : 0;
  return n;
}

// The real sigdumpd, tracking `files` sparse dumps; returns its RssAnon and
// RssFile (KiB) once every file has its run, or -1s.
std::pair<long, long> daemon_memory(const std::string& dir, const std::string& watch,
                                    std::size_t files) {
  std::string events = dir + "/events.ndjson";
  ::unlink(events.c_str());
  std::string exe = sigdumpd_path();
  std::vector<std::string> args{exe,           "--foreground", "--watch",      watch,
                                "--state-dir", dir + "/state", "--events-log", events,
                                "--socket",    dir + "/sock",  "--quiet-ms",   "600000"};
  pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    ::dup2(null_fd, 2);
    ::setenv("XDG_CONFIG_HOME", (dir + "/no-config").c_str(), 1);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  std::pair<long, long> out{-1, -1};
  auto deadline = clock_type::now() + std::chrono::seconds(60);
  while (clock_type::now() < deadline) {
    if (count_lines_with(events, "\"run_start\"") >= files) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let it settle
      out = {pid_status_kb(pid, "RssAnon:"), pid_status_kb(pid, "RssFile:")};
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return out;
}

// sigdumpd's anonymous memory while it tracks 8 GiB of dumps (8 sparse
// files of 64 records x 16 MiB, no pair: payload bytes are never read),
// against the same daemon tracking one tiny dump.
void BM_TrackedMemory8GiB(benchmark::State& st) {
  const int files = 8, records = 64;
  const std::uint64_t payload = 16ull << 20;  // 8 x 64 x 16 MiB = 8 GiB
  std::string dir = make_temp_dir();
  std::filesystem::create_directories(dir + "/big");
  std::filesystem::create_directories(dir + "/small");
  for (int f = 0; f < files; ++f) {
    if (!write_sparse_dump(dir + "/big/f" + std::to_string(f) + "_outtensor_dump.bin", records,
                           payload)) {
      st.SkipWithError("cannot write the sparse dumps");
      return;
    }
  }
  if (!write_sparse_dump(dir + "/small/tiny_outtensor_dump.bin", 1, 64)) {
    st.SkipWithError("cannot write the small dump");
    return;
  }
  std::pair<long, long> big{-1, -1}, small{-1, -1};
  for (auto _ : st) {
    small = daemon_memory(dir, dir + "/small", 1);
    big = daemon_memory(dir, dir + "/big", files);
  }
  if (big.first < 0 || small.first < 0) st.SkipWithError("sigdumpd did not track the dumps");
  st.counters["tracked_GiB"] = static_cast<double>(files) * records * static_cast<double>(payload) /
                               static_cast<double>(1ull << 30);
  st.counters["rss_anon_KiB"] = static_cast<double>(big.first);
  st.counters["rss_anon_baseline_KiB"] = static_cast<double>(small.first);
  st.counters["rss_file_KiB"] = static_cast<double>(big.second);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_TrackedMemory8GiB)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
