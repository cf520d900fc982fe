// The daemon's heap after runs are dropped past keep_runs (issue 15),
// against a real sigdumpd under both event loops: its free pages go back to
// the system (malloc_trim on a worker, platform/heap_trim.h), and `status`
// says what malloc holds, so a VmRSS that grows can be told from bytes in
// use that grow.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <optional>
#include <set>
#include <string>

#include "pair_daemon_support.h"

namespace sigdump::testing {
namespace {

class HeapTrim : public PairDaemonTest {};

// A burst of work left the heap larger than what the daemon holds (glibc
// gives back only the top of a heap): the rewrite soak's VmRSS stepped up
// by 2 to 4 MiB and stayed, bytes in use flat. Each run dropped past
// keep_runs is followed by a trim (at most one a second); none comes
// before a run is dropped.
TEST_P(HeapTrim, RunsDroppedPastKeepRunsTrimTheHeap) {
  auto d = start({"--keep-runs", "2"});
  const std::string sock = dir_.file("sock");
  write_dump(bench_, 2, 1.0f);
  std::set<std::string> ended;
  for (int i = 0; i < 5; ++i) {
    write_dump(sample_, 2, 1.0f + 0.01f * static_cast<float>(i));
    const std::string run =
        d->wait_event([&](const logged_event& e) {
           return e.event == "run_end" && e.path == sample_ && !ended.contains(e.run);
         }).run;
    ASSERT_FALSE(run.empty()) << read_file(d->events_path());
    ended.insert(run);
    if (i == 0) {
      // Two runs, both kept: nothing was let go yet.
      EXPECT_EQ(daemon_counter(sock, "heap_trims"), std::optional<std::uint64_t>(0));
    }
  }
  std::optional<std::uint64_t> trims;
  EXPECT_TRUE(wait_until([&] {
    trims = daemon_counter(sock, "heap_trims");
    return trims && *trims >= 1;
  })) << "heap_trims "
      << (trims ? std::to_string(*trims) : "missing") << " after " << list_runs(sock).size()
      << " runs kept of 6";
  // (0 under a sanitizer, whose allocator is not glibc's.)
  const auto bytes = daemon_counter(sock, "heap_bytes");
  const auto in_use = daemon_counter(sock, "heap_in_use_bytes");
  ASSERT_TRUE(bytes && in_use);
  EXPECT_GE(*bytes, *in_use);
  stop(*d);
}

INSTANTIATE_TEST_SUITE_P(Loops, HeapTrim, ::testing::Values("io_uring", "epoll"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
}  // namespace sigdump::testing
