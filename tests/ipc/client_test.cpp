// The client library against a tiny server written here: a socketpair or a
// temp Unix socket whose other end the test drives by hand.
#include "sigdump/ipc/client.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "test_support.h"

namespace {

using namespace std::chrono_literals;
using sigdump::ipc::client;

struct pair_fds {
  client c;
  int server = -1;
  ~pair_fds() {
    if (server >= 0) ::close(server);
  }
};

pair_fds make_pair() {
  int sv[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  return pair_fds{client::adopt(sv[0], "test"), sv[1]};
}

void server_write(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    ASSERT_GT(n, 0);
    done += static_cast<std::size_t>(n);
  }
}

// Reads one request line from the server end.
std::string server_read_line(int fd) {
  std::string line;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

TEST(Client, SendsRequestsWithIncreasingIds) {
  auto p = make_pair();
  auto id1 = p.c.send("hello", R"({"client":"test","protocol":1})");
  auto id2 = p.c.send("status");
  ASSERT_TRUE(id1 && id2);
  EXPECT_EQ(*id1, 1u);
  EXPECT_EQ(*id2, 2u);
  EXPECT_EQ(server_read_line(p.server),
            R"({"id":1,"method":"hello","params":{"client":"test","protocol":1}})");
  EXPECT_EQ(server_read_line(p.server), R"({"id":2,"method":"status"})");
}

TEST(Client, MatchesReplyByIdAndBuffersEventsAndOtherReplies) {
  auto p = make_pair();
  auto a = p.c.send("status");
  auto b = p.c.send("runs");
  ASSERT_TRUE(a && b);
  // Events and the later reply arrive before the awaited one; lines are split
  // across writes at awkward places.
  server_write(p.server, R"({"id":9,"event":"layer","clock":"c:1:2:3","layer":{}})"
                         "\n"
                         R"({"id":2,"result":{"runs":[]}})"
                         "\n"
                         R"({"id":1,"res)");
  std::thread late([&] { server_write(p.server, "ult\":{\"daemon\":{}}}\n"); });
  auto r1 = p.c.wait_reply(*a, 5s);
  late.join();
  ASSERT_TRUE(r1) << r1.error().describe();
  EXPECT_EQ(r1->result, R"({"daemon":{}})");
  EXPECT_FALSE(r1->is_error);
  auto r2 = p.c.wait_reply(*b, 5s);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->result, R"({"runs":[]})");
  EXPECT_TRUE(p.c.has_buffered_event());
  auto ev = p.c.next_event(0ms);
  ASSERT_TRUE(ev && *ev);
  EXPECT_EQ((*ev)->event, "layer");
  EXPECT_EQ((*ev)->clock, "c:1:2:3");
  EXPECT_EQ((*ev)->id, "9");
  EXPECT_EQ((*ev)->line, R"({"id":9,"event":"layer","clock":"c:1:2:3","layer":{}})");
}

TEST(Client, ErrorRepliesCarryCodeAndMessage) {
  auto p = make_pair();
  auto a = p.c.send("tensor", R"({"name":"x"})");
  ASSERT_TRUE(a);
  server_write(p.server, R"({"id":1,"error":{"code":"not_found","message":"no tensor 'x'"}})"
                         "\n");
  auto r = p.c.wait_reply(*a, 5s);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->is_error);
  EXPECT_EQ(r->error_code, "not_found");
  EXPECT_EQ(r->error_message, "no tensor 'x'");
}

TEST(Client, NullIdTransportErrorAnswersTheWaiter) {
  auto p = make_pair();
  auto a = p.c.send("status");
  ASSERT_TRUE(a);
  server_write(p.server, R"({"id":null,"error":{"code":"overloaded","message":"too slow"}})"
                         "\n");
  auto r = p.c.wait_reply(*a, 5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error_code, "overloaded");
}

TEST(Client, TimeoutsReturnInsteadOfHanging) {
  auto p = make_pair();
  auto a = p.c.send("status");
  ASSERT_TRUE(a);
  auto r = p.c.wait_reply(*a, 20ms);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("no reply"), std::string::npos);
  auto ev = p.c.next_event(20ms);
  ASSERT_TRUE(ev);
  EXPECT_FALSE(*ev);  // timeout: no event, no error
}

TEST(Client, PeerCloseIsAnError) {
  auto p = make_pair();
  server_write(p.server, R"({"id":1,"event":"run_end","clock":"c:1:2:4"})"
                         "\n");
  ::close(p.server);
  p.server = -1;
  auto ev = p.c.next_event(5s);
  ASSERT_TRUE(ev && *ev);  // what arrived before the close is still delivered
  EXPECT_EQ((*ev)->event, "run_end");
  auto gone = p.c.next_event(5s);
  ASSERT_FALSE(gone);
  EXPECT_NE(gone.error().message.find("closed"), std::string::npos);
  EXPECT_FALSE(p.c.call("status", {}, 1s));
}

TEST(Client, LineOverLimitIsRefused) {
  auto p = make_pair();
  std::thread flood([&] {
    std::string big =
        R"({"id":1,"event":"layer","pad":")" + std::string(sigdump::ipc::max_line_bytes + 10, 'x');
    std::size_t done = 0;
    while (done < big.size()) {
      ssize_t n = ::send(p.server, big.data() + done, big.size() - done, MSG_NOSIGNAL);
      if (n <= 0) break;  // the client gave up reading: fine
      done += static_cast<std::size_t>(n);
    }
  });
  auto ev = p.c.next_event(10s);
  for (int i = 0; i < 1000 && ev && !*ev; ++i) ev = p.c.next_event(10s);
  ASSERT_FALSE(ev);
  EXPECT_NE(ev.error().message.find("longer than"), std::string::npos) << ev.error().message;
  ::shutdown(p.server, SHUT_RDWR);
  flood.join();
}

TEST(Client, RequestOverLimitIsRefusedBeforeSending) {
  auto p = make_pair();
  std::string params = R"({"pad":")" + std::string(sigdump::ipc::max_line_bytes, 'x') + "\"}";
  auto r = p.c.send("hello", params);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, sigdump::errc::usage);
}

TEST(Client, GarbageLineIsAProtocolErrorNotACrash) {
  auto p = make_pair();
  server_write(p.server, "this is not json\n");
  auto ev = p.c.next_event(5s);
  ASSERT_FALSE(ev);
  EXPECT_NE(ev.error().message.find("not JSON"), std::string::npos) << ev.error().message;
}

TEST(Client, ConnectWithoutDaemonSaysHowToStartOne) {
  sigdump::testing::temp_dir tmp;
  const std::string path = tmp.file("sock");
  auto c = client::connect(path, 1s);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message, sigdump::ipc::no_daemon_message(path));
  EXPECT_NE(c.error().message.find("sigdumpd --foreground"), std::string::npos);
}

TEST(Client, ConnectsToListeningSocketAndTalks) {
  sigdump::testing::temp_dir tmp;
  const std::string path = tmp.file("sock");
  int lfd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(lfd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(lfd, 4), 0);
  std::thread server([&] {
    int s = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (s < 0) return;
    std::string req = server_read_line(s);
    // Echo the method back in the result, with the request's id.
    simdjson::dom::parser parser;
    simdjson::padded_string padded(req);
    auto doc = parser.parse(padded);
    std::int64_t id = doc["id"].get_int64().value_unsafe();
    std::string_view method = doc["method"].get_string().value_unsafe();
    std::string reply = "{\"id\":" + std::to_string(id) + ",\"result\":{\"method\":\"" +
                        std::string(method) + "\"}}\n";
    server_write(s, reply);
    ::close(s);
  });
  auto c = client::connect(path, 5s);
  ASSERT_TRUE(c) << c.error().describe();
  auto r = c->call("hello", R"({"protocol":1})", 5s);
  server.join();
  ::close(lfd);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->result, R"({"method":"hello"})");
}

// A listening socket at path whose credentials (taken at listen()) are uid;
// serves nothing. Returns the listener's descriptor or -1.
int listen_as(const std::string& path, uid_t uid) {
  int lfd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0) return -1;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return -1;
  if (uid == ::geteuid()) return ::listen(lfd, 4) == 0 ? lfd : -1;
  // listen() in a child that dropped to uid: the socket's peer credentials
  // are the listening process's, as for a daemon another user started.
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setresuid(uid, uid, uid) != 0 || ::listen(lfd, 4) != 0) ::_exit(1);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? lfd : -1;
}

// Someone else's socket where ours should be (a squatted /tmp/sigdump-UID,
// a planted SIGDUMP_SOCKET) printed that user's fake runs as ours.
TEST(Client, RefusesASocketServedByAnotherUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to serve a socket as another uid";
  sigdump::testing::temp_dir tmp;
  const std::string path = tmp.file("sock");
  int lfd = listen_as(path, 65534);
  ASSERT_GE(lfd, 0);
  auto c = client::connect(path, 5s);
  ::close(lfd);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("served by uid 65534"), std::string::npos) << c.error().message;
  // The user can say that this daemon is one they mean to use.
  lfd = listen_as(tmp.file("sock2"), 65534);
  ASSERT_GE(lfd, 0);
  ::setenv("SIGDUMP_TRUST_UIDS", "12,65534", 1);
  auto trusted = client::connect(tmp.file("sock2"), 5s);
  ::unsetenv("SIGDUMP_TRUST_UIDS");
  ::close(lfd);
  EXPECT_TRUE(trusted) << trusted.error().describe();
}

TEST(Client, RefusesASocketInAFolderOthersCanWrite) {
  sigdump::testing::temp_dir tmp;
  const std::string dir = tmp.file("open");
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(dir.c_str(), 0777), 0);
  int lfd = listen_as(dir + "/sock", ::geteuid());
  ASSERT_GE(lfd, 0);
  auto c = client::connect(dir + "/sock", 5s);
  ::close(lfd);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("writable by group or others"), std::string::npos)
      << c.error().message;
}

TEST(Client, ParseMessageRejectsNonObjects) {
  EXPECT_FALSE(sigdump::ipc::parse_message("[1,2]"));
  EXPECT_FALSE(sigdump::ipc::parse_message("{"));
  auto m = sigdump::ipc::parse_message(R"({"id":"abc","result":null})");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, "\"abc\"");
  EXPECT_EQ(m->result, "null");
}

}  // namespace
