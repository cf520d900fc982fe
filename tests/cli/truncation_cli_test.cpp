// `sigdump show` and `sigdump compare` on a file that a child process keeps
// truncating and restoring: each run ends with a result or one clean error
// naming the file, never with SIGBUS.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sigdump/dump_writer.h"
#include "test_support.h"

namespace sigdump::testing {
namespace {

std::string write_layers(const temp_dir& dir, const std::string& name, int layers) {
  const std::string path = dir.file(name);
  auto w = dump_writer::create(path);
  EXPECT_TRUE(w.has_value());
  for (int i = 0; i < layers; ++i) {
    tensor_spec t;
    t.name = "layer" + std::to_string(i);
    t.shape = {1, 96, 96, 4};
    t.op_index = i;
    std::vector<float> v(96 * 96 * 4);
    for (std::size_t k = 0; k < v.size(); ++k) v[k] = static_cast<float>((k + i) % 31) * 0.5f;
    EXPECT_TRUE(w->write(t, v));
  }
  EXPECT_TRUE(w->close());
  return path;
}

// Cuts `path` at pseudo-random points and writes the lost bytes back until
// killed. Only system calls after fork.
pid_t start_truncator(const std::string& path, const std::string& bytes) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) ::_exit(3);
  std::uint64_t x = 0x9e3779b97f4a7c15ull;
  for (;;) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const auto cut = static_cast<off_t>(x % bytes.size());
    if (::ftruncate(fd, cut) != 0) ::_exit(4);
    const std::size_t rest = bytes.size() - static_cast<std::size_t>(cut);
    if (::pwrite(fd, bytes.data() + cut, rest, cut) != static_cast<ssize_t>(rest)) ::_exit(5);
  }
}

void expect_clean(const run_result& r, const std::string& path, const std::string& what) {
  EXPECT_EQ(r.signal, 0) << what << " died of signal " << r.signal << "\n" << r.err;
  EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1 || r.exit_code == 2)
      << what << " exit " << r.exit_code << "\n"
      << r.err;
  if (r.exit_code == 2) {
    EXPECT_NE(r.err.find(path), std::string::npos) << what << ": " << r.err;
  }
}

TEST(TruncationCli, ShowAndCompareSurviveAFileCutUnderThem) {
  temp_dir dir;
  const std::string sample = write_layers(dir, "sample.bin", 8);
  const std::string bench = write_layers(dir, "bench.bin", 8);
  const std::string bytes = read_file(sample);
  const pid_t pid = start_truncator(sample, bytes);
  ASSERT_GT(pid, 0);
  int ok = 0;
  for (int round = 0; round < 25; ++round) {
    auto s = run({bin_path("sigdump"), "show", sample, "layer" + std::to_string(round % 8),
                  "--values", "0:64"});
    expect_clean(s, sample, "show");
    auto c = run({bin_path("sigdump"), "compare", sample, bench});
    expect_clean(c, sample, "compare");
    ok += (s.exit_code == 0) + (c.exit_code == 0);
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "truncator failed: " << status;
  std::printf("%d of 50 runs read the whole file\n", ok);
}

}  // namespace
}  // namespace sigdump::testing
