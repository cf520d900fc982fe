// dump_file::open (map + parse + index) must cost in proportion to the number
// of records, not to the payload size: opening never reads payload bytes.
// Two dumps with the same 1024 records: "big" with 1 MiB payloads (1 GiB in
// all) and "small" with 64 KiB payloads (1/16). Payloads are file holes made
// by ftruncate: the parser skips them by their declared size and never reads
// them (beyond the first byte of the first payload, which variant detection
// looks at), so their content does not matter. The resident_pages counter
// (mincore after an open) shows the payload pages were never faulted in.
// BM_CopiedOverPlain: what parsing from guarded copies (as open does) costs
// against parsing the mapped bytes in place, in the same run.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "sigdump/dump_file.h"
#include "sigdump/dump_parser.h"
#include "sigdump/dump_writer.h"
#include "sigdump/mapping.h"

namespace {

constexpr int record_count = 1024;

struct dump_fixture {
  std::string path;
  std::uint64_t bytes = 0;
  std::uint64_t payload_per_record = 0;
  std::uint64_t expected_offset_512 = 0;  // payload offset of record 512, for the check
};

std::string make_temp_dir() {
  std::string templ = "/tmp/sigdump-bench-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return templ;
}

// Writes the headers and trailers of `record_count` f32 records with
// [1, side, side, 4] shapes; the payloads stay holes.
dump_fixture write_dump(const std::string& path, std::int64_t side) {
  dump_fixture f;
  f.path = path;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot create " + path);
  sigdump::writer_options o;
  std::string first = sigdump::dump_writer::render_first_line(o);
  std::uint64_t off = 0;
  auto put = [&](const std::string& s) {
    if (::pwrite(fd, s.data(), s.size(), static_cast<off_t>(off)) !=
        static_cast<ssize_t>(s.size())) {
      throw std::runtime_error("pwrite failed");
    }
    off += s.size();
  };
  put(first);
  for (int i = 0; i < record_count; ++i) {
    sigdump::tensor_spec s;
    char name[64];
    std::snprintf(name, sizeof name, "layer%04d/conv", i);
    s.name = name;
    s.shape = {1, side, side, 4};
    s.op_index = i;
    // Render a zero-element record of the same header and patch its size.
    f.payload_per_record = static_cast<std::uint64_t>(side * side * 4) * 4;
    std::string header = "//out 0 s: 1.000000 z: 0 type: float name: " + s.name +
                         " bConstant:0 shape:" + sigdump::format_shape(s.shape) + " dims:4\n" +
                         "op_out[" + std::to_string(i) + "] CONV_2D = {\n" +
                         "//buffer data size: " + std::to_string(f.payload_per_record) + "\n";
    put(header);
    if (i == 512) f.expected_offset_512 = off;
    off += f.payload_per_record;  // the hole
    put("\n};\n");
  }
  if (::ftruncate(fd, static_cast<off_t>(off)) != 0) throw std::runtime_error("ftruncate failed");
  ::close(fd);
  f.bytes = off;
  return f;
}

struct fixtures {
  std::string dir;
  dump_fixture big, small;
  fixtures() : dir(make_temp_dir()) {
    try {
      big = write_dump(dir + "/big.bin", 256);     // 1 MiB per record, 1 GiB in all
      small = write_dump(dir + "/small.bin", 64);  // 64 KiB per record
      check(big);
      check(small);
    } catch (...) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
      throw;
    }
  }
  ~fixtures() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  // The answer, checked before anything is timed.
  static void check(const dump_fixture& d) {
    auto f = sigdump::dump_file::open(d.path);
    if (!f) throw std::runtime_error(f.error().describe());
    if (f->records().size() != record_count) throw std::runtime_error("wrong record count");
    if (f->pending()) throw std::runtime_error("unexpected pending tail");
    auto ids = f->index().find(f->records(), "layer0512/conv");
    if (ids.size() != 1 || ids[0] != 512) throw std::runtime_error("lookup failed");
    const auto& r = f->records()[512];
    if (r.payload_offset != d.expected_offset_512 || r.payload_bytes != d.payload_per_record ||
        r.fit != sigdump::payload_fit::exact) {
      throw std::runtime_error("record 512 misread");
    }
  }
};

fixtures& the_fixtures() {
  static fixtures f;
  return f;
}

// Pages of the mapping resident after an open: headers only if payloads are skipped.
std::uint64_t resident_pages(const sigdump::dump_file& f) {
  auto m = f.current_mapping();
  const long page = ::sysconf(_SC_PAGESIZE);
  std::size_t pages =
      (m->size() + static_cast<std::uint64_t>(page) - 1) / static_cast<std::uint64_t>(page);
  std::vector<unsigned char> vec(pages);
  if (::mincore(const_cast<std::byte*>(m->bytes().data()), m->size(), vec.data()) != 0) return 0;
  std::uint64_t n = 0;
  for (unsigned char c : vec) n += c & 1;
  return n;
}

void report(benchmark::State& state, const dump_fixture& d) {
  state.counters["records"] = record_count;
  state.counters["file_MiB"] = static_cast<double>(d.bytes) / (1024.0 * 1024.0);
  state.counters["records_per_s"] = benchmark::Counter(
      static_cast<double>(record_count), benchmark::Counter::kIsIterationInvariantRate);
  auto f = sigdump::dump_file::open(d.path);
  if (f) state.counters["resident_pages"] = static_cast<double>(resident_pages(*f));
  state.counters["total_pages"] = static_cast<double>(d.bytes / 4096);
}

void BM_OpenIndex_Big(benchmark::State& state) {
  const auto& d = the_fixtures().big;
  for (auto _ : state) {
    auto f = sigdump::dump_file::open(d.path);
    benchmark::DoNotOptimize(f->records().data());
  }
  report(state, d);
}
BENCHMARK(BM_OpenIndex_Big)->Unit(benchmark::kMillisecond);

void BM_OpenIndex_Small(benchmark::State& state) {
  const auto& d = the_fixtures().small;
  for (auto _ : state) {
    auto f = sigdump::dump_file::open(d.path);
    benchmark::DoNotOptimize(f->records().data());
  }
  report(state, d);
}
BENCHMARK(BM_OpenIndex_Small)->Unit(benchmark::kMillisecond);

// Both files in each iteration, alternating, so noise hits both alike:
// big_over_small near 1 means the cost does not grow with payload size
// (the big file has 16x the payload bytes).
void BM_OpenIndex_Ratio(benchmark::State& state) {
  const auto& fx = the_fixtures();
  using clock = std::chrono::steady_clock;
  clock::duration big{}, small{};
  for (auto _ : state) {
    auto t0 = clock::now();
    auto a = sigdump::dump_file::open(fx.big.path);
    auto t1 = clock::now();
    auto b = sigdump::dump_file::open(fx.small.path);
    auto t2 = clock::now();
    benchmark::DoNotOptimize(a->records().data());
    benchmark::DoNotOptimize(b->records().data());
    big += t1 - t0;
    small += t2 - t1;
  }
  state.counters["records"] = record_count;
  state.counters["payload_ratio"] =
      static_cast<double>(fx.big.bytes) / static_cast<double>(fx.small.bytes);
  state.counters["big_over_small"] =
      std::chrono::duration<double>(big).count() / std::chrono::duration<double>(small).count();
}
BENCHMARK(BM_OpenIndex_Ratio)->Unit(benchmark::kMillisecond);

double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::shared_ptr<const sigdump::mapping> map_file(const std::string& path) {
  auto m = sigdump::mapping::open(path);
  if (!m) throw std::runtime_error(m.error().describe());
  return *m;
}

// What the guard costs the parse, in the same run: the parse dump_file runs
// (feed_copied: guarded copies of windows of the mapping, the parse on the
// copies) against the plain parse of the same mapped bytes in place (feed,
// unguarded: what the parse cost before the guard; safe only here, where
// nobody cuts the file). Both in each iteration, in alternating order, each
// timed in this thread's CPU time: copied_over_plain is the ratio of the
// sums. Warm page cache. fresh:0 parses one mapping again and again (its
// pages stay mapped: the parse's own CPU time); fresh:1 a new mapping for
// each parse (page faults included, as in an open).
void BM_CopiedOverPlain(benchmark::State& state) {
  const auto& fx = the_fixtures();
  const dump_fixture& d = state.range(0) != 0 ? fx.big : fx.small;
  const bool fresh = state.range(1) != 0;
  std::shared_ptr<const sigdump::mapping> kept = map_file(d.path);
  std::vector<sigdump::record> out;
  double plain = 0, copied = 0;
  bool copied_first = false;
  for (auto _ : state) {
    for (const bool use_copy : {copied_first, !copied_first}) {
      std::shared_ptr<const sigdump::mapping> map = fresh ? map_file(d.path) : kept;
      out.clear();
      sigdump::dump_parser parser(d.path);
      const double t0 = thread_cpu_seconds();
      auto fed = use_copy ? parser.feed_copied(map->size(), &sigdump::copy_mapped, map.get(), out)
                          : parser.feed(map->bytes(), out);
      const double t1 = thread_cpu_seconds();
      if (!fed || out.size() != record_count || parser.pending()) {
        state.SkipWithError("the parse misread the dump");
        return;
      }
      (use_copy ? copied : plain) += t1 - t0;
    }
    copied_first = !copied_first;
  }
  const auto n = static_cast<double>(state.iterations());
  state.counters["plain_us"] = plain / n * 1e6;
  state.counters["copied_us"] = copied / n * 1e6;
  state.counters["copied_over_plain"] = copied / plain;
}
BENCHMARK(BM_CopiedOverPlain)
    ->ArgNames({"big", "fresh"})
    ->ArgsProduct({{1, 0}, {0, 1}})
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
