// Peers of another uid are refused with `forbidden` unless allow_uids lists
// them. Needs root (to become another uid); skipped otherwise.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc_test_client.h"

namespace sigdump::testing {
namespace {

constexpr uid_t nobody = 65534;

// In a child running as `nobody`: connect, say hello, return what came back
// as the exit code: 10 forbidden, 20 a hello result, 30 cannot connect, 40 other.
int probe_as_nobody(const std::string& socket) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::setresgid(nobody, nobody, nobody) != 0 || ::setresuid(nobody, nobody, nobody) != 0) {
      ::_exit(50);
    }
    int fd = connect_unix(socket);
    if (fd < 0) ::_exit(30);
    const char req[] = "{\"id\":1,\"method\":\"hello\"}\n";
    (void)::send(fd, req, sizeof req - 1, MSG_NOSIGNAL);
    std::string got;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<std::size_t>(n));
      if (got.find('\n') != std::string::npos) break;
    }
    if (got.find("\"forbidden\"") != std::string::npos) ::_exit(10);
    if (got.find("\"sigdumpd\"") != std::string::npos) ::_exit(20);
    ::_exit(40);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Opens the folder and the socket so that only SO_PEERCRED stands in the way.
void open_up(const temp_dir& dir, const std::string& socket) {
  ::chmod(dir.path().c_str(), 0755);
  ::chmod(socket.c_str(), 0666);
}

TEST(IpcSecurity, OtherUidIsForbidden) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to act as another uid";
  temp_dir dir;
  ipc_daemon d(dir);
  ASSERT_TRUE(d.wait_ready());
  struct stat st {};
  ASSERT_EQ(::stat(d.socket().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  open_up(dir, d.socket());
  EXPECT_EQ(probe_as_nobody(d.socket()), 10);
  raw_client me(d.socket());
  EXPECT_NE(me.call("hello").result.find("sigdumpd"), std::string::npos);
}

TEST(IpcSecurity, AllowUidsLetsThatUidIn) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to act as another uid";
  temp_dir dir;
  write_file(dir.file("config.json"), "{\"allow_uids\":[65534]}");
  ipc_daemon d(dir, {}, {"--config", dir.file("config.json")});
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  open_up(dir, d.socket());
  EXPECT_EQ(probe_as_nobody(d.socket()), 20);
}

}  // namespace
}  // namespace sigdump::testing
