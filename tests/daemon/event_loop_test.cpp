// Both event loop implementations, driven through the same interface.
#include "platform/event_loop.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "sigdump/ipc/unique_fd.h"
#include "test_support.h"

namespace sigdump::daemon {
namespace {

using namespace std::chrono_literals;

class EventLoop : public ::testing::TestWithParam<loop_kind> {
 protected:
  void SetUp() override {
    auto l = make_event_loop(GetParam());
    if (!l && GetParam() == loop_kind::io_uring) GTEST_SKIP() << l.error().describe();
    ASSERT_TRUE(l) << l.error().describe();
    loop_ = std::move(*l);
  }
  // Stops the loop after `limit` so a bug fails instead of hanging.
  void run_with_guard(std::chrono::milliseconds limit = 20s) {
    auto guard = loop_->add_timer(limit, false, [this] {
      timed_out_ = true;
      loop_->stop();
    });
    ASSERT_TRUE(loop_->run());
    loop_->cancel_timer(guard);
    ASSERT_FALSE(timed_out_);
  }
  std::unique_ptr<event_loop> loop_;
  bool timed_out_ = false;
};

TEST_P(EventLoop, NameMatchesKind) {
  EXPECT_STREQ(loop_->name(), GetParam() == loop_kind::epoll ? "epoll" : "io_uring");
}

TEST_P(EventLoop, ReadinessIsLevelTriggeredUntilDrained) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
  ipc::unique_fd r(p[0]), w(p[1]);
  ASSERT_EQ(::write(w.get(), "abc", 3), 3);
  int calls = 0;
  watch_id id = 0;
  id = loop_->watch_fd(r.get(), true, false, [&](bool readable, bool, bool) {
    ASSERT_TRUE(readable);
    char c;
    ASSERT_EQ(::read(r.get(), &c, 1), 1);  // one byte per callback: must come back
    if (++calls == 3) {
      loop_->unwatch(id);
      loop_->stop();
    }
  });
  run_with_guard();
  EXPECT_EQ(calls, 3);
}

TEST_P(EventLoop, ModifySwitchesInterest) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
  ipc::unique_fd r(p[0]), w(p[1]);
  bool wrote = false;
  watch_id id = 0;
  id = loop_->watch_fd(w.get(), false, false, [&](bool, bool writable, bool) {
    ASSERT_TRUE(writable);
    wrote = true;
    loop_->unwatch(id);
    loop_->stop();
  });
  // Nothing fires without interest; then ask for writability.
  loop_->add_timer(20ms, false, [&] { loop_->modify(id, false, true); });
  run_with_guard();
  EXPECT_TRUE(wrote);
}

TEST_P(EventLoop, HangupIsReported) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
  ipc::unique_fd r(p[0]), w(p[1]);
  bool hup = false;
  watch_id id = 0;
  id = loop_->watch_fd(r.get(), true, false, [&](bool, bool, bool hangup) {
    hup = hup || hangup;
    loop_->unwatch(id);
    loop_->stop();
  });
  w.reset();
  run_with_guard();
  EXPECT_TRUE(hup);
}

TEST_P(EventLoop, TimersFireInOrderRepeatAndCancel) {
  std::vector<int> order;
  int repeats = 0;
  timer_id cancelled = loop_->add_timer(5ms, false, [&] { order.push_back(99); });
  loop_->cancel_timer(cancelled);
  // Once both one-shots fired and the repeating timer was cancelled at its
  // fourth run, the loop runs 30 ms more (six of its periods: the window for
  // a cancelled timer to fire wrongly, not a wait for the loop), then stops.
  // A loaded machine may delay every timer; nothing here depends on when.
  bool stopping = false;
  auto stop_when_done = [&] {
    if (stopping || order.size() < 2 || repeats < 4) return;
    stopping = true;
    loop_->add_timer(30ms, false, [&] { loop_->stop(); });
  };
  loop_->add_timer(30ms, false, [&] {
    order.push_back(2);
    stop_when_done();
  });
  loop_->add_timer(10ms, false, [&] { order.push_back(1); });
  timer_id rep = 0;
  rep = loop_->add_timer(5ms, true, [&] {
    if (++repeats == 4) loop_->cancel_timer(rep);
    stop_when_done();
  });
  run_with_guard();
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(repeats, 4);
}

TEST_P(EventLoop, PostFromOtherThreadsRunsOnLoopInOrder) {
  const auto loop_thread = std::this_thread::get_id();
  std::vector<int> got;
  std::atomic<bool> wrong_thread{false};
  std::thread producer([&] {
    for (int i = 0; i < 1000; ++i) {
      loop_->post([&, i] {
        if (std::this_thread::get_id() != loop_thread) wrong_thread = true;
        got.push_back(i);
        if (i == 999) loop_->stop();
      });
    }
  });
  run_with_guard();
  producer.join();
  EXPECT_FALSE(wrong_thread.load());
  ASSERT_EQ(got.size(), 1000u);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(got[static_cast<std::size_t>(i)], i);
}

TEST_P(EventLoop, StopFromOtherThread) {
  // Stopped from another thread once the loop runs (it ran a posted call)
  // and waits for its descriptors.
  std::atomic<bool> running{false};
  loop_->post([&] { running = true; });
  std::thread stopper([&] {
    EXPECT_TRUE(testing::wait_until([&] { return running.load(); }));
    loop_->stop();
  });
  run_with_guard();
  stopper.join();
}

TEST_P(EventLoop, CallbackMayUnwatchAnotherReadyFd) {
  int a[2], b[2];
  ASSERT_EQ(::pipe2(a, O_CLOEXEC | O_NONBLOCK), 0);
  ASSERT_EQ(::pipe2(b, O_CLOEXEC | O_NONBLOCK), 0);
  ipc::unique_fd ar(a[0]), aw(a[1]), br(b[0]), bw(b[1]);
  ASSERT_EQ(::write(aw.get(), "x", 1), 1);
  ASSERT_EQ(::write(bw.get(), "x", 1), 1);
  int fired = 0;
  watch_id ida = 0, idb = 0;
  auto cb = [&](bool, bool, bool) {
    ++fired;
    loop_->unwatch(ida);
    loop_->unwatch(idb);
    loop_->add_timer(20ms, false, [&] { loop_->stop(); });
  };
  ida = loop_->watch_fd(ar.get(), true, false, cb);
  idb = loop_->watch_fd(br.get(), true, false, cb);
  run_with_guard();
  EXPECT_EQ(fired, 1);
}

INSTANTIATE_TEST_SUITE_P(Kinds, EventLoop, ::testing::Values(loop_kind::io_uring, loop_kind::epoll),
                         [](const auto& p) {
                           return std::string(p.param == loop_kind::epoll ? "epoll" : "io_uring");
                         });

}  // namespace
}  // namespace sigdump::daemon
