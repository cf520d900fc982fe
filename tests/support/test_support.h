// Helpers shared by the tests: temp folders, real child processes, paths
// of the built binaries. No mocks: tests drive the real programs.
#pragma once

#include <sys/types.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace sigdump::testing {

/* A fresh folder under $TMPDIR (or /tmp), removed with everything in it. */
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

/* build/bin/NAME */
std::string bin_path(const std::string& name);
/* The source tree's path + relative. */
std::string source_path(const std::string& relative);

struct run_result {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out, err;
};

/* Runs argv[0] with argv, optional stdin text and extra environment
   ("K=V"), waits at most `timeout`, kills it past that (exit_code -1). */
run_result run(const std::vector<std::string>& argv, const std::string& stdin_text = {},
               const std::vector<std::string>& env = {},
               std::chrono::milliseconds timeout = std::chrono::seconds(60));

/* A child process left running (a daemon, a writer); killed (SIGTERM then
   SIGKILL) on destruction if still alive. stdout/stderr go to files. */
class child {
 public:
  child(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
        const std::string& log_prefix = {});
  ~child();
  child(const child&) = delete;
  child& operator=(const child&) = delete;
  pid_t pid() const noexcept { return pid_; }
  bool alive();
  /* Sends sig; returns false if the process is gone. */
  bool signal(int sig);
  /* Waits for exit up to timeout; returns exit code, or -1 on timeout or signal. */
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  /* The signal that ended it once wait() saw it end; 0 when it exited. */
  int term_signal() const noexcept {
    return reaped_ && WIFSIGNALED(status_) ? WTERMSIG(status_) : 0;
  }
  std::string stdout_text() const;
  std::string stderr_text() const;

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool reaped_ = false;
  std::string out_path_, err_path_;
};

/* Polls pred every few ms until it is true or timeout passes. */
bool wait_until(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(20));

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& bytes);
/* Appends bytes to the file at path (as a writer does); false if it could not. */
[[nodiscard]] bool append_file(const std::string& path, std::string_view bytes);

/* n values gain * sin(i * step + phase): smooth, signed, never all zero. */
std::vector<float> sine_values(std::size_t n, double step, double phase, float gain);

/* Whether the kernel grants a read lease on a file at probe_path (created,
   closed, leased and removed here): asked of the kernel directly, not
   through the daemon's code, so a test skips for a missing kernel feature
   (fs.leases-enable=0, a file system without leases) and never because
   the code it tests failed. */
bool kernel_grants_leases(const std::string& probe_path);

}  // namespace sigdump::testing
