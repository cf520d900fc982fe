// The real sigdumpd for the benchmarks that time it from outside: a temp
// folder, the daemon binary beside the benchmark's, started on DIR/sock
// with DIR/state, and a client connected once it listens. Shared by
// live_latency_bench and loop_stall_bench.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "sigdump/ipc/client.h"

namespace sigdump::bench {

inline std::string make_temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/sigdump-bench-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return {};
  return tmpl;
}

inline std::string sigdumpd_path() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  std::string self(buf, static_cast<std::size_t>(n));
  return self.substr(0, self.find_last_of('/')) + "/sigdumpd";
}

// Starts the real sigdumpd on DIR/sock with DIR/state, no configuration
// file, stderr to /dev/null, plus `extra` arguments and `env` (NAME=VALUE).
inline pid_t spawn_sigdumpd(const std::string& dir, const std::vector<std::string>& extra,
                            const std::vector<std::string>& env = {}) {
  std::string exe = sigdumpd_path();
  std::vector<std::string> args{exe,        "--foreground", "--state-dir", dir + "/state",
                                "--socket", dir + "/sock"};
  args.insert(args.end(), extra.begin(), extra.end());
  pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    ::dup2(null_fd, 2);
    ::setenv("XDG_CONFIG_HOME", (dir + "/no-config").c_str(), 1);
    for (const auto& kv : env) {
      const auto eq = kv.find('=');
      if (eq != std::string::npos) ::setenv(kv.substr(0, eq).c_str(), kv.c_str() + eq + 1, 1);
    }
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

// Stops (SIGTERM) and reaps a spawned daemon when it goes out of scope.
struct daemon_reaper {
  pid_t pid;
  ~daemon_reaper() {
    ::kill(pid, SIGTERM);
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
};

// A client of the daemon on `socket`, once it listens (up to 10 s).
inline std::optional<ipc::client> connect_when_up(const std::string& socket) {
  for (int i = 0; i < 500; ++i) {
    auto c = ipc::client::connect(socket, std::chrono::milliseconds(200));
    if (c) return std::move(*c);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

}  // namespace sigdump::bench
