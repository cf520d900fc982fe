// 200 concurrent subscribers, polled from one thread, each receive every event.
#include <gtest/gtest.h>
#include <poll.h>

#include "ipc_test_client.h"

namespace sigdump::testing {
namespace {

TEST(IpcScale, TwoHundredSubscribersReceiveEveryEvent) {
  temp_dir dir;
  ipc_daemon d(dir);
  ASSERT_TRUE(d.wait_ready());
  constexpr std::size_t clients = 200;
  constexpr int layers = 30;
  std::vector<std::unique_ptr<raw_client>> subs;
  for (std::size_t i = 0; i < clients; ++i) {
    subs.push_back(std::make_unique<raw_client>(d.socket()));
    ASSERT_TRUE(subs.back()->connected()) << i;
    ASSERT_TRUE(subs.back()->send_line(R"({"id":"s","method":"subscribe","params":{"pair":"p"}})"));
  }
  for (auto& s : subs) {
    auto m = s->read_message();
    ASSERT_TRUE(m && m->error_code.empty());
  }
  pair_writer w(d.sample(), d.bench(), layers);
  w.write(layers);

  std::vector<int> got(clients, 0);
  std::vector<pollfd> fds(clients);
  for (std::size_t i = 0; i < clients; ++i) fds[i] = {subs[i]->fd(), POLLIN, 0};
  std::size_t done = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (done < clients && std::chrono::steady_clock::now() < deadline) {
    if (::poll(fds.data(), fds.size(), 1000) <= 0) continue;
    for (std::size_t i = 0; i < clients; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP)) == 0) continue;
      if (!subs[i]->pump()) {
        fds[i].fd = -1;
        continue;
      }
      while (auto m = subs[i]->read_message(std::chrono::milliseconds(0))) {
        if (m->event == "layer") {
          EXPECT_EQ(m->index, got[i]) << "client " << i;
          if (++got[i] == layers) ++done;
        }
        EXPECT_NE(m->event, "gap");
      }
    }
  }
  for (std::size_t i = 0; i < clients; ++i) EXPECT_EQ(got[i], layers) << "client " << i;
}

}  // namespace
}  // namespace sigdump::testing
