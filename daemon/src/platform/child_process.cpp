#include "platform/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "sigdump/unique_fd.h"

namespace sigdump::daemon {

namespace {

using steady = std::chrono::steady_clock;
using sigdump::unique_fd;

// A pipe whose two ends close on exec; O_NONBLOCK only on our end, so the
// command sees an ordinary blocking stdin/stdout.
bool make_pipe(unique_fd& read_end, unique_fd& write_end, bool ours_is_read) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
  const int ours = ours_is_read ? fds[0] : fds[1];
  return ::fcntl(ours, F_SETFL, ::fcntl(ours, F_GETFL) | O_NONBLOCK) == 0;
}

// One output stream: split into lines, each at most max_line bytes, at
// most max_lines handed over; memory never grows past max_line.
struct line_splitter {
  const child_spec& spec;
  bool from_stderr;
  std::string buf;
  bool cutting = false;  // dropping the rest of an over-long line
  std::uint64_t lines = 0, dropped = 0;

  void emit(std::string_view line) {
    if (lines++ < spec.max_lines) {
      if (spec.on_line) spec.on_line(from_stderr, line);
    } else {
      ++dropped;
    }
  }
  void feed(std::string_view data) {
    for (char c : data) {
      if (c == '\n') {
        if (!cutting) emit(buf);
        buf.clear();
        cutting = false;
      } else if (!cutting) {
        buf.push_back(c);
        if (buf.size() >= spec.max_line) {
          buf += " [cut]";
          emit(buf);
          buf.clear();
          cutting = true;
        }
      }
    }
  }
  void finish() {
    if (!buf.empty() && !cutting) emit(buf);
    buf.clear();
  }
};

// Reads what is there now; false at end of file or error.
bool read_some(int fd, line_splitter& out) {
  char chunk[4096];
  while (true) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n > 0) {
      out.feed(std::string_view(chunk, static_cast<std::size_t>(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
}

std::string spawn_error(int err) { return std::string("cannot run: ") + std::strerror(err); }

}  // namespace

std::string child_outcome::describe() const {
  switch (what) {
    case how::exited: return "exit " + std::to_string(code);
    case how::signaled: {
      const char* name = ::sigabbrev_np(code);
      return std::string("killed by ") + (name ? std::string("SIG") + name : std::to_string(code));
    }
    case how::timed_out: return "timed out";
    case how::stopped: return "stopped with the daemon";
    case how::spawn_failed: return error;
  }
  return error;
}

child_outcome run_child(const child_spec& spec) noexcept {
  child_outcome out;
  try {
    if (spec.argv.empty()) {
      out.error = "cannot run: empty command";
      return out;
    }
    unique_fd in_r, in_w, out_r, out_w, err_r, err_w;
    if (!make_pipe(in_r, in_w, false) || !make_pipe(out_r, out_w, true) ||
        !make_pipe(err_r, err_w, true)) {
      out.error = spawn_error(errno);
      return out;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    ::posix_spawn_file_actions_init(&fa);
    ::posix_spawnattr_init(&attr);
    ::posix_spawn_file_actions_adddup2(&fa, in_r.get(), 0);
    ::posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
    ::posix_spawn_file_actions_adddup2(&fa, err_w.get(), 2);
    // Every descriptor is O_CLOEXEC already; this keeps it so for any that
    // is not (one opened by a library).
    ::posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    ::posix_spawnattr_setsigmask(&attr, &none);    // the daemon blocks signals it reads
    ::posix_spawnattr_setsigdefault(&attr, &all);  // and ignores SIGPIPE, SIGXFSZ
    ::posix_spawnattr_setpgroup(&attr, 0);
    ::posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    std::vector<char*> argv, envp;
    for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
    ::posix_spawn_file_actions_destroy(&fa);
    ::posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      out.error = spawn_error(rc);
      return out;
    }
    in_r.reset();
    out_w.reset();
    err_w.reset();
    // A pidfd tells when it exits without touching SIGCHLD or other
    // children (Linux >= 5.3); without one, a short poll period and WNOHANG.
    unique_fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));

    line_splitter so{spec, false, {}, false, 0, 0}, se{spec, true, {}, false, 0, 0};
    std::size_t written = 0;
    if (spec.stdin_text.empty()) in_w.reset();
    const auto start = steady::now();
    auto deadline = start + spec.timeout;
    bool terminating = false, killed = false;
    int status = 0;
    bool reaped = false;
    while (!reaped) {
      pollfd fds[5];
      nfds_t n = 0;
      const int i_out = out_r ? static_cast<int>(n) : -1;
      if (out_r) fds[n++] = {out_r.get(), POLLIN, 0};
      const int i_err = err_r ? static_cast<int>(n) : -1;
      if (err_r) fds[n++] = {err_r.get(), POLLIN, 0};
      const int i_in = in_w ? static_cast<int>(n) : -1;
      if (in_w) fds[n++] = {in_w.get(), POLLOUT, 0};
      if (pidfd) fds[n++] = {pidfd.get(), POLLIN, 0};
      const int i_stop = spec.stop_fd >= 0 && !terminating ? static_cast<int>(n) : -1;
      if (i_stop >= 0) fds[n++] = {spec.stop_fd, POLLIN, 0};
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
      int wait_ms = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 60'000));
      if (!pidfd) wait_ms = std::min(wait_ms, 20);
      int ready = ::poll(fds, n, wait_ms);
      if (ready < 0 && errno != EINTR) break;
      if (i_out >= 0 && fds[i_out].revents != 0 && !read_some(out_r.get(), so)) out_r.reset();
      if (i_err >= 0 && fds[i_err].revents != 0 && !read_some(err_r.get(), se)) err_r.reset();
      if (i_in >= 0 && fds[i_in].revents != 0) {
        ssize_t w =
            ::write(in_w.get(), spec.stdin_text.data() + written, spec.stdin_text.size() - written);
        if (w > 0) written += static_cast<std::size_t>(w);
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == spec.stdin_text.size()) {
          in_w.reset();
        }
      }
      const bool stop_now = i_stop >= 0 && fds[i_stop].revents != 0;
      // Exited? (the pidfd became readable, or no pidfd: look)
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        if (terminating) ::kill(-pid, SIGKILL);  // what is left of its group
        reaped = true;
        break;
      }
      if (!terminating && (stop_now || steady::now() >= deadline)) {
        out.what = stop_now ? child_outcome::how::stopped : child_outcome::how::timed_out;
        terminating = true;
        ::kill(-pid, SIGTERM);
        deadline = steady::now() + spec.grace;
      } else if (terminating && !killed && steady::now() >= deadline) {
        ::kill(-pid, SIGKILL);
        killed = true;
        deadline = steady::now() + std::chrono::hours(1);
      }
    }
    if (!reaped) {  // poll failed: do not leave it behind
      ::kill(-pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
    // What it wrote before it exited; not what a process it left behind
    // still writes.
    if (out_r) read_some(out_r.get(), so);
    if (err_r) read_some(err_r.get(), se);
    so.finish();
    se.finish();
    out.dropped = so.dropped + se.dropped;
    if (!terminating) {
      if (WIFEXITED(status)) {
        out.what = child_outcome::how::exited;
        out.code = WEXITSTATUS(status);
      } else {
        out.what = child_outcome::how::signaled;
        out.code = WTERMSIG(status);
      }
    }
    return out;
  } catch (...) {
    out.what = child_outcome::how::spawn_failed;
    out.error = "cannot run: out of memory";
    return out;
  }
}

}  // namespace sigdump::daemon
