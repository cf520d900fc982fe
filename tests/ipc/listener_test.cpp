#include "sigdump/ipc/listener.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "test_support.h"

namespace sigdump::ipc {
namespace {

unique_fd connect_to(const std::string& path) {
  unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return unique_fd();
  }
  return fd;
}

TEST(Listener, BindsPrivateSocketAndAcceptsWithCredentials) {
  testing::temp_dir dir;
  const std::string path = dir.file("sock");
  auto l = unix_listener::bind(path);
  ASSERT_TRUE(l.has_value()) << l.error().describe();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto none = l->accept();
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->has_value());  // non-blocking: nothing pending

  unique_fd c = connect_to(path);
  ASSERT_TRUE(c);
  auto a = l->accept();
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->peer.uid, ::getuid());
  EXPECT_EQ((*a)->peer.pid, ::getpid());
  EXPECT_NE(::fcntl((*a)->fd.get(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl((*a)->fd.get(), F_GETFD) & FD_CLOEXEC, 0);
}

// Other threads of the daemon create files while the socket is bound: the
// process-wide umask must never change under them. A watcher thread reads
// the umask the kernel reports while many sockets are bound.
TEST(Listener, LeavesTheProcessUmaskAlone) {
  testing::temp_dir dir;
  const mode_t old = ::umask(022);
  std::atomic<bool> stop{false};
  std::atomic<int> changed{0}, looks{0};
  std::thread watcher([&] {
    while (!stop.load()) {
      std::string status = testing::read_file("/proc/self/status");
      auto at = status.find("Umask:\t");
      if (at != std::string::npos && status.compare(at + 7, 4, "0022") != 0) ++changed;
      ++looks;
    }
  });
  ASSERT_TRUE(testing::wait_until([&] { return looks.load() > 0; }));
  for (int i = 0; i < 300; ++i) {
    auto l = unix_listener::bind(dir.file("s" + std::to_string(i)));
    ASSERT_TRUE(l.has_value()) << l.error().describe();
  }
  stop = true;
  watcher.join();
  ::umask(old);
  EXPECT_EQ(changed.load(), 0);
}

TEST(Listener, RefusesToStealALiveSocket) {
  testing::temp_dir dir;
  const std::string path = dir.file("sock");
  auto first = unix_listener::bind(path);
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(socket_is_live(path));
  auto second = unix_listener::bind(path);
  ASSERT_FALSE(second.has_value());
  EXPECT_NE(second.error().message.find("another daemon"), std::string::npos);
  // The live daemon's socket is still there and still answers.
  EXPECT_TRUE(connect_to(path));
}

TEST(Listener, ReplacesAStaleSocket) {
  testing::temp_dir dir;
  const std::string path = dir.file("sock");
  {
    // A socket file whose owner died: bound, never unlinked.
    unique_fd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    ASSERT_EQ(::bind(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  }
  EXPECT_FALSE(socket_is_live(path));
  auto l = unix_listener::bind(path);
  ASSERT_TRUE(l.has_value()) << l.error().describe();
  EXPECT_TRUE(connect_to(path));
}

TEST(Listener, LeavesANonSocketFileAlone) {
  testing::temp_dir dir;
  const std::string path = dir.file("sock");
  testing::write_file(path, "precious");
  auto l = unix_listener::bind(path);
  ASSERT_FALSE(l.has_value());
  EXPECT_EQ(testing::read_file(path), "precious");
}

TEST(Listener, UnlinksOnlyItsOwnSocket) {
  testing::temp_dir dir;
  const std::string path = dir.file("sock");
  {
    auto l = unix_listener::bind(path);
    ASSERT_TRUE(l.has_value());
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  {
    auto l = unix_listener::bind(path);
    ASSERT_TRUE(l.has_value());
    // Someone replaced the file meanwhile: it is not ours to remove.
    ::unlink(path.c_str());
    testing::write_file(path, "other");
  }
  EXPECT_TRUE(std::filesystem::exists(path));
}

TEST(Listener, RejectsOverlongPath) {
  auto l = unix_listener::bind("/tmp/" + std::string(200, 'x'));
  ASSERT_FALSE(l.has_value());
  EXPECT_EQ(l.error().code, errc::usage);
}

TEST(Listener, AdoptsAnActivatedSocketWithoutUnlinking) {
  testing::temp_dir dir;
  const std::string path = dir.file("sock");
  unique_fd s(::socket(AF_UNIX, SOCK_STREAM, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(::bind(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(s.get(), 8), 0);
  {
    auto l = unix_listener::adopt(s.release(), path);
    ASSERT_TRUE(l.has_value());
    EXPECT_TRUE(l->activated());
    EXPECT_NE(::fcntl(l->fd(), F_GETFL) & O_NONBLOCK, 0);
    unique_fd c = connect_to(path);
    ASSERT_TRUE(c);
    auto a = l->accept();
    ASSERT_TRUE(a.has_value() && a->has_value());
  }
  EXPECT_TRUE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace sigdump::ipc
