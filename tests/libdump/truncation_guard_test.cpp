// A file truncated while libdump reads it: every public read (open, refresh,
// view, checked value reads, compare) returns an error naming the file, the
// record and the offset, never dies of SIGBUS.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sigdump/compare.h"
#include "sigdump/dump_file.h"
#include "sigdump/dump_writer.h"
#include "sigdump/mapping.h"
#include "test_support.h"

namespace sigdump::testing {
namespace {

constexpr std::int64_t side = 128;  // 128*128 floats: 64 KiB per payload

std::vector<float> ramp(std::size_t n, float base) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = base + static_cast<float>(i % 97) * 0.25f;
  return v;
}

// A binary (or text) dump of `records` layers, each payload several pages.
void write_dump(const std::string& path, int records, dump_variant variant = dump_variant::binary) {
  writer_options o;
  o.variant = variant;
  auto w = dump_writer::create(path, o);
  ASSERT_TRUE(w) << w.error().describe();
  const std::int64_t s = variant == dump_variant::text ? 32 : side;
  for (int i = 0; i < records; ++i) {
    tensor_spec t;
    t.name = "layer" + std::to_string(i);
    t.shape = {1, s, s, 1};
    t.op_index = i;
    auto ok = w->write(t, ramp(static_cast<std::size_t>(s * s), static_cast<float>(i)));
    ASSERT_TRUE(ok) << ok.error().describe();
  }
  ASSERT_TRUE(w->close());
}

void truncate_to(const std::string& path, off_t size) {
  ASSERT_EQ(::truncate(path.c_str(), size), 0);
}

TEST(TruncationGuard, OpenOfAShrunkMappingNamesRecordAndOffset) {
  temp_dir dir;
  const std::string path = dir.file("sigma_outtensor_dump.bin");
  write_dump(path, 3);
  auto ref = dump_file::open(path);
  ASSERT_TRUE(ref) << ref.error().describe();
  ASSERT_EQ(ref->records().size(), 3u);
  // The parser reads the gap after record 0's payload (its trailer) first.
  const std::uint64_t gap = ref->records()[0].end_offset;

  // Map at full size, then cut the file inside record 0's payload: record
  // 1's header now lies on a page past the end of the file.
  auto map = mapping::open(path);
  ASSERT_TRUE(map);
  truncate_to(path, 4096);
  auto f = dump_file::from_mapping(*map, parse_options{dump_variant::binary});
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, errc::truncated);
  EXPECT_EQ(f.error().file, path);
  EXPECT_EQ(f.error().record, 1);
  EXPECT_EQ(f.error().offset, gap);
  // Detecting the variant: record 0's payload is no value text, so it is
  // binary without a look past the payload; the gap after it is lost.
  auto detect = dump_file::from_mapping(*map);
  ASSERT_FALSE(detect);
  EXPECT_EQ(detect.error().code, errc::truncated);
  EXPECT_EQ(detect.error().record, 1);
  EXPECT_EQ(detect.error().offset, gap);
  EXPECT_NE(f.error().describe().find("file shrank while being read"), std::string::npos)
      << f.error().describe();

  // Opening again sees the short file: record 0 is cut, nothing crashes.
  auto again = dump_file::open(path);
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_TRUE(again->records().empty());
  ASSERT_TRUE(again->pending());
}

// Killed by SIGBUS, or under a sanitizer whose SIGBUS handler the guard
// passes the signal on to, ended by its report; never `caught` (the signal
// taken for a vanished page), `returned` or `went_on`.
bool died_of_sigbus(int status, int caught, int returned, int went_on) {
  return (WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS) ||
         (WIFEXITED(status) && WEXITSTATUS(status) != caught && WEXITSTATUS(status) != returned &&
          WEXITSTATUS(status) != went_on) ||
         (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}

// A SIGBUS sent by another process or thread (kill -BUS, tgkill) while a
// guarded read runs is not a vanished page: it was turned into a read error
// and the process went on. It must act as SIGBUS always does, even under a
// guard whose range holds every address (a sent signal's si_addr is junk).
TEST(TruncationGuardDeathTest, ASentSigbusIsNotAVanishedPage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const guard_range everything{
      std::span(reinterpret_cast<const std::byte*>(std::uintptr_t{1}), SIZE_MAX - 1)};
  EXPECT_EXIT(
      {
        const bool ok = sigdump::guarded_read(
            everything,
            [](void*) {
              ::pthread_kill(::pthread_self(), SIGBUS);
              ::_exit(3);  // not reached: the signal ends the process
            },
            nullptr);
        ::_exit(ok ? 4 : 5);
      },
      [](int status) { return died_of_sigbus(status, 5, 4, 3); }, "");
}

// A page that vanished from a mapping the guarded call was not given (a
// bug reading someone else's bytes, another library's mapping) is not the
// guard's to catch: it was taken for a cut of the guarded file.
TEST(TruncationGuardDeathTest, AFaultOutsideTheGuardedBytesIsNotCaught) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  temp_dir dir;
  const std::string guarded = dir.file("guarded.bin"), other = dir.file("other.bin");
  write_dump(guarded, 2);
  write_dump(other, 2);
  auto g = mapping::open(guarded);
  auto o = mapping::open(other);
  ASSERT_TRUE(g && o);
  truncate_to(other, 0);
  EXPECT_EXIT(
      {
        const bool ok = guarded_read(
            {(*g)->bytes()},
            [](void* p) {
              volatile std::byte b = static_cast<const mapping*>(p)->bytes()[8192];
              (void)b;
            },
            const_cast<mapping*>(o->get()));
        ::_exit(ok ? 4 : 5);
      },
      [](int status) { return died_of_sigbus(status, 5, 4, 4); }, "");
}

TEST(TruncationGuard, InnerGuardNestsInsideACallersGuard) {
  temp_dir dir;
  const std::string path = dir.file("d.bin");
  write_dump(path, 2);
  auto map = mapping::open(path);
  ASSERT_TRUE(map);
  truncate_to(path, 0);
  struct call {
    std::shared_ptr<const mapping> map;
    bool failed_cleanly = false;
  } c{*map};
  // The daemon wraps open/refresh in its own guard: the inner one must
  // catch first and the outer one must stay armed and unused.
  const bool outer_ok = guarded_read(
      {(*map)->bytes()},
      [](void* p) {
        auto* k = static_cast<call*>(p);
        auto f = dump_file::from_mapping(k->map);
        k->failed_cleanly = !f && f.error().code == errc::truncated && f.error().record == 0;
      },
      &c);
  EXPECT_TRUE(outer_ok);
  EXPECT_TRUE(c.failed_cleanly);
  // And the outer guard still works after the inner one fired.
  const void* fault = nullptr;
  const bool caught = guarded_read(
      {(*map)->bytes()},
      [](void* p) {
        auto* k = static_cast<call*>(p);
        volatile std::byte b = k->map->bytes()[8192];
        (void)b;
      },
      &c, &fault);
  EXPECT_FALSE(caught);
  EXPECT_EQ((*map)->offset_of(fault), 8192u);
  // An inner guard over other bytes lets the fault through to the outer
  // guard whose range holds it.
  fault = nullptr;
  const bool outer_caught = guarded_read(
      {(*map)->bytes()},
      [](void* p) {
        guarded_read(
            {},
            [](void* q) {
              volatile std::byte b = static_cast<call*>(q)->map->bytes()[4096];
              (void)b;
            },
            p);
      },
      &c, &fault);
  EXPECT_FALSE(outer_caught);
  EXPECT_EQ((*map)->offset_of(fault), 4096u);
}

TEST(TruncationGuard, CheckedValueReadsAndCompareReportTheLostRecord) {
  temp_dir dir;
  const std::string path = dir.file("d.bin");
  write_dump(path, 3);
  auto f = dump_file::open(path);
  ASSERT_TRUE(f) << f.error().describe();
  auto v = f->view(2);
  ASSERT_TRUE(v) << v.error().describe();
  const std::uint64_t payload = f->records()[2].payload_offset;
  std::vector<double> before(16);
  ASSERT_TRUE(v->read_checked(0, before));
  EXPECT_DOUBLE_EQ(before[1], 2.25);

  truncate_to(path, 4096);

  std::vector<double> out(1024);
  auto r = v->read_checked(0, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::truncated);
  EXPECT_EQ(r.error().file, path);
  EXPECT_EQ(r.error().record, 2);
  EXPECT_EQ(r.error().record_name, "layer2");
  EXPECT_EQ(r.error().offset, payload);

  auto st = compute_stats_checked(*v);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, errc::truncated);
  EXPECT_EQ(st.error().record, 2);

  // A fresh view is refused up front (the pages are gone).
  auto v2 = f->view(1);
  ASSERT_FALSE(v2);
  EXPECT_EQ(v2.error().record, 1);

  // The metric kernels on a view whose bytes vanished (guard per chunk).
  auto bench_path = dir.file("bench.bin");
  write_dump(bench_path, 3);
  auto bench = dump_file::open(bench_path);
  ASSERT_TRUE(bench);
  auto bv = bench->view(2);
  ASSERT_TRUE(bv);
  auto m = compute_metrics(*v, *bv, layout_choice::same, 2);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, errc::truncated);
  EXPECT_EQ(m.error().file, path);
  EXPECT_EQ(m.error().record, 2);
  EXPECT_EQ(m.error().record_name, "layer2");
  // The kernel reads several values at once: the lost byte is one of them.
  EXPECT_GE(m.error().offset, payload);
  EXPECT_LT(m.error().offset, payload + 64);
  EXPECT_NE(m.error().describe().find("file shrank while being read"), std::string::npos);
  // compare of layers whose bytes vanished: an error on each, naming it.
  compare_options co;
  co.threads = 2;
  layer_result lr = compare_layer(*f, 2, *bench, 2, co);
  EXPECT_NE(lr.error.find(path + ": record 2 (layer2)"), std::string::npos) << lr.error;
  auto rep = compare_dumps(*f, *bench, co);
  ASSERT_TRUE(rep);
  ASSERT_EQ(rep->layers.size(), 3u);
  for (const auto& l : rep->layers) {
    EXPECT_FALSE(l.error.empty()) << "layer " << l.index << " compared bytes that are gone";
  }
}

TEST(TruncationGuard, RefreshAfterShrinkStartsOver) {
  temp_dir dir;
  const std::string path = dir.file("d.bin");
  write_dump(path, 3);
  auto f = dump_file::open(path);
  ASSERT_TRUE(f);
  truncate_to(path, static_cast<off_t>(f->records()[1].end_offset));
  auto st = f->refresh();
  ASSERT_TRUE(st) << st.error().describe();
  EXPECT_EQ(*st, dump_file::refresh_status::reset);
  EXPECT_EQ(f->records().size(), 2u);
  auto v = f->view(1);
  ASSERT_TRUE(v);
  EXPECT_TRUE(compute_stats_checked(*v));
}

TEST(TruncationGuard, TextViewOfAShrunkFileIsAnError) {
  temp_dir dir;
  const std::string path = dir.file("d_outtensor_dump.txt");
  write_dump(path, 3, dump_variant::text);
  auto f = dump_file::open(path);
  ASSERT_TRUE(f) << f.error().describe();
  ASSERT_EQ(f->variant(), dump_variant::text);
  auto ok = f->view(2);
  ASSERT_TRUE(ok) << ok.error().describe();
  truncate_to(path, 100);
  auto v = f->view(2);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().file, path);
  EXPECT_EQ(v.error().record, 2);
  EXPECT_NE(v.error().offset, no_offset);
  // The view taken before owns its parsed values: still readable.
  auto st = compute_stats_checked(*ok);
  EXPECT_TRUE(st);
}

// A child process cuts the file at random points and writes the lost bytes
// back, over and over; this process opens, refreshes, views and compares it
// meanwhile. Every call must end in a result or a clean error.
TEST(TruncationGuard, SurvivesAChildThatKeepsTruncating) {
  temp_dir dir;
  const std::string path = dir.file("sigma_outtensor_dump.bin");
  write_dump(path, 12);
  const std::string original = read_file(path);
  auto ref = dump_file::open(path);
  ASSERT_TRUE(ref);
  const std::vector<record> want = ref->records();

  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Only system calls here: the parent may be multi-threaded.
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) ::_exit(3);
    std::uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 200000; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      const auto cut = static_cast<off_t>(x % original.size());
      if (::ftruncate(fd, cut) != 0) ::_exit(4);
      const std::size_t rest = original.size() - static_cast<std::size_t>(cut);
      if (::pwrite(fd, original.data() + cut, rest, cut) != static_cast<ssize_t>(rest)) ::_exit(5);
    }
    ::_exit(0);
  }

  int opened = 0, shrank = 0, other_errors = 0, values_read = 0;
  auto check_records = [&](const dump_file& f) {
    // Whatever was parsed is a prefix of the real file.
    ASSERT_LE(f.records().size(), want.size());
    for (std::size_t i = 0; i < f.records().size(); ++i) {
      EXPECT_EQ(f.records()[i].name, want[i].name);
      EXPECT_EQ(f.records()[i].payload_offset, want[i].payload_offset);
    }
  };
  auto count = [&](const error& e) {
    EXPECT_EQ(e.file, path) << e.describe();
    if (e.code == errc::truncated) {
      ++shrank;
    } else {
      ++other_errors;
    }
  };
  for (int round = 0; round < 150; ++round) {
    auto f = dump_file::open(path);
    if (!f) {
      count(f.error());
      continue;
    }
    ++opened;
    check_records(*f);
    for (int k = 0; k < 3; ++k) {
      auto st = f->refresh();
      if (!st) count(st.error());
      check_records(*f);
    }
    std::vector<double> buf(4096);
    for (std::uint32_t i = 0; i < f->records().size(); ++i) {
      auto v = f->view(i);
      if (!v) continue;
      if (auto st = compute_stats_checked(*v); !st) {
        count(st.error());
      } else {
        ++values_read;
      }
      if (auto r = v->read_checked(0, buf); !r) count(r.error());
    }
    compare_options co;
    co.threads = 1;
    auto rep = compare_dumps(*f, *f, co);
    ASSERT_TRUE(rep);
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ||
              (WIFEXITED(status) && WEXITSTATUS(status) == 0))
      << "writer child failed: " << status;
  std::printf("opened %d, shrank-while-reading errors %d, other clean errors %d, stats read %d\n",
              opened, shrank, other_errors, values_read);
}

}  // namespace
}  // namespace sigdump::testing
