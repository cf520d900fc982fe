// Starts sigdumpd the way systemd does for sigdumpd.socket/.service: a
// listening socket passed as fd 3 (LISTEN_FDS/LISTEN_PID), a notify socket
// (NOTIFY_SOCKET) and a watchdog period (WATCHDOG_USEC), then checks the
// sd_notify conversation (READY=1, WATCHDOG=1, STOPPING=1) and that the
// daemon serves the socket it was handed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using sigdump::testing::bin_path;
using sigdump::testing::read_file;
using sigdump::testing::temp_dir;

// Owns one descriptor; closes it once.
class fd_owner {
 public:
  fd_owner() = default;
  explicit fd_owner(int fd) : fd_(fd) {}
  ~fd_owner() {
    if (fd_ >= 0) ::close(fd_);
  }
  fd_owner(const fd_owner&) = delete;
  fd_owner& operator=(const fd_owner&) = delete;
  int get() const noexcept { return fd_; }

 private:
  int fd_ = -1;
};

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), std::min(path.size() + 1, sizeof addr.sun_path - 1));
  return addr;
}

int bound_socket(int type, const std::string& path) {
  int fd = ::socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un addr = unix_address(path);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Writes the decimal form of v into buf (no allocation: runs after fork).
void format_pid(char* buf, std::size_t size, const char* prefix, long v) {
  std::size_t n = 0;
  for (const char* p = prefix; *p != '\0' && n + 1 < size; ++p) buf[n++] = *p;
  char digits[24];
  std::size_t d = 0;
  do {
    digits[d++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0 && d < sizeof digits);
  while (d > 0 && n + 1 < size) buf[n++] = digits[--d];
  buf[n] = '\0';
}

bool overridden(const char* kv) {
  static const char* const names[] = {
      "LISTEN_FDS=",   "LISTEN_PID=",     "LISTEN_FDNAMES=",  "NOTIFY_SOCKET=",  "WATCHDOG_USEC=",
      "WATCHDOG_PID=", "SIGDUMP_SOCKET=", "XDG_RUNTIME_DIR=", "XDG_STATE_HOME=", "XDG_CONFIG_HOME=",
      "HOME="};
  for (const char* n : names) {
    if (std::strncmp(kv, n, std::strlen(n)) == 0) return true;
  }
  return false;
}

// sigdumpd started as a socket-activated, Type=notify service would be.
class activated_daemon {
 public:
  explicit activated_daemon(const temp_dir& dir)
      : socket_path_(dir.file("sock")),
        notify_path_(dir.file("notify")),
        log_path_(dir.file("sigdumpd.log")) {
    std::filesystem::create_directories(dir.path() / "state");
    std::filesystem::create_directories(dir.path() / "run");
    std::filesystem::create_directories(dir.path() / "config");
    listen_fd_ = bound_socket(SOCK_STREAM, socket_path_);
    if (listen_fd_ < 0 || ::listen(listen_fd_, 16) != 0) {
      setup_error_ = std::string("listening socket: ") + std::strerror(errno);
      return;
    }
    notify_fd_ = bound_socket(SOCK_DGRAM, notify_path_);
    if (notify_fd_ < 0) {
      setup_error_ = std::string("notify socket: ") + std::strerror(errno);
      return;
    }

    // Everything the child needs is built before fork; only LISTEN_PID is
    // formatted in the child, where it is known.
    const std::string exe = bin_path("sigdumpd");
    std::vector<std::string> args = {exe, "--foreground", "--state-dir", dir.file("state")};
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      if (!overridden(*e)) env_strings.emplace_back(*e);
    }
    env_strings.push_back("LISTEN_FDS=1");
    env_strings.push_back("LISTEN_FDNAMES=sigdumpd.socket");
    env_strings.push_back("NOTIFY_SOCKET=" + notify_path_);
    env_strings.push_back("WATCHDOG_USEC=200000");
    env_strings.push_back("XDG_RUNTIME_DIR=" + dir.file("run"));
    env_strings.push_back("XDG_STATE_HOME=" + dir.file("state"));
    env_strings.push_back("XDG_CONFIG_HOME=" + dir.file("config"));
    env_strings.push_back("HOME=" + dir.path().string());
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_strings) envp.push_back(e.data());
    char listen_pid[48];
    envp.push_back(listen_pid);
    envp.push_back(nullptr);

    int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const int listen_fd = listen_fd_;
    pid_ = ::fork();
    if (pid_ == 0) {
      format_pid(listen_pid, sizeof listen_pid, "LISTEN_PID=", static_cast<long>(::getpid()));
      ::dup2(null_fd, 0);
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
      if (listen_fd == 3) {
        ::fcntl(3, F_SETFD, 0);  // dup2 onto itself would keep FD_CLOEXEC
      } else {
        ::dup2(listen_fd, 3);
      }
      ::execve(exe.c_str(), argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(log_fd);
    ::close(null_fd);
    if (pid_ < 0) setup_error_ = std::string("fork: ") + std::strerror(errno);
  }

  ~activated_daemon() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status_, 0);
    }
    if (listen_fd_ >= 0) ::close(listen_fd_);
    if (notify_fd_ >= 0) ::close(notify_fd_);
  }
  activated_daemon(const activated_daemon&) = delete;
  activated_daemon& operator=(const activated_daemon&) = delete;

  const std::string& setup_error() const { return setup_error_; }
  const std::string& socket_path() const { return socket_path_; }
  pid_t pid() const { return pid_; }
  std::string log() const { return read_file(log_path_); }
  // Every notify assignment received so far ("READY=1", "WATCHDOG=1", ...).
  const std::vector<std::string>& notifications() const { return notes_; }

  /* Reads notify datagrams until one carries `assignment`, the daemon dies
     or the deadline passes; returns whether it arrived. */
  bool wait_for(const std::string& assignment, std::chrono::milliseconds limit = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    std::size_t checked = 0;
    for (;;) {
      for (; checked < notes_.size(); ++checked) {
        if (notes_[checked] == assignment) return true;
      }
      if (std::chrono::steady_clock::now() > deadline) return false;
      pollfd p{notify_fd_, POLLIN, 0};
      int r = ::poll(&p, 1, 50);
      if (r > 0) {
        drain();
      } else if (!alive()) {
        drain();  // a last message may have arrived with the exit
        for (; checked < notes_.size(); ++checked) {
          if (notes_[checked] == assignment) return true;
        }
        return false;
      }
    }
  }

  bool alive() {
    if (reaped_ || pid_ <= 0) return false;
    if (::waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
    return !reaped_;
  }

  /* Waits for exit; returns the exit code, or -1 for a timeout or a signal. */
  int wait_exit(std::chrono::milliseconds limit = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (alive()) {
      if (std::chrono::steady_clock::now() > deadline) return -1;
      drain();
      std::this_thread::sleep_for(5ms);
    }
    drain();
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
  }

  int exit_signal() const { return reaped_ && WIFSIGNALED(status_) ? WTERMSIG(status_) : 0; }

 private:
  void drain() {
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(notify_fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) return;
      std::string message(buf, static_cast<std::size_t>(n));
      std::size_t start = 0;
      while (start < message.size()) {
        std::size_t end = message.find('\n', start);
        if (end == std::string::npos) end = message.size();
        if (end > start) notes_.push_back(message.substr(start, end - start));
        start = end + 1;
      }
    }
  }

  std::string socket_path_, notify_path_, log_path_;
  std::string setup_error_;
  int listen_fd_ = -1;
  int notify_fd_ = -1;
  pid_t pid_ = -1;
  int status_ = 0;
  bool reaped_ = false;
  std::vector<std::string> notes_;
};

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += "  " + s + "\n";
  return out;
}

// Sends one request line and reads one reply line, or "" on failure.
std::string request(const std::string& path, const std::string& line) {
  fd_owner fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return {};
  sockaddr_un addr = unix_address(path);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) return {};
  const std::string out = line + "\n";
  if (::send(fd.get(), out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) {
    return {};
  }
  std::string reply;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (reply.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n <= 0) break;
    reply.append(buf, static_cast<std::size_t>(n));
  }
  return reply.substr(0, reply.find('\n'));
}

TEST(SystemdActivation, NotifiesReadyWatchdogAndStopping) {
  temp_dir dir;
  activated_daemon daemon(dir);
  ASSERT_EQ(daemon.setup_error(), "");

  ASSERT_TRUE(daemon.wait_for("READY=1")) << "no READY=1; got:\n"
                                          << joined(daemon.notifications()) << "log:\n"
                                          << daemon.log();
  // WATCHDOG_USEC=200000: the daemon should ping about every 100 ms.
  ASSERT_TRUE(daemon.wait_for("WATCHDOG=1")) << "no WATCHDOG=1; got:\n"
                                             << joined(daemon.notifications()) << "log:\n"
                                             << daemon.log();
  // The daemon serves the socket it was handed and creates none of its own.
  EXPECT_FALSE(std::filesystem::exists(dir.file("run") + "/sigdump/sock"))
      << "the daemon bound $XDG_RUNTIME_DIR/sigdump/sock instead of using fd 3";

  ASSERT_EQ(::kill(daemon.pid(), SIGTERM), 0);
  EXPECT_TRUE(daemon.wait_for("STOPPING=1")) << "no STOPPING=1; got:\n"
                                             << joined(daemon.notifications()) << "log:\n"
                                             << daemon.log();
  EXPECT_EQ(daemon.wait_exit(), 0) << "signal " << daemon.exit_signal() << "; log:\n"
                                   << daemon.log();
}

TEST(SystemdActivation, AnswersOnThePassedSocket) {
  temp_dir dir;
  activated_daemon daemon(dir);
  ASSERT_EQ(daemon.setup_error(), "");
  ASSERT_TRUE(daemon.wait_for("READY=1")) << "no READY=1; got:\n"
                                          << joined(daemon.notifications()) << "log:\n"
                                          << daemon.log();

  // READY=1 promises the socket is served; a connection queued on the
  // passed socket before that would also be answered.
  std::string reply = request(daemon.socket_path(), R"({"id":1,"method":"hello"})");
  EXPECT_NE(reply.find("\"result\""), std::string::npos) << "reply: '" << reply << "'; log:\n"
                                                         << daemon.log();
  EXPECT_TRUE(reply.find("\"id\":1") != std::string::npos ||
              reply.find("\"id\": 1") != std::string::npos)
      << "reply: '" << reply << "'";

  ASSERT_EQ(::kill(daemon.pid(), SIGTERM), 0);
  EXPECT_EQ(daemon.wait_exit(), 0) << "log:\n" << daemon.log();
  // The socket belongs to systemd (here: the test): the daemon must not
  // unlink it on exit, or a restart would leave clients nowhere to connect.
  EXPECT_TRUE(std::filesystem::exists(daemon.socket_path()))
      << "the daemon removed the socket-activated socket file on exit";
}

}  // namespace
