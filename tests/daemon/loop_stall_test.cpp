// sigdumpd keeps answering and keeps up with the writer while it compares
// a big pair (issue 14): when matching and diagnosing cost a pass over the
// whole run for every new layer, an 8,000-layer pair held the loop thread
// for seconds; a hello waited that long and rewrites of the sample made
// meanwhile were missed.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
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

// A network laid out as the simulator writes it (per layer its "//in 0"
// record, a constant weight, then its output), one write(2) per record.
void write_network(const std::string& path, float gain) {
  auto w = dump_writer::create(path);
  ASSERT_TRUE(w);
  for (int i = 0; i < layers; ++i) {
    tensor_spec in = spec_of(i == 0 ? "input" : "layer" + std::to_string(i - 1) + "/conv", 16, i);
    in.kind = record_kind::in;
    tensor_spec weights = spec_of("layer" + std::to_string(i) + "/weights", 4, i);
    weights.kind = record_kind::in;
    weights.port = 1;
    weights.constant = true;
    ASSERT_TRUE(w->append_bytes(dump_writer::render({}, in, values_of(i - 1, gain))));
    ASSERT_TRUE(w->append_bytes(dump_writer::render({}, weights, std::vector<float>(4, 0.5f))));
    ASSERT_TRUE(w->append_bytes(dump_writer::render(
        {}, spec_of("layer" + std::to_string(i) + "/conv", 16, i), values_of(i, gain))));
  }
  ASSERT_TRUE(w->close());
}

class LoopStall : public ::testing::TestWithParam<std::string> {};

// The benchmark is there; the writer writes the sample three times, each
// time as soon as the daemon has started comparing the previous one. Every
// run is its own run with one run_start and one run_end, the last one has
// every layer, and a client's hellos are answered all along.
TEST_P(LoopStall, RewritesDuringABigComparisonAreSeparateRunsAndHelloIsAnswered) {
  temp_dir dir;
  std::filesystem::create_directories(dir.file("w"));
  const std::string sample = dir.file("w") + "/sample.bin", bench = dir.file("w") + "/bench.bin";
  write_network(bench, 1.0f);
  test_daemon d(dir, {"--pair", "p:" + sample + "=" + bench}, GetParam());
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

  // The sample's events as a subscriber sees them: the runs with a layer
  // published, in order, and each run's layers and run_ends.
  struct tally {
    std::mutex m;
    std::vector<std::string> comparing;
    std::map<std::string, std::size_t> layers, ends;
  } t;
  raw_client sub(dir.file("sock"));
  ASSERT_EQ(sub.call("subscribe", R"({"pair":"p"})").error_code, "");
  std::thread reader([&] {
    while (!stop) {
      auto m = sub.read_message(1s);
      if (!m) {
        if (sub.eof()) return;
        continue;
      }
      if (m->path != sample) continue;
      std::lock_guard lock(t.m);
      if (m->event == "layer") {
        if (t.layers[m->run]++ == 0) t.comparing.push_back(m->run);
      } else if (m->event == "run_end") {
        ++t.ends[m->run];
      }
    }
  });
  auto comparing = [&] {
    std::lock_guard lock(t.m);
    return t.comparing;
  };
  for (int round = 0; round < 3; ++round) {
    write_network(sample, 1.0f + 0.01f * static_cast<float>(round + 1));
    EXPECT_TRUE(
        wait_until([&] { return comparing().size() > static_cast<std::size_t>(round); }, 120s))
        << "run " << round + 1 << " of the writer was not compared";
  }
  // The last run ends with every layer.
  std::string last;
  const bool settled = wait_until(
      [&] {
        std::lock_guard lock(t.m);
        if (t.comparing.empty()) return false;
        last = t.comparing.back();
        return t.layers[last] == static_cast<std::size_t>(layers) && t.ends[last] == 1;
      },
      180s);
  stop = true;
  prober.join();
  reader.join();
  EXPECT_EQ(unanswered, 0) << "a hello went unanswered for 5 s";
  EXPECT_GT(answered, 0);
  ASSERT_TRUE(settled) << "the last run did not end with its " << layers << " layers";

  std::map<std::string, int> starts, ends;
  for (const auto& e : d.events()) {
    if (e.path != sample) continue;
    if (e.event == "run_start") ++starts[e.run];
    if (e.event == "run_end") ++ends[e.run];
  }
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

INSTANTIATE_TEST_SUITE_P(Loops, LoopStall, ::testing::Values("io_uring", "epoll"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
}  // namespace sigdump::testing
