// mapping: empty files, probe, and the SIGBUS guard after a truncation.
#include "sigdump/mapping.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "test_support.h"

namespace sigdump::testing {
namespace {

TEST(Mapping, EmptyFileMapsToAnEmptySpan) {
  temp_dir dir;
  std::string path = dir.file("empty");
  write_file(path, "");
  auto m = mapping::open(path);
  ASSERT_TRUE(m) << m.error().describe();
  EXPECT_EQ((*m)->size(), 0u);
  EXPECT_TRUE((*m)->bytes().empty());
  EXPECT_TRUE((*m)->probe(0, 0));
  EXPECT_FALSE((*m)->probe(0, 1));
}

TEST(Mapping, OpenErrorsNameTheFileAndCall) {
  auto m = mapping::open("/nonexistent/sigdump/x.bin");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, errc::io);
  EXPECT_NE(m.error().describe().find("/nonexistent/sigdump/x.bin"), std::string::npos);
  EXPECT_NE(m.error().message.find("open"), std::string::npos);
}

TEST(Mapping, MapsContentAndIdentity) {
  temp_dir dir;
  std::string path = dir.file("f");
  write_file(path, "hello");
  auto m = mapping::open(path);
  ASSERT_TRUE(m);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>((*m)->bytes().data()), 5), "hello");
  EXPECT_TRUE((*m)->probe(0, 5));
  EXPECT_FALSE((*m)->probe(3, 5));
  auto again = mapping::open(path);
  ASSERT_TRUE(again);
  EXPECT_EQ((*m)->identity(), (*again)->identity());
}

struct touch_ctx {
  const volatile std::byte* p;
  long sum = 0;
};

void touch(void* ctx) {
  auto* c = static_cast<touch_ctx*>(ctx);
  c->sum += static_cast<long>(c->p[0]);
}

TEST(TruncationSentinel, StaysIntactUntilATruncationReachesTheGuardedBytes) {
  temp_dir dir;
  const std::string path = dir.file("f");
  const std::string content(1024 * 4096, 'x');  // 4 MiB: large folios likely
  write_file(path, content);
  auto whole = mapping::open(path);
  ASSERT_TRUE(whole) << whole.error().describe();
  const file_identity id = (*whole)->identity();

  EXPECT_EQ(truncation_sentinel::page_after(1), 4096u);
  EXPECT_EQ(truncation_sentinel::page_after(4096), 4096u);
  EXPECT_EQ(truncation_sentinel::page_after(4097), 8192u);

  const std::uint64_t guarded = 300 * 4096 + 100;  // bytes [0, guarded)
  auto s = truncation_sentinel::arm(path, id, guarded);
  ASSERT_TRUE(s) << s.error().describe();
  auto far = truncation_sentinel::arm(path, id, 900 * 4096);
  ASSERT_TRUE(far) << far.error().describe();
  EXPECT_TRUE(s->intact());
  // Reading the file through other mappings changes nothing.
  ASSERT_TRUE((*whole)->probe(0, (*whole)->size()));
  EXPECT_TRUE(s->intact());

  // A cut past the guarded bytes (and past its page) leaves it intact.
  ASSERT_EQ(::truncate(path.c_str(), 800 * 4096), 0);
  EXPECT_TRUE(s->intact());
  EXPECT_FALSE(far->intact());

  // The writer starts over and writes the same size again: mapping the new
  // pages elsewhere (the reader's own refresh does) does not bring the
  // sentinel back.
  write_file(path, content);
  auto again = mapping::open(path);
  ASSERT_TRUE(again);
  ASSERT_TRUE((*again)->probe(0, (*again)->size()));
  ASSERT_TRUE((*whole)->probe(0, 4096));
  EXPECT_FALSE(s->intact());

  // A cut inside the guarded bytes' last page reaches the sentinel's page.
  auto t = truncation_sentinel::arm(path, id, guarded);
  ASSERT_TRUE(t);
  ASSERT_EQ(::truncate(path.c_str(), guarded - 10), 0);
  EXPECT_FALSE(t->intact());

  // Refused: a file that does not reach the page after the guarded bytes,
  // and a replaced file.
  auto short_file = truncation_sentinel::arm(path, id, guarded - 20);
  ASSERT_FALSE(short_file);
  EXPECT_EQ(short_file.error().file, path);
  auto other = truncation_sentinel::arm(path, file_identity{id.dev, id.ino + 1}, 10);
  ASSERT_FALSE(other);
  // Moves keep one owner of the page.
  write_file(path, content);
  auto m1 = truncation_sentinel::arm(path, id, 10);
  ASSERT_TRUE(m1);
  truncation_sentinel m2 = std::move(*m1);
  EXPECT_FALSE(m1->intact());
  EXPECT_TRUE(m2.intact());
}

TEST(TruncationSentinel, LastPageFallbackComparesTheGuardedBytes) {
  temp_dir dir;
  const std::string path = dir.file("f");
  std::string content(10 * 4096 + 100, 'x');
  write_file(path, content);
  auto m = mapping::open(path);
  ASSERT_TRUE(m);
  const file_identity id = (*m)->identity();
  const std::uint64_t end = content.size() - 4;  // a record ending on the last page

  ASSERT_FALSE(truncation_sentinel::arm(path, id, end));  // no page after it
  auto s = truncation_sentinel::arm(path, id, end, true);
  ASSERT_TRUE(s) << s.error().describe();
  EXPECT_TRUE(s->intact());
  // Bytes after `end` are not guarded (changed in place here).
  {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, "////", 4, static_cast<off_t>(end)), 4);
    ::close(fd);
  }
  EXPECT_TRUE(s->intact());

  // Cut inside the last page, written back with other bytes.
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(end - 50)), 0);
  EXPECT_FALSE(s->intact());
  std::string other = content;
  other[end - 20] = 'y';
  write_file(path, other);
  EXPECT_FALSE(s->intact());

  // Cut before the last page: its mapping is gone.
  write_file(path, content);
  auto t = truncation_sentinel::arm(path, id, end, true);
  ASSERT_TRUE(t);
  ASSERT_EQ(::truncate(path.c_str(), 3 * 4096), 0);
  EXPECT_FALSE(t->intact());
  write_file(path, content);
  EXPECT_FALSE(t->intact());
}

TEST(Mapping, ProbeAndGuardSurviveTruncation) {
  temp_dir dir;
  std::string path = dir.file("big");
  const long page = ::sysconf(_SC_PAGESIZE);
  write_file(path, std::string(static_cast<std::size_t>(page) * 4, 'x'));
  auto m = mapping::open(path);
  ASSERT_TRUE(m);
  const std::uint64_t far = static_cast<std::uint64_t>(page) * 3 + 10;
  EXPECT_TRUE((*m)->probe(far, 1));
  touch_ctx ok{(*m)->bytes().data() + far};
  EXPECT_TRUE(guarded_read({(*m)->bytes()}, touch, &ok));
  EXPECT_EQ(ok.sum, 'x');

  ASSERT_EQ(::truncate(path.c_str(), page), 0);
  touch_ctx gone{(*m)->bytes().data() + far};
  EXPECT_FALSE(guarded_read({(*m)->bytes()}, touch, &gone));
  // The guard is reusable and nests.
  EXPECT_FALSE(guarded_read({(*m)->bytes()}, touch, &gone));
  touch_ctx still{(*m)->bytes().data() + 1};
  EXPECT_TRUE(guarded_read({(*m)->bytes()}, touch, &still));
  bool probed = (*m)->probe(far, 1);
  if (probed) GTEST_SKIP() << "MADV_POPULATE_READ unsupported: probe is optimistic";
  EXPECT_TRUE((*m)->probe(0, 10));
}

}  // namespace
}  // namespace sigdump::testing
