// writers_of asks the kernel whether a file is open for writing: what tells
// a dump's last writer's close from the close of one writer while another
// writes on (file_runs' "closed").
#include "platform/open_writers.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "sigdump/ipc/unique_fd.h"
#include "test_support.h"

namespace sigdump::testing {
namespace {

using daemon::open_writers;
using daemon::writers_of;

struct stat stat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st;
}

TEST(OpenWriters, SaysWhetherAnyProcessHasTheFileOpenForWriting) {
  temp_dir dir;
  const std::string path = dir.file("f.bin");
  ipc::unique_fd w(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  ASSERT_TRUE(w);
  ASSERT_EQ(::write(w.get(), "abcd", 4), 4);
  const struct stat st = stat_of(path);
  if (!kernel_grants_leases(dir.file("probe"))) {
    GTEST_SKIP() << "the kernel grants no file leases here (fs.leases-enable?)";
  }
  EXPECT_EQ(writers_of(path, st.st_dev, st.st_ino), open_writers::some);
  // Readers do not count.
  ipc::unique_fd r(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(r);
  w.reset();
  EXPECT_EQ(writers_of(path, st.st_dev, st.st_ino), open_writers::none);
  // A writable shared mapping holds the file open for writing after its
  // descriptor is closed.
  {
    ipc::unique_fd rw(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_TRUE(rw);
    void* m = ::mmap(nullptr, 4, PROT_READ | PROT_WRITE, MAP_SHARED, rw.get(), 0);
    ASSERT_NE(m, MAP_FAILED);
    rw.reset();
    EXPECT_EQ(writers_of(path, st.st_dev, st.st_ino), open_writers::some);
    ::munmap(m, 4);
  }
  EXPECT_EQ(writers_of(path, st.st_dev, st.st_ino), open_writers::none);
  // Another file at the path now: not the one asked about.
  const std::string next = dir.file("next.bin");
  write_file(next, "efgh");
  std::filesystem::rename(next, path);
  EXPECT_EQ(writers_of(path, st.st_dev, st.st_ino), open_writers::unknown);
  EXPECT_EQ(writers_of(dir.file("gone.bin"), st.st_dev, st.st_ino), open_writers::unknown);
}

}  // namespace
}  // namespace sigdump::testing
