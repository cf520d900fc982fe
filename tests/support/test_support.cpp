#include "test_support.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace sigdump::testing {

namespace fs = std::filesystem;

temp_dir::temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/sigdump-test-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string bin_path(const std::string& name) { return std::string(SIGDUMP_BIN_DIR) + "/" + name; }
std::string source_path(const std::string& relative) {
  return std::string(SIGDUMP_SOURCE_DIR) + "/" + relative;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

bool append_file(const std::string& path, std::string_view bytes) {
  std::FILE* out = std::fopen(path.c_str(), "ab");
  if (out == nullptr) return false;
  const bool whole = std::fwrite(bytes.data(), 1, bytes.size(), out) == bytes.size();
  return std::fclose(out) == 0 && whole;
}

namespace {

std::vector<char*> c_argv(const std::vector<std::string>& v) {
  std::vector<char*> out;
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, int in_fd,
            int out_fd, int err_fd) {
  auto args = c_argv(argv);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    if (in_fd >= 0) ::dup2(in_fd, 0);
    if (out_fd >= 0) ::dup2(out_fd, 1);
    if (err_fd >= 0) ::dup2(err_fd, 2);
    for (const auto& kv : env) ::putenv(const_cast<char*>(kv.c_str()));
    ::execv(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  return pid;
}

}  // namespace

run_result run(const std::vector<std::string>& argv, const std::string& stdin_text,
               const std::vector<std::string>& env, std::chrono::milliseconds timeout) {
  temp_dir io;
  std::string in_path = io.file("in"), out_path = io.file("out"), err_path = io.file("err");
  write_file(in_path, stdin_text);
  int in_fd = ::open(in_path.c_str(), O_RDONLY | O_CLOEXEC);
  int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  pid_t pid = spawn(argv, env, in_fd, out_fd, err_fd);
  ::close(in_fd);
  ::close(out_fd);
  ::close(err_fd);
  run_result r;
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  r.out = read_file(out_path);
  r.err = read_file(err_path);
  return r;
}

child::child(const std::vector<std::string>& argv, const std::vector<std::string>& env,
             const std::string& log_prefix) {
  static int counter = 0;
  // The pid alone is not unique: test processes in other pid namespaces
  // (sandboxes sharing /tmp) have the same pids, and their children wrote
  // into our logs. A random part makes the name this process's own.
  static const std::string self = [] {
    std::random_device rd;
    char tag[17];
    std::snprintf(tag, sizeof tag, "%08x%08x", rd(), rd());
    return std::to_string(::getpid()) + "-" + tag;
  }();
  std::string base = log_prefix.empty() ? std::string("/tmp/sigdump-child-") + self + "-" +
                                              std::to_string(counter++)
                                        : log_prefix;
  out_path_ = base + ".out";
  err_path_ = base + ".err";
  int out_fd = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int err_fd = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_ = spawn(argv, env, null_fd, out_fd, err_fd);
  ::close(out_fd);
  ::close(err_fd);
  ::close(null_fd);
}

child::~child() {
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGTERM);
    if (wait(std::chrono::seconds(5)) == -1 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status_, 0);
    }
  }
  {
    ::unlink(out_path_.c_str());
    ::unlink(err_path_.c_str());
  }
}

bool child::alive() {
  if (reaped_) return false;
  pid_t w = ::waitpid(pid_, &status_, WNOHANG);
  if (w == pid_) {
    reaped_ = true;
    return false;
  }
  return true;
}

bool child::signal(int sig) { return alive() && ::kill(pid_, sig) == 0; }

int child::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!reaped_) {
    pid_t w = ::waitpid(pid_, &status_, WNOHANG);
    if (w == pid_) {
      reaped_ = true;
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
}

std::string child::stdout_text() const { return read_file(out_path_); }
std::string child::stderr_text() const { return read_file(err_path_); }

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

std::vector<float> sine_values(std::size_t n, double step, double phase, float gain) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    v[i] = gain * static_cast<float>(std::sin(static_cast<double>(i) * step + phase));
  }
  return v;
}

bool kernel_grants_leases(const std::string& probe_path) {
  const int made = ::open(probe_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (made < 0) return false;
  ::close(made);
  const int fd = ::open(probe_path.c_str(), O_RDONLY | O_CLOEXEC);
  // A lease break would send SIGIO (fatal by default): SIGURG is ignored.
  const bool granted =
      fd >= 0 && ::fcntl(fd, F_SETSIG, SIGURG) == 0 && ::fcntl(fd, F_SETLEASE, F_RDLCK) == 0;
  if (fd >= 0) ::close(fd);  // gives the lease back
  ::unlink(probe_path.c_str());
  return granted;
}

}  // namespace sigdump::testing
