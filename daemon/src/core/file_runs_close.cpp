// A close's share of a file's life as runs: whether the writers are done
// with what a look read, so that a close ends its runs. Loop thread only.
//
// inotify queues a file's events in the order they happened, but a look
// reads the file as it is when it looks, which may be past the events read
// so far: the close of one writer is read with the file already holding what
// the next writer wrote (it truncated and wrote at once). Nor is a look one
// instant: the next writer may write its records and close between the look's
// read of the file and its question about writers, so "nobody writes it now"
// does not say the records read are all there are. The question is asked
// with the file held still: the kernel grants a read lease only while nobody
// has it open for writing, and no writer can open it while the lease is held
// (open_writers.h), so a stat taken under the lease is what every writer
// left. A close ends the runs only when that stat shows the size and mtime
// the look read; otherwise the writes after it raise events of their own,
// and the next writer's own close ends the run it wrote.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "core/file_runs.h"
#include "platform/log.h"
#include "platform/open_writers.h"

namespace sigdump::daemon {

// A test hook (docs/protocol.md, "Test hooks"): while the file
// $SIGDUMP_CLOSE_TEST_HOLD names exists, a look about to ask whether the
// writers are done with a closed file creates that path with ".held"
// appended, then waits until the file is gone (60 s at most), as a loop
// thread preempted there would. Said in the log, so a stray variable in a
// service's environment shows.
const std::string& file_runs::close_test_hold() {
  static const std::string hold = [] {
    const char* h = std::getenv("SIGDUMP_CLOSE_TEST_HOLD");
    if (h == nullptr || h[0] != '/') return std::string();
    log(log_level::notice,
        std::string("SIGDUMP_CLOSE_TEST_HOLD in effect: a look at a closed file waits while ") + h +
            " exists");
    return std::string(h);
  }();
  return hold;
}

namespace {

void hold_for_test(const std::string& hold) {
  if (hold.empty() || ::access(hold.c_str(), F_OK) != 0) return;
  const std::string held = hold + ".held";
  const int fd = ::open(held.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (::access(hold.c_str(), F_OK) == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace

bool file_runs::left_as_read(const tracked_file& tf) const {
  const auto map = tf.file->current_mapping();
  if (!map) return true;
  hold_for_test(close_test_hold());
  const file_identity id = map->identity();
  struct stat now {};
  const open_writers writers = writers_of(tf.path, id.dev, id.ino, &now);
  if (writers == open_writers::some) return false;
  // The kernel cannot say (no leases here): the file as it is now, a stat
  // after the question.
  if (writers == open_writers::unknown && ::stat(tf.path.c_str(), &now) != 0) return true;
  return static_cast<std::uint64_t>(now.st_size) == tf.bytes && mtime_of(now) == tf.mtime_ns;
}

}  // namespace sigdump::daemon
