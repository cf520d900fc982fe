// `sigdump status` and `sigdump top` show the daemon's run archive: a real
// sigdumpd with --archive-dir, one finished run padded to exactly 64 KiB.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "sigdump/dump_writer.h"
#include "test_support.h"

namespace {

using namespace std::chrono_literals;
using sigdump::testing::bin_path;
using sigdump::testing::child;
using sigdump::testing::run;
using sigdump::testing::run_result;
using sigdump::testing::temp_dir;
namespace fs = std::filesystem;

std::string line_with(const std::string& text, const std::string& prefix) {
  for (std::size_t at = 0; at < text.size();) {
    std::size_t nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(at, nl - at);
    if (line.starts_with(prefix)) return line;
    at = nl + 1;
  }
  return {};
}

TEST(ArchiveStatus, StatusAndTopPrintTheArchiveLine) {
  temp_dir tmp;
  const std::string sock = tmp.file("sock"), dumps = tmp.file("dumps"), arch = tmp.file("arch");
  fs::create_directories(dumps);
  const std::vector<std::string> env{"XDG_CONFIG_HOME=" + tmp.file("no-config"),
                                     "XDG_RUNTIME_DIR=" + tmp.path().string(), "NO_COLOR=1"};
  child daemon({bin_path("sigdumpd"), "--foreground", "--socket", sock, "--state-dir",
                tmp.file("state"), "--watch", dumps, "--quiet-ms", "400", "--poll-ms", "50",
                "--archive-dir", arch, "--archive-max-bytes", "10737418240"},
               env);
  auto sigdump = [&](const std::string& cmd, std::vector<std::string> more = {}) {
    std::vector<std::string> argv{bin_path("sigdump"), cmd, "--socket", sock};
    argv.insert(argv.end(), more.begin(), more.end());
    return run(argv, {}, env, 30s);
  };
  ASSERT_TRUE(sigdump::testing::wait_until(
      [&] { return daemon.alive() && sigdump("status").exit_code == 0; }, 30s))
      << daemon.stderr_text();
  EXPECT_EQ(line_with(sigdump("status").out, "archive: "),
            "archive: " + arch + " 0 B of 10 GiB, 0 copies");

  // One record, then blank lines up to exactly 64 KiB (they end the run's
  // copy too: the archive copies a finished dump whole).
  const std::string dump = dumps + "/sigma_outtensor_dump.bin";
  {
    auto w = sigdump::dump_writer::create(dump);
    ASSERT_TRUE(w);
    sigdump::tensor_spec spec;
    spec.name = "net/conv1";
    spec.shape = {1, 4096};
    ASSERT_TRUE(w->write(spec, std::vector<float>(4096, 0.5f)));
    ASSERT_LT(w->bytes_written(), 65536u);
    ASSERT_TRUE(w->append_bytes(std::string(65536 - w->bytes_written(), '\n')));
  }
  const std::string want = "archive: " + arch + " 64 KiB of 10 GiB, 1 copy";
  run_result st;
  ASSERT_TRUE(sigdump::testing::wait_until(
      [&] {
        st = sigdump("status");
        return line_with(st.out, "archive: ") == want;
      },
      20s))
      << st.out << st.err << daemon.stderr_text();
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_EQ(st.out.find("last error"), std::string::npos) << st.out;

  auto top = sigdump("top", {"--once"});
  ASSERT_EQ(top.exit_code, 0) << top.out << top.err;
  EXPECT_EQ(line_with(top.out, "archive: "), want) << top.out;
  auto top_json = sigdump("top", {"--once", "--json"});
  ASSERT_EQ(top_json.exit_code, 0) << top_json.err;
  EXPECT_NE(top_json.out.find(R"("archive":{"dir":")" + arch + R"(","bytes":65536,)"),
            std::string::npos)
      << top_json.out;

  // While a run is live its copy is being made.
  auto w = sigdump::dump_writer::create(dump);
  ASSERT_TRUE(w);
  sigdump::tensor_spec spec;
  spec.name = "net/conv1";
  spec.shape = {1, 16};
  ASSERT_TRUE(w->write(spec, std::vector<float>(16, 1.0f)));
  ASSERT_TRUE(sigdump::testing::wait_until(
      [&] {
        st = sigdump("status");
        return line_with(st.out, "archive: ").ends_with(", 2 copies (1 copying)");
      },
      20s))
      << st.out;
  ASSERT_TRUE(w->close());
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(10s), 0) << daemon.stderr_text();
}

}  // namespace
