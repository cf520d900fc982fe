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

// In a child running as `nobody`: connect, send one request line, return the
// first reply line ("" when none).
std::string call_as_nobody(const std::string& socket, const std::string& line) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipefd[0]);
    if (::setresgid(nobody, nobody, nobody) != 0 || ::setresuid(nobody, nobody, nobody) != 0) {
      ::_exit(50);
    }
    int fd = connect_unix(socket);
    if (fd < 0) ::_exit(30);
    const std::string req = line + "\n";
    (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    std::string got;
    char buf[4096];
    while (got.find('\n') == std::string::npos) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<std::size_t>(n));
    }
    if (::write(pipefd[1], got.data(), got.size()) < 0) ::_exit(2);
    ::_exit(0);
  }
  ::close(pipefd[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0;) {
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(pipefd[0]);
  ::waitpid(pid, nullptr, 0);
  return out.substr(0, out.find('\n'));
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

// An allowed peer of another uid used `compare` to read the owner's files:
// any path, with the daemon's rights, and error texts quoting the first
// bytes (/etc/shadow's). It may compare only tracked files it could read
// itself, and errors never quote bytes to it.
TEST(IpcSecurity, AllowedPeersCompareOnlyTrackedFilesTheyCouldRead) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to act as another uid";
  temp_dir dir;
  write_file(dir.file("config.json"), "{\"allow_uids\":[65534]}");
  const std::string secret = dir.file("secret");
  write_file(secret, "root:*:20228:0:99999:7:::\n");
  ::chmod(secret.c_str(), 0600);
  ipc_daemon d(dir, {}, {"--config", dir.file("config.json")});
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  pair_writer w(d.sample(), d.bench(), 3);
  w.write(3);
  open_up(dir, d.socket());
  ::chmod(dir.file("dumps").c_str(), 0755);
  const auto compare = [&](const std::string& a, const std::string& b) {
    return call_as_nobody(d.socket(), R"({"id":1,"method":"compare","params":{"sample":")" + a +
                                          R"(","benchmark":")" + b + R"("}})");
  };
  auto leaked = compare(secret, secret);
  EXPECT_NE(leaked.find("\"forbidden\""), std::string::npos) << leaked;
  EXPECT_EQ(leaked.find("root:*"), std::string::npos) << leaked;
  // Tracked and readable by everyone: compared.
  raw_client me(d.socket());
  ASSERT_TRUE(
      wait_until([&] { return me.call("status").raw.find(d.bench()) != std::string::npos; }));
  auto ok = compare(d.sample(), d.bench());
  EXPECT_NE(ok.find("\"layers\""), std::string::npos) << ok;
  // Tracked but private to the owner: refused.
  ::chmod(d.bench().c_str(), 0600);
  auto priv = compare(d.sample(), d.bench());
  EXPECT_NE(priv.find("cannot read this file"), std::string::npos) << priv;
  // The owner still names any file, and sees why it is not a dump.
  auto mine = me.call("compare", R"({"sample":")" + secret + R"(","benchmark":")" + secret + "\"}");
  EXPECT_NE(mine.raw.find("root:*"), std::string::npos) << mine.raw;
}

// A symlink in a watched folder to another user's private file put its
// bytes into the log and into status (files[].error).
TEST(IpcSecurity, SymlinksToOthersPrivateFilesAreNotFollowed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to own a file as another uid";
  temp_dir dir;
  const std::string secret = dir.file("secret");
  write_file(secret, "//out 0 shadow-secret-bytes\n");
  ::chmod(secret.c_str(), 0600);
  ASSERT_EQ(::chown(secret.c_str(), nobody, nobody), 0);
  ipc_daemon d(dir);
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  const std::string link = dir.file("dumps") + "/x_outtensor_dump.bin";
  ASSERT_EQ(::symlink(secret.c_str(), link.c_str()), 0);
  ASSERT_TRUE(wait_until([&] {
    return d.proc().stderr_text().find("not followed") != std::string::npos;
  })) << d.proc().stderr_text();
  raw_client me(d.socket());
  auto st = me.call("status");
  EXPECT_EQ(st.raw.find("shadow-secret"), std::string::npos) << st.raw;
  EXPECT_EQ(d.proc().stderr_text().find("shadow-secret"), std::string::npos);
}

}  // namespace
}  // namespace sigdump::testing
