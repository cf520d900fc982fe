// Throughput of compare_dumps on a pair of ~512 MB float dumps (64 layers
// each) against a plain read-and-sum of the same mapped bytes, both with the
// same thread count, in the same run. Counter `ratio` = compare / baseline.
// Then the cost of per-channel evidence (compare_options::channel_evidence):
// with no suspect layer (thresholds nothing breaks) and with the default
// thresholds (some layers suspect), each against the same comparison
// without it in the same run; counter `time_ratio` = with / without.
// The answer is checked against a straightforward loop before any timing.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "sigdump/compare.h"
#include "sigdump/dump_file.h"
#include "sigdump/dump_writer.h"

namespace {

using namespace sigdump;

constexpr int layers = 64;
constexpr std::int64_t per_layer = std::int64_t{2} << 20;  // 2 Mi floats = 8 MiB

struct fixture {
  std::string sample_path, bench_path;
  std::optional<dump_file> sample, bench;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  double baseline_rate = 0;            // bytes/s, set by BM_ReadAndSumBaseline
  double seconds_without[2] = {0, 0};  // per compare, channel evidence off: [no suspect, default]
};
fixture* fx = nullptr;

bool generate(const std::string& path, bool noisy) {
  auto w = dump_writer::create(path);
  if (!w) return false;
  std::vector<float> v(static_cast<std::size_t>(per_layer));
  std::uint32_t state = 12345;
  for (int l = 0; l < layers; ++l) {
    std::uint32_t noise_state = 777u + static_cast<std::uint32_t>(l);
    for (auto& x : v) {
      state = state * 1664525u + 1013904223u;
      x = static_cast<float>(state >> 8) * (1.0f / 16777216.0f) - 0.5f;
      if (noisy) {
        noise_state = noise_state * 22695477u + 1u;
        x += static_cast<float>(noise_state >> 8) * (0.01f / 16777216.0f) *
             static_cast<float>(l % 8);
      }
    }
    tensor_spec s;
    s.name = "layer" + std::to_string(l) + "/conv:0";
    s.shape = {1, 128, 128, 128};
    s.op_index = l;
    if (!w->write(s, v)) return false;
  }
  return w->close().has_value();
}

// The vendor's formulas as a plain sequential loop.
bool check_against_reference(const compare_report& r) {
  for (int l : {0, 17, 63}) {
    const layer_result& got = r.layers[static_cast<std::size_t>(l)];
    auto a = fx->sample->view(got.sample_record);
    auto b = fx->bench->view(static_cast<std::uint32_t>(got.bench_record));
    if (!a || !b) return false;
    double ab = 0, aa = 0, bb = 0, dd = 0, ad = 0, abs_b = 0;
    for (std::uint64_t i = 0; i < a->elements; ++i) {
      const double x = a->at(i), y = b->at(i);
      ab += x * y, aa += x * x, bb += y * y, dd += (x - y) * (x - y);
      ad += std::fabs(x - y), abs_b += std::fabs(y);
    }
    const double mse = dd / static_cast<double>(a->elements);
    const double cos = ab / (std::sqrt(aa) * std::sqrt(bb));
    const double rmse = ad / abs_b;
    auto close = [](double x, double y) {
      return std::fabs(x - y) <= 1e-9 * std::max(1.0, std::fabs(y));
    };
    if (!close(got.metrics.mse, mse) || !close(got.metrics.cos, cos) ||
        !close(got.metrics.rmse, rmse)) {
      std::fprintf(stderr, "layer %d: got MSE %.12g COS %.12g RMSE %.12g, want %.12g %.12g %.12g\n",
                   l, got.metrics.mse, got.metrics.cos, got.metrics.rmse, mse, cos, rmse);
      return false;
    }
  }
  return true;
}

std::uint64_t sum_words(const std::byte* p, std::size_t n) {
  std::uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    std::uint64_t w[4];
    std::memcpy(w, p + i, sizeof w);
    s0 += w[0], s1 += w[1], s2 += w[2], s3 += w[3];
  }
  for (; i < n; ++i) s0 += static_cast<std::uint64_t>(p[i]);
  return s0 + s1 + s2 + s3;
}

// Read-and-sum of both mappings, split into as many slices as compare uses threads.
std::uint64_t read_and_sum() {
  const auto a = fx->sample->current_mapping()->bytes();
  const auto b = fx->bench->current_mapping()->bytes();
  std::atomic<std::uint64_t> total{0};
  auto work = [&](unsigned k) {
    std::uint64_t s = 0;
    for (auto span : {a, b}) {
      const std::size_t slice = span.size() / fx->threads;
      const std::size_t first = slice * k;
      const std::size_t len = k + 1 == fx->threads ? span.size() - first : slice;
      s += sum_words(span.data() + first, len);
    }
    total += s;
  };
  std::vector<std::jthread> pool;
  for (unsigned k = 1; k < fx->threads; ++k) pool.emplace_back(work, k);
  work(0);
  pool.clear();
  return total.load();
}

std::uint64_t input_bytes() {
  return fx->sample->current_mapping()->size() + fx->bench->current_mapping()->size();
}

void BM_ReadAndSumBaseline(benchmark::State& state) {
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t runs = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(read_and_sum());
    ++runs;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fx->baseline_rate = static_cast<double>(input_bytes() * runs) / secs;
  state.SetBytesProcessed(static_cast<std::int64_t>(input_bytes() * runs));
  state.counters["threads"] = fx->threads;
}

void BM_CompareLayers(benchmark::State& state) {
  compare_options o;
  o.threads = fx->threads;
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t runs = 0;
  for (auto _ : state) {
    auto r = compare_dumps(*fx->sample, *fx->bench, o);
    benchmark::DoNotOptimize(r);
    ++runs;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double rate = static_cast<double>(input_bytes() * runs) / secs;
  state.SetBytesProcessed(static_cast<std::int64_t>(input_bytes() * runs));
  state.counters["threads"] = fx->threads;
  state.counters["ratio"] = fx->baseline_rate > 0 ? rate / fx->baseline_rate : 0.0;
}

// state.range(0): 0 no layer suspect, 1 default thresholds; range(1): channel evidence on.
void BM_ChannelEvidence(benchmark::State& state) {
  const bool all_clean = state.range(0) == 0, channels = state.range(1) != 0;
  compare_options o;
  o.threads = fx->threads;
  o.channel_evidence = channels;
  if (all_clean) {
    o.thresholds.cos_min = 0.0;
    o.thresholds.rmse_max = 1e9;
  }
  std::size_t suspect = 0;
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t runs = 0;
  for (auto _ : state) {
    auto r = compare_dumps(*fx->sample, *fx->bench, o);
    suspect = 0;
    for (const auto& l : r->layers) suspect += l.suspect ? 1 : 0;
    benchmark::DoNotOptimize(r);
    ++runs;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                      static_cast<double>(runs);
  double& without = fx->seconds_without[all_clean ? 0 : 1];
  if (!channels) without = secs;
  state.counters["suspect_layers"] = static_cast<double>(suspect);
  state.counters["time_ratio"] = channels && without > 0 ? secs / without : 1.0;
  state.SetBytesProcessed(static_cast<std::int64_t>(input_bytes() * runs));
}

BENCHMARK(BM_ReadAndSumBaseline)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_CompareLayers)->Unit(benchmark::kMillisecond)->UseRealTime();
// Each "without" right before its "with", so both see the same machine.
BENCHMARK(BM_ChannelEvidence)
    ->ArgNames({"suspect", "channels"})
    ->Args({0, 0})
    ->Args({0, 1})
    ->Args({1, 0})
    ->Args({1, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  fixture f;
  fx = &f;
  const char* tmp = std::getenv("TMPDIR");
  const std::string dir = tmp && *tmp ? tmp : "/tmp";
  const std::string tag = std::to_string(::getpid());
  f.sample_path = dir + "/sigdump_compare_bench_sample_" + tag + ".bin";
  f.bench_path = dir + "/sigdump_compare_bench_bench_" + tag + ".bin";
  auto cleanup = [&] {
    f.sample.reset();
    f.bench.reset();
    std::remove(f.sample_path.c_str());
    std::remove(f.bench_path.c_str());
  };
  if (!generate(f.sample_path, true) || !generate(f.bench_path, false)) {
    std::fprintf(stderr, "compare_bench: cannot write the dumps in %s\n", dir.c_str());
    cleanup();
    return 1;
  }
  auto s = dump_file::open(f.sample_path);
  auto b = dump_file::open(f.bench_path);
  if (!s || !b) {
    std::fprintf(stderr, "compare_bench: cannot open the dumps\n");
    cleanup();
    return 1;
  }
  f.sample.emplace(std::move(*s));
  f.bench.emplace(std::move(*b));
  // Warm the page cache and check the answer before timing anything.
  benchmark::DoNotOptimize(read_and_sum());
  compare_options o;
  o.threads = f.threads;
  auto r = compare_dumps(*f.sample, *f.bench, o);
  if (!r || r->layers.size() != layers || !check_against_reference(*r)) {
    std::fprintf(stderr, "compare_bench: compare_dumps disagrees with the reference\n");
    cleanup();
    return 1;
  }
  std::fprintf(stderr, "compare_bench: %d layers, %.0f MB of input, answer checked\n", layers,
               static_cast<double>(input_bytes()) / 1e6);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  cleanup();
  return 0;
}
