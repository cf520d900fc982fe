// Throughput of compare_dumps against a plain read-and-sum of the same
// mapped bytes, both on the same thread count, in the same run, once per
// kernel variant this CPU runs (SIGDUMP_ISA's names: avx512, avx2, sse2,
// scalar). Counter `ratio` = compare / the read-and-sum of the same pair
// measured just before it (BM_ReadAndSum/PAIR/VARIANT). Pairs
// (bench_pairs.h): f32, 64 layers (1.07 GB); quant, 64 layers (0.36 GB);
// nchw, 16 layers (0.27 GB).
// Before any timing, every pair's answer is checked against a plain loop,
// and every variant's JSON report against the first one's, byte for byte.
// Then, on the f32 pair, the cost of per-channel evidence
// (compare_options::channel_evidence): with no suspect layer (thresholds
// nothing breaks) and with the default thresholds (some layers suspect),
// each against the same comparison without it, right before it; counters
// `time_ratio` = with / without (wall), `cpu_ratio` the same in the
// process's CPU time.
// Last, the evidence pass alone on one thread (compute_channel_evidence
// over the f32 pair's suspect layers, per variant) right after a
// one-thread read-and-sum of the same layers' bytes: counter `ratio` =
// evidence speed / that read's (BM_EvidencePass/f32/VARIANT).
// Environment: SIGDUMP_BENCH_THREADS (default: every core).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "bench_pairs.h"
#include "sigdump/channel_metrics.h"
#include "sigdump/compare.h"
#include "sigdump/dump_file.h"
#include "sigdump/dump_writer.h"
#include "sigdump/isa.h"
#include "sigdump/report/report_json.h"

namespace {

using namespace sigdump;

constexpr std::int64_t per_layer = bench::pair_layer_elements;

struct pair_spec {
  const char* name;
  bench::pair_kind kind;
  int layers;
};

constexpr pair_spec pair_specs[] = {
    {"f32", bench::pair_kind::f32, 64},
    {"quant", bench::pair_kind::quant, 64},
    {"nchw", bench::pair_kind::nchw, 16},
};

struct pair_files {
  const pair_spec* spec = nullptr;
  std::string sample_path, bench_path;
  std::optional<dump_file> sample, bench;
  double baseline_rate = 0;  // bytes/s, set by BM_ReadAndSum
};

struct fixture {
  std::vector<pair_files> pairs;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
};
fixture* fx = nullptr;

// The vendor's formulas as a plain sequential loop, reading the benchmark
// through the layer's layout.
bool check_against_reference(const pair_files& p, const compare_report& r) {
  const int last = p.spec->layers - 1;
  for (int l : {0, last / 2 + 1, last}) {
    const layer_result& got = r.layers[static_cast<std::size_t>(l)];
    auto a = p.sample->view(got.sample_record);
    auto b = p.bench->view(static_cast<std::uint32_t>(got.bench_record));
    if (!a || !b) return false;
    const layout_choice want_layout = p.spec->kind == bench::pair_kind::nchw
                                          ? layout_choice::benchmark_nchw_to_nhwc
                                          : layout_choice::same;
    if (got.layout != want_layout) {
      std::fprintf(stderr, "%s layer %d: layout %s, want %s\n", p.spec->name, l,
                   layout_name(got.layout), layout_name(want_layout));
      return false;
    }
    std::vector<double> bv(b->elements);
    read_values(*b, got.layout, 0, bv);
    double ab = 0, aa = 0, bb = 0, dd = 0, ad = 0, abs_b = 0;
    for (std::uint64_t i = 0; i < a->elements; ++i) {
      const double x = a->at(i), y = bv[i];
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
      std::fprintf(
          stderr, "%s layer %d: got MSE %.12g COS %.12g RMSE %.12g, want %.12g %.12g %.12g\n",
          p.spec->name, l, got.metrics.mse, got.metrics.cos, got.metrics.rmse, mse, cos, rmse);
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
std::uint64_t read_and_sum(const pair_files& p) {
  const auto a = p.sample->current_mapping()->bytes();
  const auto b = p.bench->current_mapping()->bytes();
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

std::uint64_t input_bytes(const pair_files& p) {
  return p.sample->current_mapping()->size() + p.bench->current_mapping()->size();
}

void BM_ReadAndSum(benchmark::State& state, pair_files* p) {
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t runs = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(read_and_sum(*p));
    ++runs;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  p->baseline_rate = static_cast<double>(input_bytes(*p) * runs) / secs;
  state.SetBytesProcessed(static_cast<std::int64_t>(input_bytes(*p) * runs));
  state.counters["threads"] = fx->threads;
}

void BM_Compare(benchmark::State& state, pair_files* p, kernel_isa isa) {
  if (!use_isa(isa)) {
    state.SkipWithError("variant not supported here");
    return;
  }
  state.SetLabel(isa_name(isa));
  compare_options o;
  o.threads = fx->threads;
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t runs = 0;
  for (auto _ : state) {
    auto r = compare_dumps(*p->sample, *p->bench, o);
    benchmark::DoNotOptimize(r);
    ++runs;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double rate = static_cast<double>(input_bytes(*p) * runs) / secs;
  state.SetBytesProcessed(static_cast<std::int64_t>(input_bytes(*p) * runs));
  state.SetItemsProcessed(
      static_cast<std::int64_t>(static_cast<std::uint64_t>(p->spec->layers) * per_layer * runs));
  state.counters["threads"] = fx->threads;
  state.counters["ratio"] = p->baseline_rate > 0 ? rate / p->baseline_rate : 0.0;
}

// compare_dumps on every variant: the same JSON to the byte.
bool variants_agree(const pair_files& p) {
  compare_options o;
  o.threads = fx->threads;
  std::string first;
  for (kernel_isa v : supported_isas()) {
    if (!use_isa(v)) return false;
    auto r = compare_dumps(*p.sample, *p.bench, o);
    if (!r || r->layers.size() != static_cast<std::size_t>(p.spec->layers)) return false;
    if (first.empty() && !check_against_reference(p, *r)) return false;
    const std::string json = report_json(*r);
    if (first.empty()) {
      first = json;
    } else if (json != first) {
      std::fprintf(stderr, "compare_bench: %s pair: the %s report differs from the %s one\n",
                   p.spec->name, isa_name(v), isa_name(supported_isas().front()));
      return false;
    }
  }
  return true;
}

// CPU time of the whole process (every thread) so far.
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// all_clean: thresholds nothing breaks; channels: per-channel evidence on.
void BM_ChannelEvidence(benchmark::State& state, pair_files* p, bool all_clean, bool channels) {
  static double seconds_without[2] = {0, 0};  // [no suspect, default thresholds]
  static double cpu_without[2] = {0, 0};      // the process's CPU seconds, the same
  compare_options o;
  o.threads = fx->threads;
  o.channel_evidence = channels;
  if (all_clean) {
    o.thresholds.cos_min = 0.0;
    o.thresholds.rmse_max = 1e9;
  }
  std::size_t suspect = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = process_cpu_seconds();
  std::uint64_t runs = 0;
  for (auto _ : state) {
    auto r = compare_dumps(*p->sample, *p->bench, o);
    suspect = 0;
    for (const auto& l : r->layers) suspect += l.suspect ? 1 : 0;
    benchmark::DoNotOptimize(r);
    ++runs;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                      static_cast<double>(runs);
  const double cpu = (process_cpu_seconds() - cpu0) / static_cast<double>(runs);
  double& without = seconds_without[all_clean ? 0 : 1];
  double& cpu_before = cpu_without[all_clean ? 0 : 1];
  if (!channels) without = secs, cpu_before = cpu;
  state.counters["suspect_layers"] = static_cast<double>(suspect);
  state.counters["time_ratio"] = channels && without > 0 ? secs / without : 1.0;
  // Under load a process gets CPU time rather than cores: the steadier figure.
  state.counters["cpu_ratio"] = channels && cpu_before > 0 ? cpu / cpu_before : 1.0;
  state.SetBytesProcessed(static_cast<std::int64_t>(input_bytes(*p) * runs));
}

// The suspect layers of a pair under the default thresholds, as views.
struct evidence_input {
  struct layer {
    tensor_view sample, bench;
    layout_choice layout;
  };
  std::vector<layer> layers;
  std::uint64_t bytes = 0;
  double read_seconds = 0;  // per run, set by BM_ReadSuspectLayers
};

bool find_suspect_layers(const pair_files& p, evidence_input& out) {
  compare_options o;
  o.threads = fx->threads;
  auto r = compare_dumps(*p.sample, *p.bench, o);
  if (!r) return false;
  for (const layer_result& l : r->layers) {
    if (!l.suspect) continue;
    auto a = p.sample->view(l.sample_record);
    auto b = p.bench->view(static_cast<std::uint32_t>(l.bench_record));
    if (!a || !b || a->data == nullptr || b->data == nullptr) return false;
    out.bytes += a->elements * dtype_size(a->storage) + b->elements * dtype_size(b->storage);
    out.layers.push_back({std::move(*a), std::move(*b), l.layout});
  }
  return !out.layers.empty();
}

void BM_ReadSuspectLayers(benchmark::State& state, evidence_input* in) {
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t runs = 0;
  for (auto _ : state) {
    std::uint64_t s = 0;
    for (const auto& l : in->layers) {
      for (const tensor_view* v : {&l.sample, &l.bench}) {
        s += sum_words(v->data, v->elements * dtype_size(v->storage));
      }
    }
    benchmark::DoNotOptimize(s);
    ++runs;
  }
  in->read_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                     static_cast<double>(runs);
  state.SetBytesProcessed(static_cast<std::int64_t>(in->bytes * runs));
  state.counters["layers"] = static_cast<double>(in->layers.size());
}

void BM_EvidencePass(benchmark::State& state, evidence_input* in, kernel_isa isa) {
  if (!use_isa(isa)) {
    state.SkipWithError("variant not supported here");
    return;
  }
  state.SetLabel(isa_name(isa));
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t runs = 0;
  for (auto _ : state) {
    for (const auto& l : in->layers) {
      auto ev = compute_channel_evidence(l.sample, l.bench, l.layout);
      if (!ev) state.SkipWithError("the evidence failed");
      benchmark::DoNotOptimize(ev);
    }
    ++runs;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                      static_cast<double>(runs);
  state.SetBytesProcessed(static_cast<std::int64_t>(in->bytes * runs));
  state.counters["layers"] = static_cast<double>(in->layers.size());
  state.counters["ratio"] = in->read_seconds > 0 ? in->read_seconds / secs : 0.0;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  fixture f;
  fx = &f;
  if (const char* t = std::getenv("SIGDUMP_BENCH_THREADS"); t && *t) {
    f.threads = std::max(1u, static_cast<unsigned>(std::strtoul(t, nullptr, 10)));
  }
  const char* tmp = std::getenv("TMPDIR");
  const std::string dir = tmp && *tmp ? tmp : "/tmp";
  const std::string tag = std::to_string(::getpid());
  f.pairs.resize(std::size(pair_specs));
  auto cleanup = [&] {
    for (auto& p : f.pairs) {
      p.sample.reset();
      p.bench.reset();
      if (!p.sample_path.empty()) std::remove(p.sample_path.c_str());
      if (!p.bench_path.empty()) std::remove(p.bench_path.c_str());
    }
  };
  // A variant named by SIGDUMP_ISA must exist here; the runs below force each.
  if (auto v = active_isa(); !v) {
    std::fprintf(stderr, "compare_bench: %s\n", v.error().describe().c_str());
    return 2;
  }
  std::string variants;
  for (kernel_isa v : supported_isas()) variants += std::string(" ") + isa_name(v);
  for (std::size_t k = 0; k < f.pairs.size(); ++k) {
    pair_files& p = f.pairs[k];
    p.spec = &pair_specs[k];
    p.sample_path = dir + "/sigdump_compare_bench_" + p.spec->name + "_sample_" + tag + ".bin";
    p.bench_path = dir + "/sigdump_compare_bench_" + p.spec->name + "_bench_" + tag + ".bin";
    if (!bench::write_pair_side(p.spec->kind, p.spec->layers, p.sample_path, true) ||
        !bench::write_pair_side(p.spec->kind, p.spec->layers, p.bench_path, false)) {
      std::fprintf(stderr, "compare_bench: cannot write the dumps in %s\n", dir.c_str());
      cleanup();
      return 1;
    }
    auto s = dump_file::open(p.sample_path);
    auto b = dump_file::open(p.bench_path);
    if (!s || !b) {
      std::fprintf(stderr, "compare_bench: cannot open the dumps\n");
      cleanup();
      return 1;
    }
    p.sample.emplace(std::move(*s));
    p.bench.emplace(std::move(*b));
    // Warm the page cache and check the answers before timing anything.
    benchmark::DoNotOptimize(read_and_sum(p));
    if (!variants_agree(p)) {
      std::fprintf(stderr, "compare_bench: %s pair: compare_dumps disagrees\n", p.spec->name);
      cleanup();
      return 1;
    }
    std::fprintf(stderr,
                 "compare_bench: %s pair, %d layers, %.0f MB of input, answer checked, "
                 "identical reports from:%s\n",
                 p.spec->name, p.spec->layers, static_cast<double>(input_bytes(p)) / 1e6,
                 variants.c_str());
    // Each variant right after its own read-and-sum of the pair: the
    // machine's speed drifts less between the two than over the whole run.
    for (kernel_isa v : supported_isas()) {
      const std::string run = std::string(p.spec->name) + "/" + isa_name(v);
      benchmark::RegisterBenchmark(("BM_ReadAndSum/" + run).c_str(), BM_ReadAndSum, &p)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("BM_Compare/" + run).c_str(), BM_Compare, &p, v)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
  for (auto& p : f.pairs) {
    if (p.spec->kind != bench::pair_kind::f32) continue;
    for (bool clean : {true, false}) {
      for (bool channels : {false, true}) {
        const std::string name = std::string("BM_ChannelEvidence/") +
                                 (clean ? "no_suspect" : "default_thresholds") +
                                 (channels ? "/on" : "/off");
        benchmark::RegisterBenchmark(name.c_str(), BM_ChannelEvidence, &p, clean, channels)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
  }
  evidence_input evidence;
  for (auto& p : f.pairs) {
    if (p.spec->kind != bench::pair_kind::f32) continue;
    if (!find_suspect_layers(p, evidence)) {
      std::fprintf(stderr, "compare_bench: %s pair: no suspect layer to give evidence of\n",
                   p.spec->name);
      cleanup();
      return 1;
    }
    for (kernel_isa v : supported_isas()) {
      const std::string run = std::string(p.spec->name) + "/" + isa_name(v);
      benchmark::RegisterBenchmark(("BM_ReadSuspectLayers/" + run).c_str(), BM_ReadSuspectLayers,
                                   &evidence)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("BM_EvidencePass/" + run).c_str(), BM_EvidencePass, &evidence,
                                   v)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
  std::fprintf(stderr, "compare_bench: %u threads; variants run here:%s\n", f.threads,
               variants.c_str());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  cleanup();
  return 0;
}
