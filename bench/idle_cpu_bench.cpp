// What an idle sigdumpd costs with many finished dumps tracked (issue 15):
// inotify reports every change, so a daemon watching files nobody writes
// should use next to no CPU however many files it tracks.
//
// BM_IdleCpu/FILES/FOLDERS: two real sigdumpd processes idle side by side
// over the same window (SIGDUMP_IDLE_SECONDS, default 60): the baseline
// tracks one finished dump, the other FILES finished dumps spread over
// FOLDERS watched folders, each folder's first two files a pair. Both run
// with the default stat timer (--poll-ms 200). Measured once every file is
// tracked and every run has ended, from /proc/PID/stat (utime + stime).
// Reported:
//   base_cpu_s_per_min  the baseline's CPU seconds per idle minute
//   cpu_s_per_min       the same for the daemon with FILES files
//   cpu_percent         that as a percentage of one core
//   over_base           cpu_s_per_min / base_cpu_s_per_min
//   looks_per_min       files the stat timer looked at per idle minute
//                       (status "stat_looks")

#include <benchmark/benchmark.h>
#include <simdjson.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "bench_daemon.h"
#include "sigdump/dump_writer.h"

namespace {

using namespace sigdump;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A finished dump of 13 layers of 4 KiB, about the miniature simulator's.
bool write_dump(const std::string& path, int seed) {
  auto w = dump_writer::create(path);
  if (!w) return false;
  for (int l = 0; l < 13; ++l) {
    tensor_spec s;
    s.name = "layer" + std::to_string(l) + "/conv";
    s.shape = {1, 1024};
    s.op_index = l;
    std::vector<float> v(1024);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((seed + l + i) % 17);
    if (!w->write(s, v)) return false;
  }
  return static_cast<bool>(w->close());
}

// FILES dumps over FOLDERS folders under dir; the daemon arguments that
// watch them (and pair each folder's first two files).
std::vector<std::string> make_files(const std::string& dir, int files, int folders) {
  std::vector<std::string> args;
  for (int f = 0; f < folders; ++f) {
    const std::string folder = dir + "/w" + std::to_string(f);
    std::filesystem::create_directories(folder);
    args.insert(args.end(), {"--watch", folder});
    const int here = files / folders + (f < files % folders ? 1 : 0);
    for (int i = 0; i < here; ++i) {
      if (!write_dump(folder + "/f" + std::to_string(i) + "_outtensor_dump.bin", f * 1000 + i))
        return {};
    }
    if (here >= 2) {
      args.insert(args.end(),
                  {"--pair", "p" + std::to_string(f) + ":" + folder +
                                 "/f0_outtensor_dump.bin=" + folder + "/f1_outtensor_dump.bin"});
    }
  }
  return args;
}

// utime + stime of pid in seconds.
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Fields 3..13 precede utime (14) and stime (15).
  for (int i = 3; i <= 13; ++i) rest >> field;
  rest >> utime >> stime;
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

struct idle_status {
  bool settled = false;  // every file tracked, no file live
  double looks = 0;
};

idle_status status_of(ipc::client& c, std::size_t files) {
  idle_status out;
  auto reply = c.call("status", {}, 30s);
  if (!reply || reply->is_error) return out;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(reply->result).get(doc)) return out;
  std::uint64_t looks = 0;
  if (!doc["daemon"]["stat_looks"].get_uint64().get(looks)) out.looks = static_cast<double>(looks);
  simdjson::dom::array list;
  if (doc["files"].get_array().get(list) || list.size() != files) return out;
  for (auto f : list) {
    std::string_view state;
    if (f["state"].get_string().get(state) || state == "live") return out;
  }
  out.settled = true;
  return out;
}

void BM_IdleCpu(benchmark::State& st) {
  const int files = static_cast<int>(st.range(0));
  const int folders = static_cast<int>(st.range(1));
  const char* env = std::getenv("SIGDUMP_IDLE_SECONDS");
  const double window_s = env != nullptr ? std::atof(env) : 60.0;
  for (auto _ : st) {
    const std::string base_dir = bench::make_temp_dir(), dir = bench::make_temp_dir();
    const auto base_args = make_files(base_dir, 1, 1);
    const auto args = make_files(dir, files, folders);
    if (base_args.empty() || args.empty()) {
      st.SkipWithError("could not write the dumps");
      break;
    }
    {
      const pid_t base_pid = bench::spawn_sigdumpd(base_dir, base_args);
      bench::daemon_reaper base_reap{base_pid};
      const pid_t pid = bench::spawn_sigdumpd(dir, args);
      bench::daemon_reaper reap{pid};
      auto base_c = bench::connect_when_up(base_dir + "/sock");
      auto c = bench::connect_when_up(dir + "/sock");
      if (!base_c || !c) {
        st.SkipWithError("sigdumpd did not answer");
        break;
      }
      const auto deadline = clock_type::now() + 300s;
      while ((!status_of(*c, static_cast<std::size_t>(files)).settled ||
              !status_of(*base_c, 1).settled) &&
             clock_type::now() < deadline) {
        std::this_thread::sleep_for(100ms);
      }
      const idle_status before = status_of(*c, static_cast<std::size_t>(files));
      if (!before.settled) {
        st.SkipWithError("the daemon did not track every file, or a run never ended");
        break;
      }
      // The measured window: nothing touches either daemon meanwhile.
      const double base0 = cpu_seconds(base_pid), cpu0 = cpu_seconds(pid);
      const auto t0 = clock_type::now();
      std::this_thread::sleep_for(std::chrono::duration<double>(window_s));
      const double base1 = cpu_seconds(base_pid), cpu1 = cpu_seconds(pid);
      const double minutes = std::chrono::duration<double>(clock_type::now() - t0).count() / 60;
      const idle_status after = status_of(*c, static_cast<std::size_t>(files));
      const double base_rate = (base1 - base0) / minutes, rate = (cpu1 - cpu0) / minutes;
      st.counters["base_cpu_s_per_min"] = base_rate;
      st.counters["cpu_s_per_min"] = rate;
      st.counters["cpu_percent"] = rate / 60 * 100;
      // One clock tick is the resolution: a baseline of 0 ticks counts as 1.
      const double tick_per_min = 1.0 / static_cast<double>(::sysconf(_SC_CLK_TCK)) / minutes;
      st.counters["over_base"] = rate / std::max(base_rate, tick_per_min);
      st.counters["looks_per_min"] = (after.looks - before.looks) / minutes;
    }
    std::filesystem::remove_all(base_dir);
    std::filesystem::remove_all(dir);
  }
}
BENCHMARK(BM_IdleCpu)
    ->Args({1000, 50})
    ->Args({1000, 10})
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
