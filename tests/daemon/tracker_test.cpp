// The daemon core in-process: the rescan path IN_Q_OVERFLOW takes, and
// three-way rows, without a child process.
#include "core/tracker.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "daemon_support.h"

namespace sigdump::daemon {
namespace {

using namespace std::chrono_literals;
using sigdump::testing::ramp;
using sigdump::testing::spec_of;
using sigdump::testing::temp_dir;

struct collecting_sink : event_sink {
  std::vector<daemon_event> events;
  void publish(const daemon_event& e) override { events.push_back(e); }
  std::size_t count(event_kind k, const std::string& reason = {}) const {
    std::size_t n = 0;
    for (const auto& e : events)
      n += (e.kind == k && (reason.empty() || e.reason == reason)) ? 1 : 0;
    return n;
  }
};

class Tracker : public ::testing::TestWithParam<loop_kind> {
 protected:
  void SetUp() override {
    auto l = make_event_loop(GetParam());
    if (!l) GTEST_SKIP() << l.error().describe();
    loop_ = std::move(*l);
    state_.add_sink(&sink_);
  }
  // Runs the loop until pred holds (checked every 10 ms) or 20 s pass.
  bool run_until(const std::function<bool()>& pred) {
    return testing::run_loop_until(*loop_, pred, 10ms);
  }
  temp_dir dir_;
  std::unique_ptr<event_loop> loop_;
  daemon_state state_{1, ::getpid()};
  collecting_sink sink_;
  worker_pool pool_{2};
};

TEST_P(Tracker, OverflowRescanFindsFilesAndAnnouncesResync) {
  std::filesystem::create_directories(dir_.file("w"));
  tracker core(*loop_, state_, nullptr, pool_);
  daemon_options opts;
  opts.watch = {dir_.file("w")};
  opts.poll = std::chrono::milliseconds(60'000);  // only events and rescans look
  ASSERT_TRUE(core.start(opts));
  EXPECT_EQ(state_.watched.size(), 1u);
  EXPECT_TRUE(state_.exists_now(state_.watched[0]));
  // Written while nobody reads inotify (as if its events were lost).
  std::string f = dir_.file("w") + "/sigma_outtensor_dump.bin";
  {
    auto w = dump_writer::create(f);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write(spec_of("a", 16), ramp(16, 1.0f)));
  }
  core.rescan("inotify_overflow");
  EXPECT_EQ(sink_.count(event_kind::resync, "inotify_overflow"), 1u);
  ASSERT_EQ(state_.files.count(f), 1u);
  EXPECT_EQ(state_.files.at(f)->file->records().size(), 1u);
  // A rescan is idempotent: no second run for the same file.
  core.rescan("inotify_overflow");
  EXPECT_EQ(sink_.count(event_kind::run_start), 1u);
  core.stop();
}

TEST_P(Tracker, FloodOfEventsKeepsUpWithTheFile) {
  std::filesystem::create_directories(dir_.file("w"));
  tracker core(*loop_, state_, nullptr, pool_);
  daemon_options opts;
  opts.watch = {dir_.file("w")};
  ASSERT_TRUE(core.start(opts));
  std::string f = dir_.file("w") + "/sigma_outtensor_dump.bin";
  auto w = dump_writer::create(f);
  ASSERT_TRUE(w);
  // Thousands of tiny writes: IN_MODIFY events merge, none is a count.
  std::string rec = dump_writer::render({}, spec_of("x", 8), ramp(8, 1.0f));
  for (int i = 0; i < 500; ++i) {
    for (char c : rec) ASSERT_TRUE(w->append_bytes(std::string_view(&c, 1)));
    if (i % 50 == 0) run_until([] { return true; });
  }
  ASSERT_TRUE(run_until([&] {
    return state_.files.count(f) == 1 && state_.files.at(f)->file->records().size() == 500;
  }));
  EXPECT_EQ(sink_.count(event_kind::run_start), 1u);
  core.stop();
}

TEST_P(Tracker, ThreeWayRowsJoinFixedFloatAndFramework) {
  std::string fixed = dir_.file("fixed.bin"), flt = dir_.file("float.bin"),
              onnx = dir_.file("onnx.bin");
  auto write = [&](const std::string& p, float scale) {
    auto w = dump_writer::create(p);
    ASSERT_TRUE(w);
    for (int i = 0; i < 3; ++i) {
      auto v = ramp(64, 1.0f);
      v[static_cast<std::size_t>(i)] *= scale;
      ASSERT_TRUE(w->write(spec_of(std::string("l") + std::to_string(i), 64, i), v));
    }
  };
  write(fixed, 1.5f);
  write(flt, 1.2f);
  write(onnx, 1.0f);
  tracker core(*loop_, state_, nullptr, pool_);
  daemon_options opts;
  opts.pairs = {{"quant", fixed, flt}, {"conv", flt, onnx}};
  ASSERT_TRUE(core.start(opts));
  ASSERT_TRUE(run_until([&] { return sink_.count(event_kind::layer) == 6; }));
  const pair_info* q = state_.find_pair("quant");
  ASSERT_NE(q, nullptr);
  auto rows = state_.three_way(*q);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 3u);
  const run_info& qrun = *state_.runs.at(q->run);
  const run_info& crun = *state_.runs.at(state_.find_pair("conv")->run);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*rows)[i].quantization_cos, qrun.report.layers[i].metrics.cos);
    EXPECT_EQ((*rows)[i].conversion_cos, crun.report.layers[i].metrics.cos);
  }
  core.stop();
}

INSTANTIATE_TEST_SUITE_P(Kinds, Tracker, ::testing::Values(loop_kind::io_uring, loop_kind::epoll),
                         [](const auto& p) {
                           return std::string(p.param == loop_kind::epoll ? "epoll" : "io_uring");
                         });

}  // namespace
}  // namespace sigdump::daemon
