// Slow and hostile clients against a real sigdumpd: each gets an error, a gap
// or a disconnect for itself only, and the others keep receiving everything.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <thread>

#include "ipc_test_client.h"

namespace sigdump::testing {
namespace {

using namespace std::chrono_literals;

// Writes n layers in batches, reading each batch from `reader` before the
// next, so that reader never falls behind; returns the layers it got.
std::size_t write_in_step(pair_writer& w, raw_client& reader, int n, int batch) {
  std::size_t got = 0;
  for (int done = 0; done < n;) {
    const int k = std::min(batch, n - done);
    w.write(k);
    done += k;
    got += read_layers(reader, static_cast<std::size_t>(k)).size();
  }
  return got;
}

TEST(IpcBackpressure, SlowReaderGetsAGapAndOthersGetEverything) {
  temp_dir dir;
  // Soft limit of 16 queued messages and a tiny socket buffer.
  ipc_daemon d(dir, {"SIGDUMP_IPC_TEST_LIMITS=16:::::60000:4096:"});
  ASSERT_TRUE(d.wait_ready());
  raw_client slow(d.socket());
  raw_client fast(d.socket());
  ASSERT_TRUE(slow.call("subscribe", R"({"pair":"p"})").error_code.empty());
  ASSERT_TRUE(fast.call("subscribe", R"({"pair":"p"})").error_code.empty());
  constexpr int n = 200;
  pair_writer w(d.sample(), d.bench(), n);
  // The fast subscriber gets every layer while the slow one does not read.
  ASSERT_EQ(write_in_step(w, fast, n, 8), static_cast<std::size_t>(n));

  std::uint64_t delivered = 0, dropped = 0, gaps = 0;
  std::int64_t last_index = -1;
  while (delivered + dropped < static_cast<std::uint64_t>(n)) {
    auto m = slow.read_message(10s);
    if (!m) break;
    if (m->event == "layer") {
      ++delivered;
      EXPECT_GT(m->index, last_index);  // order is kept
      last_index = m->index;
    } else if (m->event == "gap") {
      ++gaps;
      dropped += m->dropped;
    }
  }
  EXPECT_GE(gaps, 1u);
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(delivered + dropped, static_cast<std::uint64_t>(n));
  // Still connected and served.
  EXPECT_NE(slow.call("hello").result.find("sigdumpd"), std::string::npos);
}

TEST(IpcBackpressure, StalledClientIsDisconnectedAsOverloaded) {
  temp_dir dir;
  // Soft 4, hard 8, stalled 300 ms: a client that never reads is cut off.
  ipc_daemon d(dir, {"SIGDUMP_IPC_TEST_LIMITS=4::8:::300:4096:"});
  ASSERT_TRUE(d.wait_ready());
  raw_client stalled(d.socket());
  raw_client other(d.socket());
  ASSERT_TRUE(stalled.call("subscribe").error_code.empty());
  ASSERT_TRUE(other.call("subscribe").error_code.empty());
  constexpr int n = 60;
  pair_writer w(d.sample(), d.bench(), n);
  EXPECT_EQ(write_in_step(w, other, n, 2), static_cast<std::size_t>(n));
  // The stall timer (300 ms) cuts the client; wait until the daemon says so
  // in its log, then read: the stream ends with the `overloaded` error.
  ASSERT_TRUE(wait_until([&] {
    return d.proc().stderr_text().find("overloaded") != std::string::npos;
  })) << d.proc().stderr_text();
  std::string last;
  while (auto m = stalled.read_message(10s)) last = m->raw;
  EXPECT_TRUE(stalled.eof());
  EXPECT_NE(last.find("\"overloaded\""), std::string::npos) << last;
  EXPECT_NE(other.call("hello").result.find("sigdumpd"), std::string::npos);
  EXPECT_TRUE(d.proc().alive());
}

TEST(IpcBackpressure, ThousandsOfUnreadRequestsAreAnsweredInOrder) {
  temp_dir dir;
  ipc_daemon d(dir);
  ASSERT_TRUE(d.wait_ready());
  raw_client flood(d.socket());
  ::fcntl(flood.fd(), F_SETFL, ::fcntl(flood.fd(), F_GETFL) | O_NONBLOCK);
  constexpr int n = 100000;
  std::string out;
  for (int i = 1; i <= n; ++i) {
    out += R"({"id":)" + std::to_string(i) + R"(,"method":"hello"})" + "\n";
  }
  std::size_t sent = 0;
  // Send without reading until the daemon stops reading us: the socket
  // stays full (not writable) for a whole second.
  while (sent < out.size()) {
    ssize_t k = ::send(flood.fd(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (k > 0) {
      sent += static_cast<std::size_t>(k);
      continue;
    }
    pollfd p{flood.fd(), POLLOUT, 0};
    if (::poll(&p, 1, 1000) == 0) break;
  }
  EXPECT_LT(sent, out.size());  // the daemon pushed back instead of buffering it all
  // Meanwhile another client is served.
  raw_client other(d.socket());
  EXPECT_NE(other.call("hello").result.find("sigdumpd"), std::string::npos);
  // Now read while sending the rest: every reply, in order.
  int next = 1;
  while (next <= n) {
    if (sent < out.size()) {
      ssize_t k = ::send(flood.fd(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (k > 0) sent += static_cast<std::size_t>(k);
    }
    auto m = flood.read_message(20s);
    ASSERT_TRUE(m.has_value()) << "reply " << next;
    ASSERT_EQ(m->id, std::to_string(next));
    ++next;
  }
}

TEST(IpcHostile, MalformedLinesGetErrorsAndTheSessionGoesOn) {
  temp_dir dir;
  ipc_daemon d(dir);
  ASSERT_TRUE(d.wait_ready());
  raw_client c(d.socket());
  struct bad_line {
    std::string line, code;
  };
  const std::vector<bad_line> cases = {
      {"this is not json", "parse_error"},
      {"{\"id\":1,\"method\":", "parse_error"},
      {"[1,2,3]", "invalid_request"},
      {"{\"id\":2}", "invalid_request"},
      {"{\"id\":3,\"method\":42}", "invalid_request"},
      {"{\"id\":4,\"method\":\"hello\",\"params\":[]}", "invalid_request"},
      {"{\"id\":[1],\"method\":\"hello\"}", "invalid_request"},
      {"{\"id\":5,\"method\":\"no_such_method\"}", "unknown_method"},
      {"{\"id\":6,\"method\":\"tensor\",\"params\":{\"name\":[]}}", "invalid_params"},
      {"{\"id\":7,\"method\":\"runs\",\"params\":{\"limit\":\"ten\"}}", "invalid_params"},
      {"\xff\xfe{}", "parse_error"},
  };
  for (const auto& b : cases) {
    ASSERT_TRUE(c.send_line(b.line));
    auto m = c.read_message();
    ASSERT_TRUE(m.has_value()) << b.line;
    EXPECT_EQ(m->error_code, b.code) << b.line << " -> " << m->raw;
  }
  EXPECT_NE(c.call("hello").result.find("sigdumpd"), std::string::npos);
}

TEST(IpcHostile, OverlongLineIsRefusedAndClosed) {
  temp_dir dir;
  ipc_daemon d(dir);
  ASSERT_TRUE(d.wait_ready());
  raw_client c(d.socket());
  std::string huge = "{\"id\":1,\"method\":\"hello\",\"params\":{\"client\":\"";
  huge += std::string((1u << 20) + 16, 'x');  // no newline needed to be refused
  std::size_t off = 0;
  while (off < huge.size()) {
    ssize_t k = ::send(c.fd(), huge.data() + off, huge.size() - off, MSG_NOSIGNAL);
    if (k <= 0) break;  // the daemon may close before we finish
    off += static_cast<std::size_t>(k);
  }
  auto m = c.read_message();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->error_code, "line_too_long");
  EXPECT_FALSE(c.read_message(5s).has_value());
  EXPECT_TRUE(c.eof());
  raw_client other(d.socket());
  EXPECT_NE(other.call("hello").result.find("sigdumpd"), std::string::npos);
}

TEST(IpcHostile, SilentClientIsClosedSubscriberIsNot) {
  temp_dir dir;
  ipc_daemon d(dir, {"SIGDUMP_IPC_TEST_LIMITS=::::500:::"});
  ASSERT_TRUE(d.wait_ready());
  raw_client silent(d.socket());
  raw_client sub(d.socket());
  ASSERT_TRUE(sub.call("subscribe").error_code.empty());
  EXPECT_FALSE(silent.read_message(10s).has_value());
  EXPECT_TRUE(silent.eof());
  EXPECT_NE(sub.call("hello").result.find("sigdumpd"), std::string::npos);
}

}  // namespace
}  // namespace sigdump::testing
