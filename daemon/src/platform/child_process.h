// Runs one command to its end on the calling thread: no shell, its own
// process group, stdin fed from a string, stdout and stderr handed over line
// by line (bounded), a deadline after which the group gets SIGTERM and, a
// grace period later, SIGKILL. Used by the trigger runner's threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace sigdump::daemon {

struct child_spec {
  std::vector<std::string> argv;  // argv[0] is looked up in $PATH when it has no '/'
  std::vector<std::string> env;   // the whole environment, "K=V"
  std::string stdin_text;         // written to its stdin, which is then closed
  std::chrono::milliseconds timeout{60'000};
  std::chrono::milliseconds grace{2'000};  // SIGTERM to SIGKILL
  std::size_t max_line = 4096;             // longer lines are cut there
  std::size_t max_lines = 200;             // lines handed over; the rest are counted
  int stop_fd = -1;  // readable: end the command now, as at its deadline (-1: none)
  // A line of its output (without the newline); from_stderr tells which.
  std::function<void(bool from_stderr, std::string_view line)> on_line;
};

struct child_outcome {
  enum class how : std::uint8_t {
    exited,
    signaled,
    timed_out,
    stopped,
    spawn_failed
  } what = how::spawn_failed;
  int code = 0;               // exited: the exit status; signaled: the signal
  std::string error;          // spawn_failed: why
  std::uint64_t dropped = 0;  // lines past max_lines, not handed over
  bool failed() const noexcept { return what != how::exited || code != 0; }
  /* "exit 0", "exit 3", "killed by SIGSEGV", "timed out", "cannot run: ..." */
  std::string describe() const;
};

/* Runs spec to its end (or deadline) and reaps it. The command gets only
   descriptors 0, 1 and 2, default signal dispositions and an empty signal
   mask. Never throws. */
child_outcome run_child(const child_spec& spec) noexcept;

}  // namespace sigdump::daemon
