// mapping: empty files, probe, and the SIGBUS guard after a truncation.
#include "sigdump/mapping.h"

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
  EXPECT_TRUE(guarded_read(touch, &ok));
  EXPECT_EQ(ok.sum, 'x');

  ASSERT_EQ(::truncate(path.c_str(), page), 0);
  touch_ctx gone{(*m)->bytes().data() + far};
  EXPECT_FALSE(guarded_read(touch, &gone));
  // The guard is reusable and nests.
  EXPECT_FALSE(guarded_read(touch, &gone));
  touch_ctx still{(*m)->bytes().data() + 1};
  EXPECT_TRUE(guarded_read(touch, &still));
  bool probed = (*m)->probe(far, 1);
  if (probed) GTEST_SKIP() << "MADV_POPULATE_READ unsupported: probe is optimistic";
  EXPECT_TRUE((*m)->probe(0, 10));
}

}  // namespace
}  // namespace sigdump::testing
