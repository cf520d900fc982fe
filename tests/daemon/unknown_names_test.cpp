// Names that do not exist are errors, with the closest names, from every
// method of a real sigdumpd; the CLI exits 2 at once instead of waiting.
#include <gtest/gtest.h>

#include "ipc_test_client.h"

namespace sigdump::testing {
namespace {

using namespace std::chrono_literals;

class UnknownNames : public ::testing::TestWithParam<std::string> {};

TEST_P(UnknownNames, EveryMethodSaysNotFoundWithTheClosestNames) {
  temp_dir dir;
  ipc_daemon d(dir, {"SIGDUMP_EVENT_LOOP=" + GetParam()});
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  raw_client c(d.socket());
  struct probe {
    const char* method;
    std::string params, message;
  };
  const std::vector<probe> probes = {
      {"subscribe", R"({"pair":"q"})", "no pair 'q'; did you mean: p"},
      {"subscribe", R"({"pair":"nett"})", "no pair 'nett'; known: p"},
      {"subscribe", R"({"run":"r999"})", "no run 'r999'; none is known"},
      {"runs", R"({"pair":"q"})", "no pair 'q'; did you mean: p"},
      {"tensors", R"({"pair":"q"})", "no pair 'q'; did you mean: p"},
      {"tensor", R"({"run":"r9","name":"x"})", "no run 'r9'; none is known"},
  };
  for (const auto& p : probes) {
    auto m = c.call(p.method, p.params);
    EXPECT_EQ(m.error_code, "not_found") << p.method << " " << p.params << ": " << m.raw;
    EXPECT_NE(m.raw.find(p.message), std::string::npos) << p.method << ": " << m.raw;
  }
  // A subscription to a pair that exists still works.
  EXPECT_TRUE(c.call("subscribe", R"({"pair":"p"})").error_code.empty());

  // The CLI: exit 2 at once, the daemon's message on stderr.
  auto r = run({bin_path("sigdump"), "subscribe", "--socket", d.socket(), "--pair", "nett"}, {}, {},
               20s);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("no pair 'nett'; known: p"), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Loops, UnknownNames, ::testing::Values("io_uring", "epoll"));

}  // namespace
}  // namespace sigdump::testing
