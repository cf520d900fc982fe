// sigdumpd keeps answering and keeps up with the writer while it compares
// a big pair (issue 14): when matching and diagnosing cost a pass over the
// whole run for every new layer, an 8,000-layer pair held the loop thread
// for seconds; a hello waited that long and rewrites of the sample made
// meanwhile were missed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "daemon_support.h"
#include "ipc_test_client.h"

namespace sigdump::testing {
namespace {

using namespace std::chrono_literals;

constexpr int layers = 8000;

std::vector<float> values_of(int layer, float gain) {
  std::vector<float> v(16);
  for (std::size_t i = 0; i < v.size(); ++i) {
    v[i] =
        gain * (0.01f * static_cast<float>((i * 7 + static_cast<std::size_t>(layer)) % 101) + 0.5f);
  }
  return v;
}

// The records of a network laid out as the simulator writes it (per layer
// its "//in 0" record, a constant weight, then its output), rendered.
std::vector<std::string> network_records(float gain) {
  std::vector<std::string> out;
  for (int i = 0; i < layers; ++i) {
    tensor_spec in = spec_of(i == 0 ? "input" : "layer" + std::to_string(i - 1) + "/conv", 16, i);
    in.kind = record_kind::in;
    tensor_spec weights = spec_of("layer" + std::to_string(i) + "/weights", 4, i);
    weights.kind = record_kind::in;
    weights.port = 1;
    weights.constant = true;
    out.push_back(dump_writer::render({}, in, values_of(i - 1, gain)));
    out.push_back(dump_writer::render({}, weights, std::vector<float>(4, 0.5f)));
    out.push_back(dump_writer::render({}, spec_of("layer" + std::to_string(i) + "/conv", 16, i),
                                      values_of(i, gain)));
  }
  return out;
}

// That network written as the simulator does, one write(2) per record.
void write_network(const std::string& path, float gain) {
  auto w = dump_writer::create(path);
  ASSERT_TRUE(w);
  for (const auto& r : network_records(gain)) ASSERT_TRUE(w->append_bytes(r));
  ASSERT_TRUE(w->close());
}

class LoopStall : public ::testing::TestWithParam<std::string> {};

// The benchmark is there; the writer writes the sample three times, each
// time as soon as the daemon has started comparing the previous one. Every
// run is its own run with one run_start and one run_end, the last one has
// every layer, and a client's hellos are answered all along. On a loaded
// machine the workers hold the sample for seconds on end while the writer
// truncates it and writes it past what was read (issue #14).
TEST_P(LoopStall, RewritesDuringABigComparisonAreSeparateRunsAndHelloIsAnswered) {
  temp_dir dir;
  std::filesystem::create_directories(dir.file("w"));
  const std::string sample = dir.file("w") + "/sample.bin", bench = dir.file("w") + "/bench.bin";
  write_network(bench, 1.0f);
  // A writer starved for seconds by a loaded machine is not quiet yet (a
  // close the daemon cannot trust still ends a run when quiet). A client
  // queue that holds every event of the test: a starved reader drops
  // nothing (ipc_backpressure_test checks what is dropped otherwise).
  test_daemon d(dir, {"--pair", "p:" + sample + "=" + bench, "--quiet-ms", "10000"}, GetParam(),
                "state", {"SIGDUMP_IPC_TEST_LIMITS=100000:536870912:200000:1073741824::::"});
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();

  // hello after hello on a connection of its own, until told to stop.
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0}, unanswered{0};
  std::thread prober([&] {
    raw_client c(dir.file("sock"));
    for (int id = 1; c.connected() && !stop; ++id) {
      c.send_line(R"({"id":)" + std::to_string(id) + R"(,"method":"hello"})");
      // Generous: an idle daemon answers in tens of microseconds.
      auto reply = c.read_message(5s);
      if (!reply || reply->id != std::to_string(id)) {
        ++unanswered;
        return;
      }
      ++answered;
    }
  });

  // The sample's events as a subscriber sees them: by run number, the
  // layers received (by index) and whether its run_end came.
  struct tally {
    std::mutex m;
    std::map<int, std::set<std::int64_t>> layers;
    std::set<int> ended;
  } t;
  raw_client sub(dir.file("sock"));
  const message subscribed = sub.call("subscribe", R"({"pair":"p"})");
  ASSERT_EQ(subscribed.error_code, "");
  std::thread reader([&] {
    std::string current = subscribed.id;
    int next_id = 100;
    while (!stop) {
      auto m = sub.read_message(1s);
      if (!m) {
        if (sub.eof()) return;
        continue;
      }
      if (m->id != current) continue;  // a subscription given up after a gap
      if (m->event == "gap") {
        // This reader fell behind (a loaded machine) and layer events were
        // dropped, as the daemon never waits for a client: everything again
        // from the first subscribe, which the history still holds.
        const std::string old = current;
        current = std::to_string(next_id++);
        sub.send_line(R"({"id":)" + current +
                      R"(,"method":"subscribe","params":{"pair":"p","since":")" + subscribed.clock +
                      R"("}})");
        sub.send_line(R"({"id":"u","method":"unsubscribe","params":{"subscription":)" + old + "}}");
        continue;
      }
      if (m->path != sample || m->run.size() < 2) continue;
      const int run = std::stoi(m->run.substr(1));
      std::lock_guard lock(t.m);
      if (m->event == "layer") {
        t.layers[run].insert(m->index);
      } else if (m->event == "run_end") {
        t.ended.insert(run);
      }
    }
  });
  auto compared_runs = [&] {
    std::lock_guard lock(t.m);
    return t.layers.size();
  };
  for (int round = 0; round < 3; ++round) {
    write_network(sample, 1.0f + 0.01f * static_cast<float>(round + 1));
    EXPECT_TRUE(wait_until([&] { return compared_runs() > static_cast<std::size_t>(round); }, 120s))
        << "run " << round + 1 << " of the writer was not compared";
  }
  // The last run ends with every layer.
  std::string last;
  const bool settled = wait_until(
      [&] {
        std::lock_guard lock(t.m);
        if (t.layers.empty()) return false;
        const auto& [run, got] = *t.layers.rbegin();
        last = "r" + std::to_string(run);
        return got.size() == static_cast<std::size_t>(layers) && t.ended.contains(run);
      },
      180s);
  stop = true;
  prober.join();
  reader.join();
  EXPECT_EQ(unanswered, 0) << "a hello went unanswered for 5 s";
  EXPECT_GT(answered, 0);
  ASSERT_TRUE(settled) << "the last run did not end with its " << layers << " layers";

  // A reset run's run_end waits for its layers still being compared: it
  // may come after the next run's.
  std::map<std::string, int> starts, ends;
  wait_until(
      [&] {
        starts.clear();
        ends.clear();
        for (const auto& e : d.events()) {
          if (e.path != sample) continue;
          if (e.event == "run_start") ++starts[e.run];
          if (e.event == "run_end") ++ends[e.run];
        }
        return std::all_of(starts.begin(), starts.end(),
                           [&](const auto& s) { return ends[s.first] > 0; });
      },
      60s);
  EXPECT_EQ(starts.size(), 3u) << "the writer's three runs are three runs";
  for (const auto& [run, n] : starts) {
    EXPECT_EQ(n, 1) << run;
    EXPECT_EQ(ends[run], 1) << run << " has not exactly one run_end";
  }
  // The last run's layers are the offline report's.
  const auto offline = offline_layers(sample, bench);
  ASSERT_EQ(offline.size(), static_cast<std::size_t>(layers));
  std::size_t i = 0;
  for (const auto& e : d.events()) {
    if (e.event != "layer" || e.run != last) continue;
    ASSERT_EQ(e.index, static_cast<std::int64_t>(i));
    ASSERT_EQ(e.layer, offline[i]) << "layer " << i;
    ++i;
  }
}

// A growth of thousands of records that one look sees (the writer far ahead
// of the daemon: here the daemon is stopped while the whole network is
// appended and the file closed) is parsed a slice at a time, each look
// leaving the rest to a posted one (status parse_slices), and nothing else
// changes: one run, ended by the close once its last record is read, with
// the offline report's layers, all before its run_end. The benchmark, there
// before the daemon started, is read in slices too.
TEST_P(LoopStall, AGrowthOfThousandsOfRecordsIsParsedInSlices) {
  temp_dir dir;
  std::filesystem::create_directories(dir.file("w"));
  const std::string sample = dir.file("w") + "/sample.bin", bench = dir.file("w") + "/bench.bin";
  write_network(bench, 1.0f);
  std::string records;
  for (const auto& r : network_records(1.02f)) records += r;
  test_daemon d(dir, {"--pair", "p:" + sample + "=" + bench, "--quiet-ms", "600000"}, GetParam());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  auto w = dump_writer::create(sample);
  ASSERT_TRUE(w);
  const auto started = d.wait_event(
      [&](const logged_event& e) { return e.event == "run_start" && e.path == sample; }, 60s);
  ASSERT_FALSE(started.run.empty()) << "the sample's run did not start";
  ASSERT_EQ(::kill(d.proc().pid(), SIGSTOP), 0);
  const bool appended = w->append_bytes(records) && w->close();
  ASSERT_EQ(::kill(d.proc().pid(), SIGCONT), 0);
  ASSERT_TRUE(appended);
  const auto ended = d.wait_event(
      [&](const logged_event& e) { return e.event == "run_end" && e.run == started.run; }, 180s);
  ASSERT_EQ(ended.run, started.run) << "the sample's run did not end";
  // A look parses at most 256 records (file_runs.cpp): each file's 24,000,
  // seen in one look, leave more than 80 rests to posted looks.
  std::int64_t slices = -1;
  EXPECT_TRUE(
      wait_until([&] { return (slices = status_counter(dir, "parse_slices")) >= 2 * 80; }, 60s))
      << "parse_slices " << slices << ": a growth was parsed in one block";
  // The loop's callbacks, each one timed (the figures loop_stall_bench
  // reports): thousands of them, the longest taking some time.
  EXPECT_GT(status_counter(dir, "loop_callbacks"), 2 * 80);
  EXPECT_GT(status_counter(dir, "loop_longest_cpu_us"), 0);
  EXPECT_GE(status_counter(dir, "loop_longest_wall_us"), 0);
  EXPECT_GE(status_counter(dir, "loop_over_5ms"), 0);

  const auto offline = offline_layers(sample, bench);
  ASSERT_EQ(offline.size(), static_cast<std::size_t>(layers));
  std::size_t i = 0;
  int starts = 0, ends = 0, revised = 0;
  for (const auto& e : d.events()) {
    if (e.path != sample) continue;
    if (e.event == "run_start") ++starts;
    if (e.event == "run_revised") ++revised;
    if (e.event == "run_end") {
      ++ends;
      EXPECT_EQ(i, offline.size()) << "run_end before every layer";
    }
    if (e.event != "layer") continue;
    ASSERT_EQ(e.run, started.run);
    ASSERT_EQ(e.index, static_cast<std::int64_t>(i));
    ASSERT_EQ(e.layer, offline[i]) << "layer " << i;
    ++i;
  }
  EXPECT_EQ(i, offline.size());
  EXPECT_EQ(starts, 1);
  EXPECT_EQ(ends, 1);
  EXPECT_EQ(revised, 0);

  // Restarted, the daemon finds the sample as its run ended, which goes on:
  // the run's fingerprint counts every record, so that file is read whole.
  ASSERT_TRUE(d.proc().signal(SIGTERM));
  ASSERT_EQ(d.proc().wait(60s), 0) << d.proc().stderr_text();
  test_daemon again(dir, {"--pair", "p:" + sample + "=" + bench, "--quiet-ms", "600000"},
                    GetParam());
  ASSERT_TRUE(again.wait_ready()) << again.proc().stderr_text();
  EXPECT_NE(again.proc().stderr_text().find(started.run + " goes on"), std::string::npos)
      << again.proc().stderr_text();
  for (const auto& e : again.events()) {
    EXPECT_FALSE(e.event == "run_start" && e.path == sample) << "a new run " << e.run;
  }
}

// A float32 record of `bytes` whose payload is a hole (reads as zeros).
void write_sparse_record(const std::string& path, const std::string& name, std::uint64_t bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  const std::string head =
      "isFloat: 1\n//out 0 s: 1.000000 z: 0 type: float name: " + name + " bConstant:0 shape:[1, " +
      std::to_string(bytes / 4) +
      "] dims:2\nop_out[0] CONV_2D = {\n//buffer data size: " + std::to_string(bytes) + "\n";
  const std::string tail = "\n};\n";
  ASSERT_EQ(::pwrite(fd, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
  ASSERT_EQ(::pwrite(fd, tail.data(), tail.size(), static_cast<off_t>(head.size() + bytes)),
            static_cast<ssize_t>(tail.size()));
  ::close(fd);
}

// Sends `request` on one connection, then a hello on another: the hello is
// answered while the request is still being worked on (it reads a quarter
// of a gigabyte, or measures every name of a dump), then the request.
void expect_answered_after_a_hello(const std::string& socket, const std::string& request,
                                   const std::function<void(const message&)>& check) {
  raw_client slow(socket), quick(socket);
  ASSERT_TRUE(slow.connected() && quick.connected());
  ASSERT_TRUE(slow.send_line(request));
  ASSERT_TRUE(quick.send_line(R"({"id":"h","method":"hello"})"));
  auto hello = quick.read_message(30s);
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->id, "\"h\"");
  pollfd p{slow.fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0) << "the request was answered before a hello sent after it";
  // The slow request itself: the closest-name scan takes seconds in a
  // release build and, under ThreadSanitizer on a loaded machine, about two
  // minutes (the worker is seen at it: closest_names in the stack).
  auto reply = slow.read_message(180s);
  ASSERT_TRUE(reply);
  check(*reply);
}

// `tensor` reads a whole record for its statistics, and on a miss measures
// every name of the dump for the closest ones: on the server's worker, so
// a hello from another client is answered meanwhile.
TEST(LoopStall, TensorStatisticsAndClosestNamesAreWorkedOutOffTheLoop) {
  temp_dir dir;
  std::filesystem::create_directories(dir.file("w"));
  const std::string big = dir.file("w") + "/big.bin", names = dir.file("w") + "/names.bin";
  write_sparse_record(big, "big/conv", 256ull << 20);
  if (::testing::Test::HasFatalFailure()) return;
  {
    // Long names: comparing one with each of them takes a while.
    auto w = dump_writer::create(names);
    ASSERT_TRUE(w);
    const std::string stem(800, 'n');
    for (int i = 0; i < 600; ++i) {
      ASSERT_TRUE(w->write(spec_of(stem + std::to_string(i), 4, i), ramp(4, 1.0f)));
    }
    ASSERT_TRUE(w->close());
  }
  test_daemon d(dir, {"--watch", dir.file("w")}, "");
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  raw_client c(dir.file("sock"));
  ASSERT_TRUE(wait_until([&] {
    return c.call("tensors", R"({"path":")" + big + R"("})").error_code.empty() &&
           c.call("tensors", R"({"path":")" + names + R"("})").error_code.empty();
  }));

  expect_answered_after_a_hello(dir.file("sock"),
                                R"({"id":"t","method":"tensor","params":{"path":")" + big +
                                    R"(","name":"big/conv","values":[0,2]}})",
                                [](const message& m) {
                                  EXPECT_TRUE(m.error_code.empty()) << m.raw;
                                  EXPECT_NE(m.result.find("\"zeros\":67108864"), std::string::npos)
                                      << m.result.substr(0, 400);
                                });
  const std::string near = std::string(800, 'n') + "12x";
  expect_answered_after_a_hello(
      dir.file("sock"),
      R"({"id":"m","method":"tensor","params":{"path":")" + names + R"(","name":")" + near +
          R"("}})",
      [](const message& m) {
        EXPECT_EQ(m.error_code, "not_found");
        EXPECT_NE(m.raw.find("did you mean: " + std::string(800, 'n') + "12"), std::string::npos)
            << m.raw.substr(0, 200);
      });
}

INSTANTIATE_TEST_SUITE_P(Loops, LoopStall, ::testing::Values("io_uring", "epoll"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
}  // namespace sigdump::testing
