// Live latency of sigdumpd: from the last byte of a layer written to the
// sample dump (by another process, one write(2)) to its metrics being
// published on the loop thread (core in-process) and to the layer event
// read by a subscriber of the real sigdumpd (socket), for 64 KiB, 1 MiB and
// 16 MiB layers; p50 and p99 as counters, with the baseline measured in the
// same run (libdump's compare of one such layer) and p99 over the issue's
// target. Also the anonymous memory (RssAnon) sigdumpd needs while
// tracking 8 GiB of (sparse) dumps.
//
// In the core benchmark the tracker, worker pool and event loop are the
// daemon's own classes, run in-process; the event sink is the seam the
// socket server uses.
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
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "bench_daemon.h"
#include "core/tracker.h"
#include "platform/event_loop.h"
#include "platform/worker_pool.h"
#include "sigdump/compare.h"
#include "sigdump/dump_writer.h"
#include "sigdump/ipc/client.h"
#include "sigdump/isa.h"
#include "sigdump/report/report_json.h"

namespace {

using namespace sigdump;
using namespace sigdump::daemon;
using clock_type = std::chrono::steady_clock;
using bench::make_temp_dir;
using bench::spawn_sigdumpd;

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

// How the writer puts a record into the file.
enum class write_style : int {
  // One write(2) of all but the last 64 bytes, then those: the record
  // appears at once, header and payload together.
  one_write = 0,
  // As a stdio FILE (or a Python file object) writes a big tensor: the
  // header and the payload's first bytes when its 4 KiB buffer fills, then
  // the rest of the payload straight from the caller's buffer in one
  // write(2) (here all but the last 64 bytes), then the end.
  buffered = 1,
};

// The sample's writer: a separate process, as the simulator is. Forked
// before any thread starts; told which layer to append through a pipe, it
// renders the record, appends it and answers with the steady clock
// (CLOCK_MONOTONIC, the same in every process) read right before the write
// of the record's last bytes.
class writer_process {
 public:
  bool start(const std::string& path, std::int64_t elements, const std::vector<float>& values,
             write_style style) {
    int cmd[2], ack[2];
    if (::pipe2(cmd, O_CLOEXEC) != 0) return false;
    if (::pipe2(ack, O_CLOEXEC) != 0) return false;
    pid_ = ::fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      ::close(cmd[1]);
      ::close(ack[0]);
      auto w = dump_writer::create(path);
      if (!w) ::_exit(1);
      std::int32_t layer = 0;
      while (::read(cmd[0], &layer, sizeof layer) == static_cast<ssize_t>(sizeof layer) &&
             layer >= 0) {
        std::string rec = dump_writer::render({}, layer_spec(layer, elements), values);
        // All but the last 64 bytes first; the clock is read right before
        // the write of those (the record is complete only once it returns),
        // so a writer preempted around that write can only make the
        // measured latency longer, never shorter.
        const std::size_t tail = std::min<std::size_t>(64, rec.size());
        std::string_view head(rec.data(), rec.size() - tail);
        if (style == write_style::buffered && head.size() > 4096) {
          if (!w->append_bytes(head.substr(0, 4096))) ::_exit(1);
          head.remove_prefix(4096);
        }
        if (!head.empty() && !w->append_bytes(head)) ::_exit(1);
        std::int64_t t0 = clock_type::now().time_since_epoch().count();
        if (!w->append_bytes(std::string_view(rec).substr(rec.size() - tail))) ::_exit(1);
        if (::write(ack[1], &t0, sizeof t0) != static_cast<ssize_t>(sizeof t0)) ::_exit(1);
      }
      ::_exit(0);
    }
    ::close(cmd[0]);
    ::close(ack[1]);
    cmd_ = cmd[1];
    ack_ = ack[0];
    return true;
  }
  /* Appends layer i; returns when it was written, with the time it was. */
  std::optional<clock_type::time_point> append(std::int32_t i) {
    if (::write(cmd_, &i, sizeof i) != static_cast<ssize_t>(sizeof i)) return std::nullopt;
    std::int64_t t0 = 0;
    if (::read(ack_, &t0, sizeof t0) != static_cast<ssize_t>(sizeof t0)) return std::nullopt;
    return clock_type::time_point(clock_type::duration(t0));
  }
  ~writer_process() {
    if (pid_ <= 0) return;
    std::int32_t stop = -1;
    // A writer already gone misses the stop; waitpid reaps it all the same.
    [[maybe_unused]] const ssize_t sent = ::write(cmd_, &stop, sizeof stop);
    ::close(cmd_);
    ::close(ack_);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }

 private:
  pid_t pid_ = -1;
  int cmd_ = -1, ack_ = -1;
};

// Layer sizes timed, and how many layers of each (fixed iterations: the
// benchmark dump holds that many layers).
constexpr std::pair<std::int64_t, int> latency_sizes[] = {
    {64 << 10, 300}, {1 << 20, 120}, {16 << 20, 24}};
int layers_for(std::int64_t bytes) {
  for (auto [b, n] : latency_sizes) {
    if (b == bytes) return n;
  }
  return 24;
}

// One latency benchmark's files: the benchmark dump written whole, the
// sample values, and the baseline: the time libdump's compare takes for
// one layer of this size (measured here, in the same run). The target of
// the issue is 2 ms for layers up to 1 MiB and 2 ms plus the layer's bytes
// at the compare rate above that.
struct latency_setup {
  std::string dir, bench_path, sample_path;
  std::int64_t elements = 0;
  int layers = 0;
  static constexpr int warmup = 3;
  std::vector<float> svals;
  double compare_us = 0;

  bool prepare(std::int64_t bytes) {
    elements = bytes / 4;
    layers = layers_for(bytes);
    dir = make_temp_dir();
    bench_path = dir + "/bench.bin";
    sample_path = dir + "/sample.bin";
    std::vector<float> bvals(static_cast<std::size_t>(elements));
    svals.resize(bvals.size());
    for (std::size_t i = 0; i < bvals.size(); ++i) {
      bvals[i] = static_cast<float>(std::sin(static_cast<double>(i) * 0.01));
      svals[i] = bvals[i] * 1.01f + 0.001f;
    }
    {
      auto w = dump_writer::create(bench_path);
      if (!w) return false;
      for (int i = 0; i < layers + warmup; ++i) (void)w->write(layer_spec(i, elements), bvals);
    }
    // Baseline: libdump's compare of two layers of this size as `sigdump
    // compare` meets them: a fresh mapping of page-cached bytes not touched
    // recently (a different pair each time: comparing one pair again and
    // again runs from the CPU cache, faster than any real comparison),
    // with the thread count the daemon uses for a layer of this size.
    compare_options co;
    co.threads = elements > (1 << 20) ? 0 : 1;
    const int total = layers + warmup, half = total / 2;
    std::vector<double> us;
    for (int i = 0; i < 7 && i + half < total; ++i) {
      auto b = dump_file::open(bench_path);
      if (!b) return false;
      auto t0 = clock_type::now();
      auto r = compare_layer(*b, static_cast<std::uint32_t>(i), *b,
                             static_cast<std::uint32_t>(i + half), co);
      benchmark::DoNotOptimize(r);
      us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
    }
    if (us.empty()) return false;
    std::sort(us.begin(), us.end());
    compare_us = us[us.size() / 2];
    return true;
  }
  double target_us(std::int64_t bytes) const {
    return bytes <= (1 << 20) ? 2000.0 : 2000.0 + compare_us;
  }
  ~latency_setup() {
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

void report_latency(benchmark::State& st, std::vector<double> lat_us, const latency_setup& s,
                    std::int64_t bytes) {
  std::sort(lat_us.begin(), lat_us.end());
  auto pct = [&](double p) {
    if (lat_us.empty()) return 0.0;
    auto i = static_cast<std::size_t>(p * static_cast<double>(lat_us.size() - 1));
    return lat_us[i];
  };
  st.counters["p50_us"] = pct(0.50);
  st.counters["p99_us"] = pct(0.99);
  st.counters["max_us"] = lat_us.empty() ? 0.0 : lat_us.back();
  st.counters["compare_us"] = s.compare_us;
  st.counters["target_us"] = s.target_us(bytes);
  st.counters["p99_over_target"] = pct(0.99) / s.target_us(bytes);
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations()) * bytes);
  // The kernel variant (SIGDUMP_ISA, which the daemon inherits, or the best).
  if (auto v = active_isa()) st.SetLabel(isa_name(*v));
}

// The timed part shared by both latency benchmarks: append one layer per
// iteration and wait for it with `seen` (when it was published or
// received; nullopt: never), then report.
void time_layers(benchmark::State& st, const latency_setup& s, writer_process& writer,
                 std::int64_t bytes,
                 const std::function<std::optional<clock_type::time_point>(int)>& seen) {
  std::vector<double> lat_us;
  int next = latency_setup::warmup;
  for (auto _ : st) {
    auto t0 = writer.append(next);
    auto t1 = t0 ? seen(next) : std::nullopt;
    if (!t1) {
      st.SkipWithError("a layer was never published or never reached the subscriber");
      break;
    }
    double us = std::max(std::chrono::duration<double, std::micro>(*t1 - *t0).count(), 0.0);
    lat_us.push_back(us);
    st.SetIterationTime(us / 1e6);
    ++next;
  }
  report_latency(st, std::move(lat_us), s, bytes);
}

// The daemon's core in-process (tracker, worker pool, event loop): latency
// to the event sink the socket server feeds.
void BM_LiveLayerLatency(benchmark::State& st) {
  const auto bytes = static_cast<std::int64_t>(st.range(0));
  latency_setup s;
  writer_process writer;
  const auto style = static_cast<write_style>(st.range(1));
  if (!s.prepare(bytes) || !writer.start(s.sample_path, s.elements, s.svals, style)) {
    st.SkipWithError("cannot prepare the dumps");
    return;
  }
  latency_sink sink;
  live_core live;
  daemon_options opts;
  opts.pairs = {{"bench", s.sample_path, s.bench_path}};
  opts.poll = std::chrono::milliseconds(1000);  // latency must come from inotify, not the timer
  if (!live.start(opts, &sink)) {
    st.SkipWithError("cannot start the core");
    return;
  }
  // Reference check before timing: the first layers must equal the
  // offline comparison of the same bytes.
  for (int i = 0; i < latency_setup::warmup; ++i) {
    clock_type::time_point at;
    if (!writer.append(i) || !sink.wait_for(i, at)) {
      st.SkipWithError("a warm-up layer was never published");
      return;
    }
  }
  {
    auto sf = dump_file::open(s.sample_path);
    auto bf = dump_file::open(s.bench_path);
    compare_options co;
    co.threads = 1;
    std::lock_guard lock(sink.m);
    for (int i = 0; i < latency_setup::warmup; ++i) {
      auto ref =
          compare_layer(*sf, static_cast<std::uint32_t>(i), *bf, static_cast<std::uint32_t>(i), co);
      const auto& got = sink.layers[i];
      if (ref.metrics.cos != got.metrics.cos || ref.metrics.mse != got.metrics.mse ||
          ref.metrics.rmse != got.metrics.rmse) {
        st.SkipWithError("published metrics differ from compare_layer");
        return;
      }
    }
  }
  time_layers(st, s, writer, bytes, [&](int i) -> std::optional<clock_type::time_point> {
    clock_type::time_point t1;
    if (!sink.wait_for(i, t1)) return std::nullopt;
    return t1;
  });
  live.stop();
}

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
  pid_t pid =
      spawn_sigdumpd(dir, {"--watch", watch, "--events-log", events, "--quiet-ms", "600000"});
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

// The user's view: the real sigdumpd process, the writer process, and a
// subscriber on the Unix socket; latency from the last byte written to the
// layer event read by the subscriber.
std::optional<std::int64_t> layer_index_of(const ipc::message& m) {
  if (m.event != "layer") return std::nullopt;
  auto at = m.line.find("\"layer\":{\"index\":");
  if (at == std::string::npos) return std::nullopt;
  return std::strtoll(m.line.c_str() + at + 17, nullptr, 10);
}

void BM_SocketLayerLatency(benchmark::State& st) {
  const auto bytes = static_cast<std::int64_t>(st.range(0));
  latency_setup s;
  writer_process writer;
  const auto style = static_cast<write_style>(st.range(1));
  if (!s.prepare(bytes) || !writer.start(s.sample_path, s.elements, s.svals, style)) {
    st.SkipWithError("cannot prepare the dumps");
    return;
  }
  pid_t daemon = spawn_sigdumpd(s.dir, {"--pair", "bench:" + s.sample_path + "=" + s.bench_path,
                                        "--poll-ms", "1000", "--quiet-ms", "600000"});
  bench::daemon_reaper reap{daemon};
  std::optional<ipc::client> sub = bench::connect_when_up(s.dir + "/sock");
  if (!sub || !sub->call("subscribe", R"({"pair":"bench"})")) {
    st.SkipWithError("cannot subscribe to sigdumpd");
    return;
  }
  // Waits for the layer event of `index`; returns it and when it was read.
  auto wait_layer =
      [&](std::int64_t index) -> std::optional<std::pair<ipc::message, clock_type::time_point>> {
    auto deadline = clock_type::now() + std::chrono::seconds(30);
    while (clock_type::now() < deadline) {
      auto m = sub->next_event(std::chrono::milliseconds(1000));
      if (!m) return std::nullopt;
      if (!*m) continue;
      auto now = clock_type::now();
      if (layer_index_of(**m) == index) return std::pair{std::move(**m), now};
    }
    return std::nullopt;
  };
  // Reference check before timing: the layer objects on the socket are
  // byte for byte what libdump's compare gives for the same records.
  std::vector<std::string> warm_lines;
  for (int i = 0; i < latency_setup::warmup; ++i) {
    auto got = writer.append(i) ? wait_layer(i) : std::nullopt;
    if (!got) {
      st.SkipWithError("a warm-up layer never reached the subscriber");
      return;
    }
    warm_lines.push_back(got->first.line);
  }
  {
    auto sf = dump_file::open(s.sample_path);
    auto bf = dump_file::open(s.bench_path);
    compare_options co;
    co.threads = 1;
    for (int i = 0; i < latency_setup::warmup; ++i) {
      auto ref =
          compare_layer(*sf, static_cast<std::uint32_t>(i), *bf, static_cast<std::uint32_t>(i), co);
      ref.index = static_cast<std::uint32_t>(i);
      if (warm_lines[static_cast<std::size_t>(i)].find("\"layer\":" + layer_json(ref)) ==
          std::string::npos) {
        st.SkipWithError("the layer event differs from compare_layer");
        return;
      }
    }
  }
  time_layers(st, s, writer, bytes, [&](int i) -> std::optional<clock_type::time_point> {
    auto got = wait_layer(i);
    if (!got) return std::nullopt;
    return got->second;
  });
}

// Both latency benchmarks for every size of latency_sizes.
const bool latency_registered = [] {
  for (auto fn : {std::pair{"BM_LiveLayerLatency", &BM_LiveLayerLatency},
                  std::pair{"BM_SocketLayerLatency", &BM_SocketLayerLatency}}) {
    for (auto [bytes, layers] : latency_sizes) {
      for (auto style : {write_style::one_write, write_style::buffered}) {
        benchmark::RegisterBenchmark(fn.first, fn.second)
            ->Args({bytes, static_cast<int>(style)})
            ->ArgNames({"bytes", "buffered"})
            ->Iterations(layers)
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond);
      }
    }
  }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
