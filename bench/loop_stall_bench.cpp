// The event loop's stall while sigdumpd compares a big pair (issue 14):
// everything in the daemon's core runs on one loop thread, so a long piece
// of work there delays every request, a `hello` included, and every look
// at a file.
//
// BM_LoopStall/layers:LAYERS/unmatched:0: the real sigdumpd with a pair of LAYERS layers laid
// out as the simulator writes a network (per layer its "//in 0" record, a
// constant weight and its "//out 0" record), each record one write(2): the
// sample whole, then the benchmark. A client sends `hello` after `hello`
// meanwhile and times each round trip. Reported:
//   idle_ms            the mean hello round trip of the same daemon before
//                      anything is written (the baseline)
//   max_ms, p99_ms     the worst and the 99th percentile hello round trip
//                      while the pair is written and compared
//   max_over_idle, p99_over_idle   the same as ratios to idle_ms
//   total_ms           from the first byte written to the sample's run_revised
//                      with every layer (its run_end went out when its
//                      writer closed it, before the benchmark was written)
//   total_us_per_layer total_ms / LAYERS (flat when the cost is linear)
//   longest_cpu_ms     the daemon's longest loop callback in thread CPU
//                      time (status loop_longest_cpu_us): what a request
//                      waits for at worst on a machine with a CPU to spare,
//                      whatever the load of this one
//   longest_wall_ms    the same callback's wall time (scheduling included)
//   over_5ms           callbacks that took more than 5 ms of CPU time
//   loop_waited_ms     how long the daemon's loop thread was runnable but
//                      waited for a CPU (run_delay in its schedstat) while
//                      the pair was written and compared: what the other
//                      threads on the machine, the daemon's own included,
//                      made it wait
// The run_revised must carry LAYERS compared layers, or the benchmark fails.
// BM_LoopStall/layers:N/unmatched:1: the same with no benchmark name matching
// a sample name (N unmatched names, settled when the benchmark ends); its
// run_revised must say sample_only N.
// BM_LoopStall/.../tensor:1: the sample's first record (its "input") holds
// 16 MiB (4 Mi floats), and a third client sends `tensor` for it, one query
// after the other, while the pair is compared (the statistics over its 16
// MiB are taken on the server's worker); tensor_queries counts the replies
// with statistics, and there must be one.
// The state folder is DIR/state, on the benchmark's temp folder ($TMPDIR).
// BM_LoopStall/.../slow_disk_ms:MS: a slow state disk: sigdumpd runs with
// libsigdump_slow_disk.so preloaded (bench/slow_disk.cpp), which makes every
// open, write, fsync, fdatasync and rename under DIR/state take MS ms more
// on whatever thread calls it (a run start opens its log and writes the
// index, every layer appends a line, a run's end syncs its log). The loop's
// longest callback stays short only while none of them runs on it;
// slow_disk_ops counts the delayed calls (there must be some).
//
// BM_RunStartStall/runs:RUNS/layers:L/slow_disk_ms:MS: run starts, on a fast
// and on a slow state disk in the same benchmark run: for each, a fresh
// sigdumpd, the pair's benchmark written once (L layers), then the sample
// written RUNS times over (each a run: its start opens a run log and
// rewrites index.json, each layer appends a line, its end syncs the log),
// one after the other's run_end, while a client sends `hello` after
// `hello` (the first run ends when its writer closes the file; a rewrite
// in place ends when the file is quiet for 1 s, --quiet-ms 1000). The slow one has every open,
// write, sync, rename and unlink under its state folder take MS ms more (bench/slow_disk.cpp).
// Reported per disk (fast_, slow_): longest_cpu_ms and longest_wall_ms (the loop's longest
// callback, status loop_longest_*), max_hello_ms; and the ratios slow_over_fast_cpu,
// slow_over_fast_wall (about 1 while nothing of the state folder runs on the loop; MS /
// fast_longest_wall_ms or more when one call does). slow_disk_ops counts the slow disk's delayed
// writing calls.
//
// BM_ThreadClock: how far the thread CPU clock (CLOCK_THREAD_CPUTIME_ID,
// what loop_longest_cpu_us is measured with) jumps on this machine: a
// tight loop reads it and CLOCK_MONOTONIC for 2 s. A jump is two reads in a
// row whose thread CPU times differ by 0.2 ms or more while the monotonic
// clock moved less than that (a thread cannot run longer than the wall
// clock moves: the clock's accounting, not work). Reported: reads,
// jumps, jumps_per_s, max_jump_ms, and wall_gaps (reads 0.2 ms or more
// apart in wall time: the thread was off the CPU).
#include <benchmark/benchmark.h>
#include <simdjson.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

#include "bench_daemon.h"
#include "sigdump/dump_writer.h"

namespace {

using namespace sigdump;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::int64_t layer_elements = 64;
constexpr std::int64_t big_input_elements = std::int64_t{4} << 20;  // 16 MiB of f32

tensor_spec spec_named(const std::string& name, std::int64_t elements, std::int64_t op) {
  tensor_spec s;
  s.name = name;
  s.shape = {1, elements};
  s.op_index = op;
  return s;
}

std::vector<float> values_of(int layer, bool sample) {
  std::vector<float> v(static_cast<std::size_t>(layer_elements));
  for (std::size_t i = 0; i < v.size(); ++i) {
    v[i] = static_cast<float>(std::sin(0.1 * static_cast<double>(i + 1) + layer));
    if (sample && i % 7 == 0) v[i] *= 1.01f;
  }
  return v;
}

// Writes one side of the pair, one write(2) per record, as the simulator
// does; with `prefix`, every name starts with it (no sample name matches);
// with `big_input`, the first record holds big_input_elements values.
bool write_side(const std::string& path, bool sample, int layers, const std::string& prefix = {},
                bool big_input = false) {
  auto w = dump_writer::create(path);
  if (!w) return false;
  for (int i = 0; i < layers; ++i) {
    const std::string layer = prefix + "layer";
    const bool big = big_input && i == 0;
    tensor_spec in = spec_named(i == 0 ? prefix + "input" : layer + std::to_string(i - 1) + "/conv",
                                big ? big_input_elements : layer_elements, i);
    in.kind = record_kind::in;
    std::vector<float> in_values = values_of(i - 1, sample);
    if (big) in_values.resize(static_cast<std::size_t>(big_input_elements), 0.25f);
    tensor_spec weights = spec_named(layer + std::to_string(i) + "/weights", 16, i);
    weights.kind = record_kind::in;
    weights.port = 1;
    weights.constant = true;
    const tensor_spec out = spec_named(layer + std::to_string(i) + "/conv", layer_elements, i);
    if (!w->append_bytes(dump_writer::render({}, in, in_values)) ||
        !w->append_bytes(dump_writer::render({}, weights, std::vector<float>(16, 0.5f))) ||
        !w->append_bytes(dump_writer::render({}, out, values_of(i, sample)))) {
      return false;
    }
  }
  return static_cast<bool>(w->close());
}

// The run_delay (ns) of thread `tid` of `pid`: its time runnable but not
// running (0 without schedstats).
std::uint64_t run_delay_ns(pid_t pid, pid_t tid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/schedstat");
  std::uint64_t ran = 0, waited = 0;
  in >> ran >> waited;
  return waited;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

// hello after hello on a connection of its own until `stop`; the round
// trips in milliseconds, or empty when one went unanswered for 60 s.
std::vector<double> hello_loop(ipc::client& c, const std::atomic<bool>& stop, std::size_t at_most) {
  std::vector<double> ms;
  while (!stop && ms.size() < at_most) {
    const auto t0 = clock_type::now();
    if (!c.call("hello", {}, 60s)) return {};
    ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
  }
  return ms;
}

// The environment of a sigdumpd whose state folder DIR/state is a slow
// disk (bench/slow_disk.cpp) noting its calls in `log`; empty for ms 0.
std::vector<std::string> slow_state_env(const std::string& dir, std::int64_t ms,
                                        const std::string& log) {
  if (ms <= 0) return {};
  const std::string exe = bench::sigdumpd_path();
  return {"LD_PRELOAD=" + exe.substr(0, exe.rfind('/')) + "/libsigdump_slow_disk.so",
          "SIGDUMP_SLOW_DISK_DIR=" + dir + "/state", "SIGDUMP_SLOW_DISK_MS=" + std::to_string(ms),
          "SIGDUMP_SLOW_DISK_LOG=" + log};
}

// The loop's figures from a status reply: false when it has none.
struct loop_figures {
  std::uint64_t cpu_us = 0, wall_us = 0, over = 0;
};
bool read_loop_figures(ipc::client& c, loop_figures& out) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  auto status = c.call("status", {}, 30s);
  return status && !status->is_error && !parser.parse(status->result).get(doc) &&
         !doc["daemon"]["loop_longest_cpu_us"].get_uint64().get(out.cpu_us) &&
         !doc["daemon"]["loop_longest_wall_us"].get_uint64().get(out.wall_us) &&
         !doc["daemon"]["loop_over_5ms"].get_uint64().get(out.over);
}

void BM_LoopStall(benchmark::State& st) {
  const int layers = static_cast<int>(st.range(0));
  // 1: the benchmark's names are all different (every sample layer is
  // settled unmatched once the benchmark ends).
  const bool unmatched = st.range(1) != 0;
  // 1: `tensor` queries of a 16 MiB record meanwhile.
  const bool tensor = st.range(2) != 0;
  // > 0: the state folder's writes take this many ms more.
  const std::int64_t slow_ms = st.range(3);
  for (auto _ : st) {
    const std::string dir = bench::make_temp_dir();
    const std::string sample = dir + "/sample.bin", bench_path = dir + "/bench.bin";
    {
      const std::string slow_log = dir + "/slow-disk.log";
      const std::vector<std::string> env = slow_state_env(dir, slow_ms, slow_log);
      const pid_t pid = bench::spawn_sigdumpd(
          dir, {"--pair", "p:" + sample + "=" + bench_path, "--quiet-ms", "600000"}, env);
      bench::daemon_reaper reap{pid};
      auto sub = bench::connect_when_up(dir + "/sock");
      auto probe = bench::connect_when_up(dir + "/sock");
      auto asker = bench::connect_when_up(dir + "/sock");
      if (!sub || !probe || !asker || !sub->call("subscribe", R"({"pair":"p"})")) {
        st.SkipWithError("sigdumpd did not answer");
        break;
      }
      // The baseline: the same daemon, idle.
      const std::atomic<bool> never{false};
      const std::vector<double> idle = hello_loop(*probe, never, 2000);
      std::atomic<bool> stop{false};
      std::vector<double> busy;
      std::thread prober([&] { busy = hello_loop(*probe, stop, SIZE_MAX); });
      // `tensor` for the sample's 16 MiB input, query after query (an
      // error while the record is not read yet).
      std::size_t tensor_replies = 0;
      std::thread tensor_asker([&] {
        while (tensor && !stop) {
          auto m = asker->call("tensor", R"({"pair":"p","name":"input"})", 60s);
          if (!m) return;
          if (!m->is_error && m->result.find("\"stats\":{") != std::string::npos) ++tensor_replies;
        }
      });
      const auto t0 = clock_type::now();
      const std::uint64_t waited0 = run_delay_ns(pid, pid);
      const bool written = write_side(sample, true, layers, {}, tensor) &&
                           write_side(bench_path, false, layers, unmatched ? "other/" : "", tensor);
      // The sample's run_end went out when its writer closed it, before the
      // benchmark was there; the run_revised that follows the benchmark's end
      // has every layer.
      const std::string done =
          (unmatched ? "\"sample_only\":" : "\"compared\":") + std::to_string(layers) + ',';
      std::string end;
      while (written && end.empty() && clock_type::now() - t0 < 600s) {
        auto m = sub->next_event(10s);
        if (!m) break;
        if (*m && ((*m)->event == "run_end" || (*m)->event == "run_revised") &&
            (*m)->line.find(sample) != std::string::npos &&
            (*m)->line.find(done) != std::string::npos) {
          end = (*m)->line;
        }
      }
      const double total_ms =
          std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
      const double waited_ms = static_cast<double>(run_delay_ns(pid, pid) - waited0) / 1e6;
      stop = true;
      prober.join();
      tensor_asker.join();
      if (tensor && tensor_replies == 0) {
        st.SkipWithError("no `tensor` reply with statistics during the comparison");
        break;
      }
      if (!written || end.empty() || idle.empty() || busy.empty()) {
        st.SkipWithError("the pair was not compared, or a hello went unanswered");
        break;
      }
      // A daemon from before status had the loop's figures (a baseline
      // binary) reports none of them.
      loop_figures loop;
      const bool have_loop = read_loop_figures(*probe, loop);
      simdjson::dom::parser parser;
      simdjson::dom::element doc;
      std::int64_t settled = -1;
      if (parser.parse(end).get(doc) ||
          doc["coverage"][unmatched ? "sample_only" : "compared"].get_int64().get(settled) ||
          settled != layers) {
        st.SkipWithError(("no run_revised with every layer settled: " + end).c_str());
        break;
      }
      double idle_mean = 0;
      for (double v : idle) idle_mean += v;
      idle_mean /= static_cast<double>(idle.size());
      const double mx = *std::max_element(busy.begin(), busy.end());
      const double p99 = percentile(busy, 0.99);
      st.counters["idle_ms"] = idle_mean;
      st.counters["max_ms"] = mx;
      st.counters["p99_ms"] = p99;
      st.counters["max_over_idle"] = mx / idle_mean;
      st.counters["p99_over_idle"] = p99 / idle_mean;
      st.counters["hellos"] = static_cast<double>(busy.size());
      if (have_loop) {
        st.counters["longest_cpu_ms"] = static_cast<double>(loop.cpu_us) / 1000.0;
        st.counters["longest_wall_ms"] = static_cast<double>(loop.wall_us) / 1000.0;
        st.counters["over_5ms"] = static_cast<double>(loop.over);
      }
      if (tensor) st.counters["tensor_queries"] = static_cast<double>(tensor_replies);
      if (slow_ms > 0) {
        std::ifstream in(slow_log);
        const auto ops = std::count(std::istreambuf_iterator<char>(in), {}, '\n');
        if (ops == 0) {
          st.SkipWithError("the slow disk was not in place (no delayed write noted)");
          break;
        }
        st.counters["slow_disk_ops"] = static_cast<double>(ops);
      }
      st.counters["loop_waited_ms"] = waited_ms;
      st.counters["total_ms"] = total_ms;
      st.counters["total_us_per_layer"] = total_ms * 1000.0 / layers;
    }
    std::filesystem::remove_all(dir);
  }
}
// What one disk gave in BM_RunStartStall.
struct run_start_figures {
  loop_figures loop;
  double max_hello_ms = 0;
  std::int64_t slow_ops = 0;
};

// A fresh sigdumpd (its state folder slow by `slow_ms`), the benchmark
// written once, the sample `runs` times over, each after the last one's
// run_end, while a client says hello; an error text, or empty.
std::string run_starts(int runs, int layers, std::int64_t slow_ms, run_start_figures& out) {
  const std::string dir = bench::make_temp_dir();
  const std::string sample = dir + "/sample.bin", bench_path = dir + "/bench.bin";
  const std::string slow_log = dir + "/slow-disk.log";
  std::string error;
  {
    const pid_t pid = bench::spawn_sigdumpd(
        dir, {"--pair", "p:" + sample + "=" + bench_path, "--quiet-ms", "1000"},
        slow_state_env(dir, slow_ms, slow_log));
    bench::daemon_reaper reap{pid};
    auto sub = bench::connect_when_up(dir + "/sock");
    auto probe = bench::connect_when_up(dir + "/sock");
    if (!sub || !probe || !sub->call("subscribe", R"({"pair":"p"})"))
      return "sigdumpd did not answer";
    std::atomic<bool> stop{false};
    std::vector<double> hellos;
    std::thread prober([&] { hellos = hello_loop(*probe, stop, SIZE_MAX); });
    bool ok = write_side(bench_path, false, layers);
    for (int i = 0; ok && i < runs; ++i) {
      ok = write_side(sample, true, layers);
      bool ended = false;
      const auto t0 = clock_type::now();
      while (ok && !ended && clock_type::now() - t0 < 120s) {
        auto m = sub->next_event(10s);
        if (!m) break;
        ended = *m && (*m)->event == "run_end" && (*m)->line.find(sample) != std::string::npos;
      }
      ok = ended;
    }
    stop = true;
    prober.join();
    if (!ok) error = "a run of the sample did not end";
    if (error.empty() && hellos.empty()) error = "a hello went unanswered";
    if (error.empty() && !read_loop_figures(*probe, out.loop)) error = "no loop figures in status";
    if (error.empty()) out.max_hello_ms = *std::max_element(hellos.begin(), hellos.end());
  }
  if (slow_ms > 0 && error.empty()) {
    std::ifstream in(slow_log);
    out.slow_ops = std::count(std::istreambuf_iterator<char>(in), {}, '\n');
    if (out.slow_ops == 0) error = "the slow disk was not in place (no delayed write noted)";
  }
  std::filesystem::remove_all(dir);
  return error;
}

void BM_RunStartStall(benchmark::State& st) {
  const int runs = static_cast<int>(st.range(0));
  const int layers = static_cast<int>(st.range(1));
  const std::int64_t slow_ms = st.range(2);
  for (auto _ : st) {
    run_start_figures fast, slow;
    std::string error = run_starts(runs, layers, 0, fast);
    if (error.empty()) error = run_starts(runs, layers, slow_ms, slow);
    if (!error.empty()) {
      st.SkipWithError(error.c_str());
      break;
    }
    const auto ms = [](std::uint64_t us) { return static_cast<double>(us) / 1000.0; };
    st.counters["fast_longest_cpu_ms"] = ms(fast.loop.cpu_us);
    st.counters["fast_longest_wall_ms"] = ms(fast.loop.wall_us);
    st.counters["fast_max_hello_ms"] = fast.max_hello_ms;
    st.counters["slow_longest_cpu_ms"] = ms(slow.loop.cpu_us);
    st.counters["slow_longest_wall_ms"] = ms(slow.loop.wall_us);
    st.counters["slow_max_hello_ms"] = slow.max_hello_ms;
    st.counters["slow_over_fast_cpu"] =
        static_cast<double>(slow.loop.cpu_us) /
        static_cast<double>(std::max<std::uint64_t>(1, fast.loop.cpu_us));
    st.counters["slow_over_fast_wall"] =
        static_cast<double>(slow.loop.wall_us) /
        static_cast<double>(std::max<std::uint64_t>(1, fast.loop.wall_us));
    st.counters["slow_over_5ms"] = static_cast<double>(slow.loop.over);
    st.counters["slow_disk_ops"] = static_cast<double>(slow.slow_ops);
  }
}
BENCHMARK(BM_RunStartStall)
    ->ArgNames({"runs", "layers", "slow_disk_ms"})
    ->Args({10, 50, 20})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

std::uint64_t clock_ns(clockid_t id) {
  timespec ts{};
  ::clock_gettime(id, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

void BM_ThreadClock(benchmark::State& st) {
  constexpr std::uint64_t jump_ns = 200'000;
  for (auto _ : st) {
    std::uint64_t reads = 0, jumps = 0, wall_gaps = 0, max_jump = 0;
    const std::uint64_t start = clock_ns(CLOCK_MONOTONIC);
    std::uint64_t cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID), wall = start;
    while (wall - start < 2'000'000'000u) {
      const std::uint64_t c = clock_ns(CLOCK_THREAD_CPUTIME_ID);
      const std::uint64_t w = clock_ns(CLOCK_MONOTONIC);
      ++reads;
      const std::uint64_t dc = c - cpu, dw = w - wall;
      if (dw >= jump_ns) ++wall_gaps;
      if (dc >= jump_ns && dw < jump_ns) {
        ++jumps;
        max_jump = std::max(max_jump, dc);
      }
      cpu = c;
      wall = w;
    }
    const double seconds = static_cast<double>(wall - start) / 1e9;
    st.counters["reads"] = static_cast<double>(reads);
    st.counters["jumps"] = static_cast<double>(jumps);
    st.counters["jumps_per_s"] = static_cast<double>(jumps) / seconds;
    st.counters["max_jump_ms"] = static_cast<double>(max_jump) / 1e6;
    st.counters["wall_gaps"] = static_cast<double>(wall_gaps);
  }
}
BENCHMARK(BM_ThreadClock)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK(BM_LoopStall)
    ->ArgNames({"layers", "unmatched", "tensor", "slow_disk_ms"})
    ->Args({500, 0, 0, 0})
    ->Args({1000, 0, 0, 0})
    ->Args({2000, 0, 0, 0})
    ->Args({4000, 0, 0, 0})
    ->Args({8000, 0, 0, 0})
    ->Args({10000, 0, 0, 0})
    ->Args({10000, 1, 0, 0})
    ->Args({10000, 0, 1, 0})
    ->Args({10000, 0, 0, 20})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
