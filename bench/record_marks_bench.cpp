// What the records' marks (daemon/src/core/record_marks.h) add to the live
// path, as ratios against a baseline measured in the same run:
//  - a look: parsing 256 new records (what one look parses at most) with
//    and without marking them and checking the first record's mark;
//  - a comparison: compare_layer of one layer with and without the
//    worker's checks after it (the record's and the first record's marks,
//    on both sides).
// Layers of 4, 16 and 64 KiB; the files (in $TMPDIR, removed at exit) are
// in the page cache, as a file just written is.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bench_daemon.h"
#include "core/record_marks.h"
#include "sigdump/compare.h"
#include "sigdump/dump_writer.h"

namespace {

using namespace sigdump;

constexpr int records = 256;

// The benchmark's temp folder, removed at exit.
struct temp_folder {
  std::string path = bench::make_temp_dir();
  ~temp_folder() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
};

// A float dump of `records` layers of `bytes` each, written once per size.
std::string dump_of(std::int64_t bytes, float scale) {
  static const temp_folder folder;
  const std::string& dir = folder.path;
  const std::string path =
      dir + "/d" + std::to_string(bytes) + "-" + std::to_string(static_cast<int>(scale * 100));
  if (std::filesystem::exists(path)) return path;
  auto w = dump_writer::create(path);
  if (!w) return {};
  const std::int64_t n = bytes / 4;
  std::vector<float> v(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = scale * static_cast<float>(i % 251);
  for (int r = 0; r < records; ++r) {
    tensor_spec s;
    s.name = "net/l" + std::to_string(r);
    s.shape = {1, n};
    s.op_index = r;
    if (!w->write(s, v)) return {};
  }
  return w->close() ? path : std::string();
}

std::shared_ptr<daemon::tracked_file> tracked(const std::string& path) {
  auto tf = std::make_shared<daemon::tracked_file>();
  tf->path = path;
  auto f = dump_file::open(path);
  if (!f) return nullptr;
  tf->file = std::make_unique<dump_file>(std::move(*f));
  daemon::mark_records(*tf, 0);
  return tf;
}

void look(benchmark::State& state, bool mark) {
  const std::string path = dump_of(state.range(0), 1.0f);
  parse_options o;
  o.records_per_feed = records;
  for (auto _ : state) {
    auto f = dump_file::open(path, o);
    if (!f) {
      state.SkipWithError("open failed");
      return;
    }
    daemon::tracked_file tf;
    tf.file = std::make_unique<dump_file>(std::move(*f));
    if (mark) benchmark::DoNotOptimize(daemon::mark_records(tf, 0));
    benchmark::DoNotOptimize(tf.file->records().size());
  }
  state.SetItemsProcessed(state.iterations() * records);
}
void BM_Look_Parse(benchmark::State& s) { look(s, false); }
void BM_Look_ParseAndMark(benchmark::State& s) { look(s, true); }

void comparison(benchmark::State& state, bool check) {
  auto sample = tracked(dump_of(state.range(0), 1.01f));
  auto bench = tracked(dump_of(state.range(0), 1.0f));
  if (!sample || !bench) {
    state.SkipWithError("open failed");
    return;
  }
  compare_options opts;
  opts.threads = 1;
  std::uint32_t rec = 0;
  for (auto _ : state) {
    rec = (rec + 1) % records;
    const auto sc = daemon::check_of(*sample, rec);
    const auto bc = daemon::check_of(*bench, rec);
    benchmark::DoNotOptimize(compare_layer(*sample->file, rec, *bench->file, rec, opts));
    if (check) {
      benchmark::DoNotOptimize(daemon::still_holds(*sample->file, sc));
      benchmark::DoNotOptimize(daemon::still_holds(*bench->file, bc));
    }
  }
}
void BM_Compare(benchmark::State& s) { comparison(s, false); }
void BM_CompareAndCheck(benchmark::State& s) { comparison(s, true); }

#define SIZES ->ArgName("bytes")->Arg(4 << 10)->Arg(16 << 10)->Arg(64 << 10)
BENCHMARK(BM_Look_Parse) SIZES;
BENCHMARK(BM_Look_ParseAndMark) SIZES;
BENCHMARK(BM_Compare) SIZES;
BENCHMARK(BM_CompareAndCheck) SIZES;

}  // namespace

BENCHMARK_MAIN();
