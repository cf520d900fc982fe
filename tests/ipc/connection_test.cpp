#include "sigdump/ipc/connection.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace sigdump::ipc {
namespace {

// A connection on one end of a socketpair; the test plays the client on the
// other end (blocking).
struct pair_fixture {
  explicit pair_fixture(queue_limits limits = {}) {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ::fcntl(sv[0], F_SETFL, ::fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    conn = std::make_unique<connection>(unique_fd(sv[0]), limits);
    peer.reset(sv[1]);
  }
  void send(std::string_view s) {
    ASSERT_EQ(::write(peer.get(), s.data(), s.size()), static_cast<ssize_t>(s.size()));
  }
  std::vector<std::string> lines() {
    std::vector<std::string> out;
    std::string l;
    while (conn->next_line(l) == connection::line_status::line) out.push_back(l);
    return out;
  }
  // Reads everything available from the peer side without blocking.
  std::string drain_peer() {
    std::string out;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(peer.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
  std::unique_ptr<connection> conn;
  unique_fd peer;
};

TEST(Connection, SplitsLinesAcrossReads) {
  pair_fixture f;
  f.send("{\"a\":1}\n{\"b\"");
  EXPECT_EQ(f.conn->fill(), connection::fill_status::ok);
  EXPECT_EQ(f.lines(), std::vector<std::string>{"{\"a\":1}"});
  f.send(":2}\r\n\n   \n{\"c\":3}\n");
  EXPECT_EQ(f.conn->fill(), connection::fill_status::ok);
  EXPECT_EQ(f.lines(), (std::vector<std::string>{"{\"b\":2}", "{\"c\":3}"}));
  std::string l;
  EXPECT_EQ(f.conn->next_line(l), connection::line_status::none);
}

TEST(Connection, ReportsPeerClose) {
  pair_fixture f;
  f.send("x\n");
  f.peer.reset();
  EXPECT_EQ(f.conn->fill(), connection::fill_status::closed);
  EXPECT_EQ(f.lines(), std::vector<std::string>{"x"});
}

TEST(Connection, LineAtTheLimitPassesOneByteMoreIsTooLong) {
  queue_limits lim;
  lim.max_line = 100;
  pair_fixture f(lim);
  f.send(std::string(100, 'a') + "\n");
  f.conn->fill();
  ASSERT_EQ(f.lines().size(), 1u);
  f.send(std::string(101, 'b') + "\n");
  f.conn->fill();
  std::string l;
  EXPECT_EQ(f.conn->next_line(l), connection::line_status::too_long);
  EXPECT_FALSE(f.conn->wants_read());
}

TEST(Connection, TooLongWithoutNewlineIsDetectedEarly) {
  queue_limits lim;
  lim.max_line = 1000;
  pair_fixture f(lim);
  f.send(std::string(5000, 'a'));  // no newline ever comes
  f.conn->fill();
  std::string l;
  EXPECT_EQ(f.conn->next_line(l), connection::line_status::too_long);
}

TEST(Connection, FillReadsAtMostOneChunk) {
  queue_limits lim;
  lim.read_chunk = 1024;
  pair_fixture f(lim);
  std::string many;
  for (int i = 0; i < 1000; ++i) many += "{\"id\":1}\n";
  f.send(many);
  f.conn->fill();
  EXPECT_LE(f.lines().size(), 1024u / 9 + 1);
}

TEST(Connection, FlushWritesQueuedLinesInOrder) {
  pair_fixture f;
  f.conn->push("one\n");
  f.conn->push("two\n");
  EXPECT_TRUE(f.conn->wants_write());
  EXPECT_EQ(f.conn->flush(), connection::flush_status::empty);
  EXPECT_FALSE(f.conn->wants_write());
  EXPECT_EQ(f.drain_peer(), "one\ntwo\n");
}

TEST(Connection, BlockedFlushResumesMidLine) {
  pair_fixture f;
  const std::string line = std::string(10000, 'x') + "\n";
  std::size_t pushed = 0;
  for (; pushed < 200; ++pushed) f.conn->push(line);
  EXPECT_EQ(f.conn->flush(), connection::flush_status::blocked);
  EXPECT_TRUE(f.conn->has_output());
  std::string got;
  while (got.size() < pushed * line.size()) {
    got += f.drain_peer();
    f.conn->flush();
  }
  EXPECT_EQ(got.size(), pushed * line.size());
  for (std::size_t i = 0; i < pushed; ++i) {
    ASSERT_EQ(got.compare(i * line.size(), line.size(), line), 0) << i;
  }
  EXPECT_FALSE(f.conn->has_output());
}

queue_limits small_limits() {
  queue_limits lim;
  lim.soft_messages = 4;
  lim.hard_messages = 8;
  lim.soft_bytes = 1 << 20;
  lim.hard_bytes = 2 << 20;
  return lim;
}

TEST(Connection, PastSoftLimitDropsAndRecordsGap) {
  pair_fixture f(small_limits());
  for (std::uint64_t t = 1; t <= 4; ++t) {
    std::string line = "e";
    line += std::to_string(t);
    line += '\n';
    EXPECT_EQ(f.conn->push_droppable(std::move(line), 7, 0, t), connection::push_status::queued);
  }
  EXPECT_TRUE(f.conn->over_soft_limit());
  EXPECT_FALSE(f.conn->wants_read());  // replies are not read while over the soft limit
  EXPECT_EQ(f.conn->push_droppable("e5\n", 7, 0, 5), connection::push_status::dropped);
  EXPECT_EQ(f.conn->push_droppable("e6\n", 7, 0, 6), connection::push_status::dropped);
  EXPECT_EQ(f.conn->push_droppable("x9\n", 9, 0, 9), connection::push_status::dropped);
  auto drops = f.conn->take_drops();
  ASSERT_EQ(drops.size(), 2u);
  EXPECT_EQ(drops[7].dropped, 2u);
  EXPECT_EQ(drops[7].first_tick, 5u);
  EXPECT_EQ(drops[7].last_tick, 6u);
  EXPECT_EQ(drops[9].dropped, 1u);
  EXPECT_FALSE(f.conn->has_drops());
  f.conn->flush();
  EXPECT_EQ(f.drain_peer(), "e1\ne2\ne3\ne4\n");
  EXPECT_FALSE(f.conn->over_soft_limit());
}

TEST(Connection, PastSoftLimitCoalescesSameKeyKeepingOrder) {
  pair_fixture f(small_limits());
  f.conn->push_droppable("a1\n", 1, 100, 1);
  f.conn->push_droppable("b2\n", 1, 200, 2);
  f.conn->push_droppable("c3\n", 1, 300, 3);
  f.conn->push_droppable("d4\n", 1, 400, 4);
  // Newer result for key 200: the queued b2 is replaced, the new one goes last.
  EXPECT_EQ(f.conn->push_droppable("b5\n", 1, 200, 5), connection::push_status::coalesced);
  EXPECT_EQ(f.conn->queued_messages(), 4u);
  EXPECT_EQ(f.conn->push_droppable("z6\n", 1, 999, 6), connection::push_status::dropped);
  auto drops = f.conn->take_drops();
  EXPECT_EQ(drops[1].dropped, 2u);
  EXPECT_EQ(drops[1].first_tick, 2u);
  EXPECT_EQ(drops[1].last_tick, 6u);
  f.conn->flush();
  EXPECT_EQ(f.drain_peer(), "a1\nc3\nd4\nb5\n");
}

TEST(Connection, UnderSoftLimitNothingIsDropped) {
  pair_fixture f(small_limits());
  f.conn->push_droppable("a\n", 1, 100, 1);
  EXPECT_EQ(f.conn->push_droppable("a\n", 1, 100, 2), connection::push_status::queued);
  EXPECT_FALSE(f.conn->has_drops());
}

TEST(Connection, HardCapOverloadsWithFinalError) {
  pair_fixture f(small_limits());
  connection::push_status last = connection::push_status::queued;
  for (int i = 0; i < 9 && last != connection::push_status::overloaded; ++i) {
    std::string line = "reply";
    line += std::to_string(i);
    line += '\n';
    last = f.conn->push(std::move(line));
  }
  EXPECT_EQ(last, connection::push_status::overloaded);
  EXPECT_TRUE(f.conn->overloaded());
  EXPECT_EQ(f.conn->push("more\n"), connection::push_status::overloaded);
  EXPECT_EQ(f.conn->queued_messages(), 1u);
  f.conn->flush();
  const std::string got = f.drain_peer();
  EXPECT_NE(got.find("\"code\":\"overloaded\""), std::string::npos) << got;
  EXPECT_EQ(got.find("reply"), std::string::npos);
}

TEST(Connection, HardCapByBytes) {
  queue_limits lim = small_limits();
  lim.soft_bytes = 100;
  lim.hard_bytes = 200;
  pair_fixture f(lim);
  EXPECT_EQ(f.conn->push(std::string(150, 'a') + "\n"), connection::push_status::queued);
  EXPECT_TRUE(f.conn->over_soft_limit());
  EXPECT_EQ(f.conn->push(std::string(150, 'b') + "\n"), connection::push_status::overloaded);
}

TEST(Connection, OverloadKeepsPartlySentLineWhole) {
  queue_limits lim;
  pair_fixture f(lim);
  int sz = 4096;
  ::setsockopt(f.conn->fd(), SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  const std::string big = std::string(300000, 'q') + "\n";
  f.conn->push(big);
  EXPECT_EQ(f.conn->flush(), connection::flush_status::blocked);
  f.conn->overload("stalled");
  std::string got;
  for (int i = 0; i < 10000 && got.find("overloaded") == std::string::npos; ++i) {
    got += f.drain_peer();
    f.conn->flush();
  }
  ASSERT_GE(got.size(), big.size());
  EXPECT_EQ(got.compare(0, big.size(), big), 0);
  EXPECT_NE(got.find("\"overloaded\"", big.size()), std::string::npos);
}

TEST(Connection, EndlessCoalescingStaysBounded) {
  pair_fixture f(small_limits());
  for (std::uint64_t t = 1; t <= 4; ++t) f.conn->push_droppable("x\n", 1, t, t);
  connection::push_status s = connection::push_status::coalesced;
  std::uint64_t t = 5;
  for (; t < 1000 && s != connection::push_status::overloaded; ++t) {
    s = f.conn->push_droppable("y\n", 1, 4, t);
  }
  EXPECT_EQ(s, connection::push_status::overloaded);
}

TEST(Connection, FlushToClosedPeerIsAnErrorNotSigpipe) {
  pair_fixture f;
  f.peer.reset();
  f.conn->push("x\n");
  EXPECT_EQ(f.conn->flush(), connection::flush_status::error);
}

}  // namespace
}  // namespace sigdump::ipc
