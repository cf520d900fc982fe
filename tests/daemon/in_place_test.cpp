// A dump written again in place (opened without O_TRUNC and written from
// offset 0 with the same records and new numbers, its tail overwritten
// last) against a real sigdumpd under both event loops (issue 15, "Results
// match the files"). The writer stops part way, the file still open, while
// the daemon compares: no layer of a run may hold numbers of bytes that run
// did not have (they used to: the old run persisted the next write's
// numbers, and bench/rewrite_soak.py found them against the archived
// copies), and the rewrite is a new run once its first record holds other
// bytes and the writer is done (or pauses), not only once it reaches the
// tail: one run, not a run cut again when the writer gets there.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "pair_daemon_support.h"
#include "sigdump/dump_file.h"
#include "sigdump/unique_fd.h"

namespace sigdump::testing {
namespace {

constexpr int layers = 8;

class InPlace : public PairDaemonTest {
 protected:
  // A dump of `layers` records of 256 values (record 1 of `second`), record
  // i with values of scales[i] (the last scale for the rest): its bytes,
  // and a copy at dir_/name.
  std::string content(const std::string& name, const std::vector<float>& scales,
                      std::int64_t second = 256) {
    const std::string path = dir_.file(name);
    auto w = dump_writer::create(path);
    EXPECT_TRUE(w);
    for (int i = 0; i < layers; ++i) {
      const std::int64_t n = i == 1 ? second : 256;
      const float scale =
          scales[std::min<std::size_t>(static_cast<std::size_t>(i), scales.size() - 1)];
      EXPECT_TRUE(w->write(spec_of("net/l" + std::to_string(i), n, i),
                           ramp(static_cast<std::size_t>(n), scale)));
    }
    EXPECT_TRUE(w->close());
    return read_file(path);
  }
  // The first byte after record `rec` of the dump at path.
  static std::size_t end_of(const std::string& path, std::size_t rec) {
    auto f = dump_file::open(path);
    EXPECT_TRUE(f && f->records().size() > rec);
    return f && f->records().size() > rec ? f->records()[rec].end_offset : 0;
  }
  // Writes bytes [from, to) of `bytes` at the same offset of the open fd.
  static void put(const unique_fd& fd, const std::string& bytes, std::size_t from, std::size_t to) {
    ASSERT_EQ(::pwrite(fd.get(), bytes.data() + from, to - from, static_cast<off_t>(from)),
              static_cast<ssize_t>(to - from));
  }
  // The benchmark written, and the sample written whole with old.bin's
  // bytes through fd, kept open; new.bin holds the next write's bytes, last
  // the event of the old run's last layer.
  struct live_sample {
    std::string old_bytes, new_bytes;
    unique_fd fd;
    logged_event last;
  };
  live_sample live_old_run(test_daemon& d) {
    write_dump(bench_, layers, 1.0f);
    live_sample s{content("old.bin", {1.01f}),
                  content("new.bin", {1.5f}),
                  unique_fd(::open(sample_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644)),
                  {}};
    EXPECT_TRUE(s.fd);
    if (s.fd) put(s.fd, s.old_bytes, 0, s.old_bytes.size());
    s.last = d.wait_event([&](const logged_event& e) {
      return e.event == "layer" && e.path == sample_ && e.index == layers - 1;
    });
    return s;
  }
  // The file's bytes as a writer that stopped at `to` left them: the new
  // content's bytes before it, the old content's after.
  std::string mixed(const std::string& name, const std::string& old_bytes,
                    const std::string& new_bytes, std::size_t to) {
    std::string m = new_bytes.substr(0, to) + old_bytes.substr(to);
    write_file(dir_.file(name), m);
    return dir_.file(name);
  }
  // The runs of `path` in the order they started.
  static std::vector<std::string> runs_of(const std::vector<logged_event>& evs,
                                          const std::string& path) {
    std::vector<std::string> out;
    for (const auto& e : evs) {
      if (e.event == "run_start" && e.path == path) out.push_back(e.run);
    }
    return out;
  }
  // After the writer finished: the sample's first run holds the old
  // bytes' layers, its last run every layer of the file now, and any run
  // between them the layers of the file as the writer left it part way.
  void expect_sample_runs(test_daemon& d, const std::string& old_copy,
                          const std::string& mixed_copy) {
    // A run with the file's last bytes has every layer (a slow daemon may
    // not even have looked at the last write when the runs seem settled).
    const auto want = offline_layers(sample_, bench_);
    EXPECT_TRUE(wait_until([&] {
      const auto evs = d.events();
      const auto runs = runs_of(evs, sample_);
      std::vector<std::string> live;
      if (!runs.empty()) {
        for (const auto& [i, layer] : last_layers(evs, runs.back())) live.push_back(layer);
      }
      return live == want;
    })) << read_file(d.events_path());
    ASSERT_TRUE(settled()) << d.proc().stderr_text();
    const auto evs = d.events();
    const auto runs = runs_of(evs, sample_);
    ASSERT_GE(runs.size(), 2u) << read_file(d.events_path());
    expect_layers_match(evs, runs.front(), offline_layers(old_copy, bench_));
    std::vector<std::string> live;
    for (const auto& [i, layer] : last_layers(evs, runs.back())) live.push_back(layer);
    EXPECT_EQ(live, want) << runs.back() << "\n" << read_file(d.events_path());
    const auto between = offline_layers(mixed_copy, bench_);
    for (std::size_t k = 1; k + 1 < runs.size(); ++k) expect_layers_match(evs, runs[k], between);
  }
  // The sample's run ended, then (the daemon stopped) the benchmark arrives
  // and the writer writes only record 1 again in place, a big one (the
  // run's bytes and the next write's differ only there): the records after
  // it are compared while it is, from the old bytes the writer left them,
  // and wait for it to be published; it then comes back read from the next
  // write's bytes. Those records are compared again from the run's copy
  // with it and keep their indexes: they used to be published each under
  // the index of the record before (block14 as layer 7 in the rewrite
  // soak), then to be dropped without a word. Returns the old run.
  std::string written_over_behind(test_daemon& d, const std::string& bench) {
    constexpr std::int64_t big = 1 << 23;  // compared long after the small ones
    const std::string old_bytes = content("old.bin", {1.01f}, big);
    const std::string new_bytes = content("new.bin", {1.01f, 1.5f, 1.01f}, big);
    write_file(sample_, old_bytes);
    const std::string old_run = d.wait_event([&](const logged_event& e) {
                                   return e.event == "run_end" && e.path == sample_;
                                 }).run;
    EXPECT_FALSE(old_run.empty()) << d.proc().stderr_text();
    content("bench.bin", {1.0f}, big);

    unique_fd fd(::open(sample_.c_str(), O_WRONLY | O_CLOEXEC));
    EXPECT_TRUE(fd);
    EXPECT_EQ(::kill(d.proc().pid(), SIGSTOP), 0);
    write_file(bench, read_file(dir_.file("bench.bin")));
    put(fd, new_bytes, end_of(dir_.file("new.bin"), 0), end_of(dir_.file("new.bin"), 1));
    EXPECT_EQ(::kill(d.proc().pid(), SIGCONT), 0);
    const logged_event seen = d.wait_event([&](const logged_event& e) {
      return (e.event == "layer" && e.run == old_run && e.index > 0) ||
             (e.event == "run_start" && e.path == sample_ && e.run != old_run);
    });
    EXPECT_FALSE(seen.run.empty()) << read_file(d.events_path());
    return old_run;
  }
  // Whether each layer run `run` published is the one of `want` (old.bin
  // against the benchmark) at its index, and every layer of it is
  // published but the `lost` ones, as the run's coverage counts them.
  bool old_run_whole(test_daemon& d, const std::string& run, const std::vector<std::string>& want,
                     std::uint64_t lost) {
    const auto got = last_layers(d.events(), run);
    std::uint64_t compared = 0, now_lost = 0, pending = 0;
    coverage_of(dir_.file("sock"), run, compared, now_lost, pending);
    if (got.size() + lost != want.size() || now_lost != lost) return false;
    for (const auto& [i, layer] : got) {
      if (i >= static_cast<std::int64_t>(want.size()) ||
          layer != want[static_cast<std::size_t>(i)]) {
        return false;
      }
    }
    return true;
  }
  // The body of LayersReadAfterTheSampleWasWrittenAgainInPlaceStayOutOfTheOldRun
  // and ACopyMadeAfterTheRewriteDoesNotStandInForTheRecordsWrittenOver (see
  // their comments): with `hold_copier`, the archive's copier is held until
  // the daemon has compared a layer of the old run after the rewrite began.
  void rewrite_before_the_benchmark(bool hold_copier) {
    const std::string hold = dir_.file("hold");
    std::vector<std::string> env;
    if (hold_copier) {
      write_file(hold, "");
      env.push_back("SIGDUMP_ARCHIVE_TEST_HOLD=" + hold);
    }
    auto d = start({}, env);
    const std::string old_bytes = content("old.bin", {1.01f});
    const std::string new_bytes = content("new.bin", {1.01f, 1.5f});  // the same first record
    write_file(sample_, old_bytes);
    const std::string old_run = d->wait_event([&](const logged_event& e) {
                                   return e.event == "run_end" && e.path == sample_;
                                 }).run;
    ASSERT_FALSE(old_run.empty()) << d->proc().stderr_text();

    const std::size_t cut = end_of(dir_.file("new.bin"), 2);
    unique_fd fd(::open(sample_.c_str(), O_WRONLY | O_CLOEXEC));
    ASSERT_TRUE(fd);
    ASSERT_EQ(::kill(d->proc().pid(), SIGSTOP), 0);
    write_dump(bench_, layers, 1.0f);
    put(fd, new_bytes, 0, cut);
    ASSERT_EQ(::kill(d->proc().pid(), SIGCONT), 0);
    // The old run's layers are compared, or it is reset.
    const logged_event seen = d->wait_event([&](const logged_event& e) {
      return (e.event == "layer" && e.run == old_run) ||
             (e.event == "run_start" && e.path == sample_ && e.run != old_run);
    });
    EXPECT_FALSE(seen.run.empty()) << read_file(d->events_path());
    const std::string mixed_copy = mixed("mixed.bin", old_bytes, new_bytes, cut);
    if (hold_copier) {
      // The copy is made now, from the file as the writer left it part
      // way: records 1 and 2 hold the next write's bytes, the rest the
      // run's. The writer goes on only once it is whole, so the records
      // after the cut have the old bytes in the copy when the daemon looks.
      fs::remove(hold);
      EXPECT_TRUE(wait_until([&] {
        const auto runs = list_runs(dir_.file("sock"));
        const auto r = runs.find(old_run);
        return r != runs.end() && r->second.copy_synced;
      })) << raw_client(dir_.file("sock")).call("runs").result
          << "\n"
          << read_file(d->events_path());
    }

    put(fd, new_bytes, cut, new_bytes.size());
    fd.reset();
    ASSERT_TRUE(settled()) << d->proc().stderr_text();
    expect_sample_runs(*d, dir_.file("old.bin"), mixed_copy);
    if (hold_copier) {
      std::uint64_t compared = 0, lost = 0, pending = 0;
      EXPECT_TRUE(wait_until([&] {
        coverage_of(dir_.file("sock"), old_run, compared, lost, pending);
        return lost == 2 && pending == 0;
      })) << "compared "
          << compared << " lost " << lost << " pending " << pending << "\n"
          << read_file(d->events_path());
    }
    stop(*d);
  }
};

// The old run is live (its writer still has the file open) when the writer
// starts over in place and pauses after two records (the file open): a new
// run starts once that rewrite settled, though the last 4 KiB of what was
// read still hold the old bytes (it used to start only once the writer
// reached them).
TEST_P(InPlace, AStartOverFromTheFirstRecordIsANewRunBeforeTheTailIsReached) {
  auto d = start();
  live_sample w = live_old_run(*d);
  const std::string &old_bytes = w.old_bytes, &new_bytes = w.new_bytes;
  const unique_fd& fd = w.fd;
  ASSERT_FALSE(w.last.run.empty()) << read_file(d->events_path());

  const std::size_t cut = end_of(dir_.file("new.bin"), 1);
  put(fd, new_bytes, 0, cut);  // records 0 and 1 written again; the file is as long
  const std::string next =
      d->wait_event([&](const logged_event& e) {
         return e.event == "run_start" && e.path == sample_ && e.run != w.last.run;
       }).run;
  EXPECT_FALSE(next.empty()) << read_file(d->events_path());
  const std::string mixed_copy = mixed("mixed.bin", old_bytes, new_bytes, cut);

  put(fd, new_bytes, cut, new_bytes.size());
  w.fd.reset();
  ASSERT_TRUE(settled()) << d->proc().stderr_text();
  expect_sample_runs(*d, dir_.file("old.bin"), mixed_copy);
  stop(*d);
}

// The old run is live when its writer starts over in place and writes the
// new content record by record, as fast as each write gets an mtime of its
// own: one new run, and every layer it publishes is of the new bytes (it
// used to start at the first record, holding the old bytes of the records
// not yet reached, and be cut again when the writer reached its tail).
TEST_P(InPlace, ARewriteInPlaceWrittenInSeveralWritesIsOneNewRun) {
  auto d = start();
  live_sample w = live_old_run(*d);
  const std::string& new_bytes = w.new_bytes;
  const unique_fd& fd = w.fd;
  ASSERT_FALSE(w.last.run.empty()) << read_file(d->events_path());

  // Each record in two writes; the next write waits for the file system's
  // clock to move past the mtime the last one left (the writer is busy, not
  // pausing: at most a clock tick between writes).
  auto mtime_passed = [&] {
    struct stat st {};
    struct timespec now {};
    if (::fstat(fd.get(), &st) != 0 || ::clock_gettime(CLOCK_REALTIME_COARSE, &now) != 0) {
      return false;
    }
    return now.tv_sec > st.st_mtim.tv_sec ||
           (now.tv_sec == st.st_mtim.tv_sec && now.tv_nsec > st.st_mtim.tv_nsec);
  };
  std::size_t from = 0;
  for (std::size_t rec = 0; rec < static_cast<std::size_t>(layers); ++rec) {
    const std::size_t end = rec + 1 < static_cast<std::size_t>(layers)
                                ? end_of(dir_.file("new.bin"), rec)
                                : new_bytes.size();
    const std::size_t half = from + (end - from) / 2;
    for (const auto& [a, b] : {std::pair{from, half}, std::pair{half, end}}) {
      while (!mtime_passed()) {
      }
      put(fd, new_bytes, a, b);
    }
    from = end;
  }
  ASSERT_EQ(from, new_bytes.size());
  w.fd.reset();
  ASSERT_TRUE(settled()) << d->proc().stderr_text();
  const auto want = offline_layers(sample_, bench_);
  std::vector<std::string> runs;
  std::vector<std::string> live;
  EXPECT_TRUE(wait_until([&] {
    const auto evs = d->events();
    runs = runs_of(evs, sample_);
    live.clear();
    if (runs.size() == 2) {
      for (const auto& [i, layer] : last_layers(evs, runs.back())) live.push_back(layer);
    }
    return live == want;
  })) << read_file(d->events_path());
  ASSERT_EQ(runs.size(), 2u) << read_file(d->events_path());
  EXPECT_EQ(runs.front(), w.last.run);
  EXPECT_EQ(live, want) << read_file(d->events_path());
  // Every layer event of the new run carries the new numbers.
  for (const auto& e : d->events()) {
    if (e.event != "layer" || e.run != runs.back()) continue;
    ASSERT_LT(e.index, static_cast<std::int64_t>(want.size()));
    EXPECT_EQ(e.layer, want[static_cast<std::size_t>(e.index)]) << "layer " << e.index;
  }
  // Nothing of the new bytes in the old run.
  expect_layers_match(d->events(), runs.front(), offline_layers(dir_.file("old.bin"), bench_));
  stop(*d);
}

// The old run ended (its writer closed the file) when a writer opens it
// again without O_TRUNC, writes three records of new content over it,
// pauses for two ticks of the stat timer (the daemon looks at the file on
// each: less than the rewrite's settle time), and writes the rest: one new
// run, with the new bytes. Two looks that saw the same mtime used to count
// as the rewrite done: a run of the half-written mix started, and another
// one when the writer reached the old tail (the rewrite soak: about one
// in-place rewrite in 20 became two runs).
TEST_P(InPlace, ARewriteInPlaceOfAnEndedRunThatPausesIsOneNewRun) {
  auto d = start();
  write_dump(bench_, layers, 1.0f);
  const std::string old_bytes = content("old.bin", {1.01f});
  const std::string new_bytes = content("new.bin", {1.5f});
  write_file(sample_, old_bytes);
  const std::string old_run = d->wait_event([&](const logged_event& e) {
                                 return e.event == "run_end" && e.path == sample_;
                               }).run;
  ASSERT_FALSE(old_run.empty()) << d->proc().stderr_text();

  unique_fd fd(::open(sample_.c_str(), O_WRONLY | O_CLOEXEC));
  ASSERT_TRUE(fd);
  const std::size_t cut = end_of(dir_.file("new.bin"), 2);
  put(fd, new_bytes, 0, cut);
  const auto ticks = daemon_counter(dir_.file("sock"), "stat_ticks");
  ASSERT_TRUE(ticks);
  ASSERT_TRUE(wait_until(
      [&] { return daemon_counter(dir_.file("sock"), "stat_ticks").value_or(0) >= *ticks + 2; }));
  put(fd, new_bytes, cut, new_bytes.size());
  fd.reset();
  ASSERT_TRUE(settled()) << d->proc().stderr_text();
  const auto want = offline_layers(sample_, bench_);
  std::vector<std::string> runs, live;
  EXPECT_TRUE(wait_until([&] {
    const auto evs = d->events();
    runs = runs_of(evs, sample_);
    live.clear();
    for (const auto& [i, layer] : last_layers(evs, runs.back())) live.push_back(layer);
    return live == want;
  })) << read_file(d->events_path());
  EXPECT_EQ(runs, (std::vector<std::string>{old_run, runs.back()})) << read_file(d->events_path());
  stop(*d);
}

// The old run ended and waits for its benchmark; while the daemon is
// stopped the benchmark arrives and the writer starts over in place with
// the same first record (the same input: the same bytes) and stops after
// three records. The comparisons the benchmark sets off read records that
// hold the next write's bytes, though neither the first record nor the
// tail changed: none of them may land in the old run.
TEST_P(InPlace, LayersReadAfterTheSampleWasWrittenAgainInPlaceStayOutOfTheOldRun) {
  rewrite_before_the_benchmark(false);
}

// The same, with the archive's copier held back (test hook) until the
// rewrite's first records are in the file: the copy then holds the next
// write's bytes where the run's records were written over, so it cannot
// stand in for them (their marks differ): those two layers are lost, never
// published with the next write's numbers (they were, 1 run in 10 under
// load, when the copier lagged).
TEST_P(InPlace, ACopyMadeAfterTheRewriteDoesNotStandInForTheRecordsWrittenOver) {
  rewrite_before_the_benchmark(true);
}

// The benchmark's record 1 is written again in place while the sample
// run's records are compared: record 1 waits for the benchmark's next run,
// the records after it are computed and wait behind it; then the sample
// starts over (truncated) before the benchmark's rewrite settles, so
// record 1 is lost (unless the sample's truncation came first: then it is
// compared from the copies). The layers after it keep their indexes (they
// used to be published each under the index of the one before).
TEST_P(InPlace, ALostRecordWaitingForItsBenchmarkKeepsItsIndex) {
  auto d = start({"--workers", "2"});
  const std::string old_bench = content("bench.bin", {1.0f});
  const std::string new_bench = content("new-bench.bin", {1.0f, 1.5f, 1.0f});
  write_file(bench_, old_bench);
  ASSERT_FALSE(d->wait_event([&](const logged_event& e) {
                  return e.event == "run_end" && e.path == bench_;
                }).run.empty())
      << d->proc().stderr_text();
  content("old.bin", {1.01f});

  unique_fd fd(::open(bench_.c_str(), O_WRONLY | O_CLOEXEC));
  ASSERT_TRUE(fd);
  ASSERT_EQ(::kill(d->proc().pid(), SIGSTOP), 0);
  write_file(sample_, read_file(dir_.file("old.bin")));
  put(fd, new_bench, end_of(dir_.file("bench.bin"), 0), end_of(dir_.file("bench.bin"), 1));
  ASSERT_EQ(::kill(d->proc().pid(), SIGCONT), 0);
  // The benchmark's writer goes on writing record 1's first bytes (the same
  // ones) until the sample started over: its rewrite does not settle, and
  // record 1 keeps waiting for the benchmark's next run.
  const std::size_t at = end_of(dir_.file("bench.bin"), 0) + 128;
  auto touching = [&](const std::function<bool(const logged_event&)>& pred) {
    return wait_until([&] {
      put(fd, new_bench, at, at + 64);
      const auto evs = d->events();
      return std::any_of(evs.begin(), evs.end(), pred);
    });
  };
  std::string run;
  ASSERT_TRUE(touching([&](const logged_event& e) {
    if (e.event == "layer" && e.path == sample_) run = e.run;
    return !run.empty();
  })) << read_file(d->events_path());
  write_file(sample_, "");
  ASSERT_TRUE(touching([&](const logged_event& e) { return e.event == "run_end" && e.run == run; }))
      << read_file(d->events_path());
  const auto want = offline_layers(dir_.file("old.bin"), dir_.file("bench.bin"));
  std::uint64_t lost = 0;
  EXPECT_TRUE(wait_until([&] {
    std::uint64_t compared = 0, pending = 0;
    coverage_of(dir_.file("sock"), run, compared, lost, pending);
    return old_run_whole(*d, run, want, lost);
  })) << run
      << " lost " << lost << "\n"
      << read_file(d->events_path());
  fd.reset();
  stop(*d);
}

// Record 1 is compared again from the run's archived copy: the old run
// has every layer of its bytes, each under its own index.
TEST_P(InPlace, LayersComputedBeforeARecordFoundWrittenAgainKeepTheirIndexes) {
  auto d = start({"--workers", "2"});  // the small ones by the other worker
  const std::string old_run = written_over_behind(*d, bench_);
  ASSERT_TRUE(settled()) << d->proc().stderr_text();
  expect_sample_runs(*d, dir_.file("old.bin"), dir_.file("new.bin"));
  const auto want = offline_layers(dir_.file("old.bin"), dir_.file("bench.bin"));
  EXPECT_TRUE(wait_until([&] { return old_run_whole(*d, old_run, want, 0); }))
      << old_run << "\n"
      << read_file(d->events_path());
  stop(*d);
}

// Without an archive, record 1 and the records not yet published when it
// came back are lost: the layers published keep the indexes the offline
// report of the run's bytes gives them, and the coverage counts every
// layer missing (they used to vanish uncounted).
TEST_P(InPlace, ALostRecordKeepsItsIndex) {
  test_daemon d(
      dir_, {"--watch", dumps_, "--pair", "p:" + sample_ + "=" + bench_, "--workers", "2"}, loop());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  const std::string old_run = written_over_behind(d, bench_);
  const auto want = offline_layers(dir_.file("old.bin"), dir_.file("bench.bin"));
  std::uint64_t lost = 0;
  EXPECT_TRUE(wait_until([&] {
    std::uint64_t compared = 0, pending = 0;
    coverage_of(dir_.file("sock"), old_run, compared, lost, pending);
    return lost > 0 && old_run_whole(d, old_run, want, lost);
  })) << old_run
      << " lost " << lost << "\n"
      << read_file(d.events_path());
  stop(d);
}

// The benchmark's side: it ended, then while the daemon is stopped the
// sample arrives and the benchmark's writer starts over in place (same
// first record) and stops after three records. The sample run must hold
// the layers of the benchmark run it names (it used to name the old run
// and hold the next write's numbers for the records read after it).
TEST_P(InPlace, LayersReadAfterTheBenchmarkWasWrittenAgainInPlaceMatchTheRunTheyName) {
  auto d = start();
  const std::string old_bytes = content("old-bench.bin", {1.0f});
  const std::string new_bytes = content("new-bench.bin", {1.0f, 1.5f});
  write_file(bench_, old_bytes);
  const std::string old_bench = d->wait_event([&](const logged_event& e) {
                                   return e.event == "run_end" && e.path == bench_;
                                 }).run;
  ASSERT_FALSE(old_bench.empty()) << d->proc().stderr_text();

  const std::size_t cut = end_of(dir_.file("new-bench.bin"), 2);
  unique_fd fd(::open(bench_.c_str(), O_WRONLY | O_CLOEXEC));
  ASSERT_TRUE(fd);
  ASSERT_EQ(::kill(d->proc().pid(), SIGSTOP), 0);
  write_dump(sample_, layers, 1.01f);
  put(fd, new_bytes, 0, cut);
  ASSERT_EQ(::kill(d->proc().pid(), SIGCONT), 0);
  const std::string run = d->wait_event([&](const logged_event& e) {
                             return e.event == "run_end" && e.path == sample_;
                           }).run;
  ASSERT_FALSE(run.empty()) << read_file(d->events_path());
  const std::string mixed_copy = mixed("mixed-bench.bin", old_bytes, new_bytes, cut);

  put(fd, new_bytes, cut, new_bytes.size());
  fd.reset();
  ASSERT_TRUE(settled()) << d->proc().stderr_text();
  const std::map<std::string, std::vector<std::string>> offline{
      {"old", offline_layers(sample_, dir_.file("old-bench.bin"))},
      {"mixed", offline_layers(sample_, mixed_copy)},
      {"now", offline_layers(sample_, bench_)}};
  // The run's layers are those of the benchmark run it names (a run_revised
  // may follow the run_end, and a slow daemon may still be comparing again).
  std::string named, which;
  std::vector<std::string> live;
  const bool consistent = wait_until([&] {
    const auto evs = d->events();
    for (const auto& e : evs) {
      if ((e.event == "run_end" || e.event == "run_revised") && e.run == run) {
        named = first_event_line(d->events_path(), e.event, "run", run);
      }
    }
    const auto bench_runs = runs_of(evs, bench_);
    which = "mixed";
    if (named.find("\"benchmark_run\":\"" + old_bench + "\"") != std::string::npos) {
      which = "old";
    } else if (named.find("\"benchmark_run\":\"" + bench_runs.back() + "\"") != std::string::npos) {
      which = "now";
    }
    live.clear();
    for (const auto& [i, layer] : last_layers(evs, run)) live.push_back(layer);
    return live == offline.at(which);
  });
  EXPECT_TRUE(consistent) << named << "\n" << read_file(d->events_path());
  EXPECT_EQ(live, offline.at(which)) << which << ": " << named;
  stop(*d);
}

INSTANTIATE_TEST_SUITE_P(Loops, InPlace, ::testing::Values("io_uring", "epoll"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
}  // namespace sigdump::testing
