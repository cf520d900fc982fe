// sigdumpd's streamed comparison of big layers (issue 4, live latency): a
// layer bigger than one chunk is summed while the simulator writes it, and
// its published metrics still equal `sigdump compare` on the finished
// files, byte for byte. A writer that starts over while the daemon is not
// looking (stopped with SIGSTOP) must not leave stale sums behind. A real
// daemon under both event loops; this process writes the dumps.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "daemon_support.h"
#include "sigdump/compare.h"

namespace sigdump::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Two and a half chunks of float32.
const std::int64_t big = static_cast<std::int64_t>(compare_chunk_elements()) * 5 / 2;

std::vector<float> wave(std::size_t n, double phase, float gain) {
  return sine_values(n, 0.0007, phase, gain);
}

// The three records of both dumps: small, big, small.
// (Without the last one when big_last: the big layer ends the file.)
std::string records(double phase, float gain, bool big_last = false) {
  std::string s = dump_writer::render_first_line({});
  s += dump_writer::render({}, spec_of("conv0", 1000, 0), wave(1000, phase, gain));
  s += dump_writer::render({}, spec_of("conv1/big", big, 1),
                           wave(static_cast<std::size_t>(big), phase, gain));
  if (!big_last) {
    s += dump_writer::render({}, spec_of("conv2", 1000, 2), wave(1000, phase, gain));
  }
  return s;
}

// Where the big record's payload starts and ends in records().
std::pair<std::size_t, std::size_t> big_payload(const std::string& s) {
  const std::size_t header = s.find("name: conv1/big");
  const std::size_t line3 = s.find("//buffer data size:", header);
  const std::size_t begin = s.find('\n', line3) + 1;
  return {begin, begin + static_cast<std::size_t>(big) * 4};
}

class appender {
 public:
  explicit appender(const std::string& path)
      : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) {}
  ~appender() { close(); }
  void write(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      ASSERT_GT(n, 0);
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

std::vector<logged_event> layers_of(const std::vector<logged_event>& evs, const std::string& run) {
  std::vector<logged_event> out;
  for (const auto& e : evs) {
    if (e.event == "layer" && e.run == run) out.push_back(e);
  }
  return out;
}

// Waits until the workers have summed `n` chunks of layers being written.
bool chunks_summed(const temp_dir& dir, std::int64_t n) {
  return wait_until([&] { return status_counter(dir, "chunks_summed") >= n; }, 60s);
}

// Waits until the daemon has looked at `path` with at least `bytes` in it.
bool daemon_saw(const temp_dir& dir, const std::string& path, std::uint64_t bytes) {
  return wait_until(
      [&] {
        simdjson::dom::parser parser;
        simdjson::dom::element doc;
        if (!status_of(dir, parser, doc)) return false;
        for (auto f : doc["files"]) {
          std::string_view p;
          std::uint64_t b = 0;
          if (!f["path"].get(p) && p == path && !f["bytes"].get(b) && b >= bytes) return true;
        }
        return false;
      },
      60s);
}

class TrackerStream : public ::testing::TestWithParam<std::string> {
 protected:
  std::string loop() const { return GetParam() == "epoll" ? "epoll" : ""; }
  void SetUp() override {
    fs::create_directories(dir_.file("w"));
    sample_ = dir_.file("w/sample.bin");
    bench_ = dir_.file("w/bench.bin");
    const std::string b = records(0.0, 1.0f);
    appender w(bench_);
    ASSERT_TRUE(w.ok());
    w.write(b);
  }
  std::vector<std::string> args() const {
    // Pauses below are longer than the fixture's quiet time: the run must
    // not end in them.
    return {"--watch",    dir_.file("w"), "--pair", "big:" + sample_ + "=" + bench_,
            "--quiet-ms", "20000"};
  }
  // Waits for the run's layers; checks them against the offline comparison
  // of the finished files.
  void expect_run_equals_offline(test_daemon& d, const std::string& run, std::size_t layers = 3) {
    ASSERT_TRUE(wait_until([&] { return layers_of(d.events(), run).size() >= layers; }, 60s))
        << d.proc().stderr_text();
    auto live = layers_of(d.events(), run);
    auto offline = offline_layers(sample_, bench_);
    ASSERT_EQ(live.size(), offline.size());
    for (std::size_t i = 0; i < live.size(); ++i) {
      EXPECT_EQ(live[i].index, static_cast<std::int64_t>(i));
      EXPECT_EQ(live[i].layer, offline[i]) << "layer " << i;
    }
  }
  // Writes the header lines with the payload's first 4 KiB (as a stdio
  // buffer flush does); once the daemon has seen them, the payload up to
  // `extra` bytes past its second chunk; then waits for the workers to sum
  // `summed` chunks (the second one is due once a page follows it).
  void write_two_chunks(appender& w, const std::string& s, std::size_t begin, std::size_t extra,
                        std::int64_t summed) {
    const std::size_t chunk_bytes = compare_chunk_elements() * 4;
    w.write(std::string_view(s).substr(0, begin + 4096));
    ASSERT_TRUE(daemon_saw(dir_, sample_, begin + 4096));
    w.write(std::string_view(s).substr(begin + 4096, 2 * chunk_bytes + extra - 4096));
    ASSERT_TRUE(chunks_summed(dir_, summed)) << "chunks were not summed while written";
  }
  // The id of the pair's run, once it started.
  static std::string pair_run(test_daemon& d) {
    auto start = d.wait_event(
        [&](const logged_event& e) { return e.event == "run_start" && e.pair == "big"; });
    EXPECT_EQ(start.event, "run_start") << d.proc().stderr_text();
    return start.run;
  }
  temp_dir dir_;
  std::string sample_, bench_;
};

// The writer puts the big payload down as a buffered writer does, in
// slices: chunks are summed before the record is complete, and the layer
// equals the offline comparison.
TEST_P(TrackerStream, BigLayerSummedWhileWrittenEqualsOfflineCompare) {
  test_daemon d(dir_, args(), loop());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  const std::string s = records(0.3, 1.05f);
  const auto [begin, end] = big_payload(s);
  {
    appender w(sample_);
    ASSERT_TRUE(w.ok());
    w.write(std::string_view(s).substr(0, begin + 4096));
    ASSERT_TRUE(daemon_saw(dir_, sample_, begin + 4096));
    std::size_t at = begin + 4096;
    const std::size_t slice = 1 << 20;
    const std::size_t chunk_bytes = compare_chunk_elements() * 4;
    bool waited = false;
    while (at + slice < end) {
      w.write(std::string_view(s).substr(at, slice));
      at += slice;
      // Two chunks are complete: the workers sum them before the rest comes.
      if (!waited && at - begin >= 2 * chunk_bytes) {
        ASSERT_TRUE(chunks_summed(dir_, 2)) << "no chunk was summed while written";
        waited = true;
      }
    }
    w.write(std::string_view(s).substr(at));
  }
  expect_run_equals_offline(d, pair_run(d));
  EXPECT_EQ(status_counter(dir_, "layers_streamed"), 1);
  EXPECT_GE(status_counter(dir_, "chunks_streamed"), 2);
  EXPECT_EQ(status_counter(dir_, "chunks_discarded"), 0);
}

// The big layer is the benchmark file's last record: no page follows it
// there, and its guard falls back to its last page (the last layer of
// every model was compared only once complete before).
TEST_P(TrackerStream, TheBenchmarksLastLayerIsStreamedToo) {
  {
    appender b(bench_);
    ASSERT_TRUE(b.ok());
    b.write(records(0.0, 1.0f, true));
  }
  test_daemon d(dir_, args(), loop());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  const std::string s = records(0.3, 1.05f, true);
  const std::size_t begin = big_payload(s).first;
  {
    appender w(sample_);
    ASSERT_TRUE(w.ok());
    write_two_chunks(w, s, begin, 8192, 2);
    w.write(std::string_view(s).substr(begin + 2 * compare_chunk_elements() * 4 + 8192));
  }
  expect_run_equals_offline(d, pair_run(d), 2);
  EXPECT_EQ(status_counter(dir_, "layers_streamed"), 1);
  EXPECT_GE(status_counter(dir_, "chunks_streamed"), 2);
}

// The writer starts over while the daemon is stopped: it truncates the
// file and writes it again, the big layer with other values, past where it
// was. The daemon wakes to a file that only seems to have grown; the chunks
// it summed from the old bytes must not count.
TEST_P(TrackerStream, AWriterStartingOverUnseenLeavesNoStaleSums) {
  test_daemon d(dir_, args(), loop());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  const std::string first = records(0.3, 1.05f);
  const std::size_t begin = big_payload(first).first;
  // The first writer stays open (a close would end the run).
  appender w(sample_);
  ASSERT_TRUE(w.ok());
  // The workers sum chunk 0 from these bytes.
  write_two_chunks(w, first, begin, 1000, 1);
  const std::string run_id = pair_run(d);

  ASSERT_EQ(::kill(d.proc().pid(), SIGSTOP), 0);
  // Same headers, same first layer, other values in the big one.
  std::string second = records(0.3, 1.05f);
  const std::string other = records(1.7, 0.8f);
  const auto [ob, oe] = big_payload(other);
  second.replace(begin, oe - ob, other.substr(ob, oe - ob));
  {
    appender again(sample_);  // O_TRUNC: the old pages leave the page cache
    ASSERT_TRUE(again.ok());
    again.write(second);
  }
  w.close();
  ASSERT_EQ(::kill(d.proc().pid(), SIGCONT), 0);

  expect_run_equals_offline(d, run_id);
  EXPECT_GE(status_counter(dir_, "chunks_discarded"), 1);
  EXPECT_EQ(status_counter(dir_, "chunks_streamed"), 0);
}

INSTANTIATE_TEST_SUITE_P(Loops, TrackerStream, ::testing::Values("io_uring", "epoll"),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace sigdump::testing
