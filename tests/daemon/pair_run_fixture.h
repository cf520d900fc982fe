// Shared by the tests of what a pair's run sets off (triggers_test.cpp,
// wait_test.cpp): a real sigdumpd under each event loop watching a temp
// folder with pair "net" (fixed.bin against float.bin), and the real
// writer (sigdump simulate) making one run of it.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "daemon_support.h"

namespace sigdump::testing {

class PairRunTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string loop() const { return GetParam() == "epoll" ? "epoll" : ""; }
  std::string sample() const { return dir_.file("fixed.bin"); }
  std::string bench() const { return dir_.file("float.bin"); }
  std::string socket() const { return dir_.file("sock"); }
  /* sigdumpd with pair net and `more` options, ready. */
  std::unique_ptr<test_daemon> start(std::vector<std::string> more = {}) {
    std::vector<std::string> args{"--watch", dir_.path().string(), "--pair",
                                  "net:" + sample() + "=" + bench()};
    args.insert(args.end(), more.begin(), more.end());
    auto d = std::make_unique<test_daemon>(dir_, args, loop());
    EXPECT_TRUE(d->wait_ready()) << d->proc().stderr_text();
    return d;
  }
  /* The benchmark, then the sample. fixed: 13 layers, 5 suspect, the first
     bad one 8 conv3_1/linear/bn_xx; float: identical to the benchmark. */
  void write_run(const std::string& sample_mode = "fixed") {
    auto f = run({bin_path("sigdump"), "simulate", "--mode", "float", "--out", bench()});
    ASSERT_EQ(f.exit_code, 0) << f.err;
    auto s = run({bin_path("sigdump"), "simulate", "--mode", sample_mode, "--out", sample()});
    ASSERT_EQ(s.exit_code, 0) << s.err;
  }

  temp_dir dir_;
};

}  // namespace sigdump::testing
