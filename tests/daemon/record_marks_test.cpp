// The check a worker makes after each comparison (record_marks.h): a record
// cut off from its file since it was read is not held, also when the look
// could not note its mark (the file was cut between the look's parse and
// its marks: the rewrite soak found such a run publishing "payload is no
// longer in the file" errors for layers its archived copy holds).
#include "core/record_marks.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "daemon_support.h"

namespace sigdump::testing {
namespace {

TEST(RecordMarks, ARecordCutOffIsNotHeldThoughItsMarkWasNotNoted) {
  temp_dir dir;
  const std::string path = dir.file("sample_outtensor_dump.bin");
  {
    auto w = dump_writer::create(path);
    ASSERT_TRUE(w);
    for (int i = 0; i < 8; ++i) {
      ASSERT_TRUE(w->write(spec_of("net/l" + std::to_string(i), 256, i), ramp(256, 1.0f)));
    }
    ASSERT_TRUE(w->close());
  }
  auto f = dump_file::open(path);
  ASSERT_TRUE(f) << f.error().message;
  ASSERT_EQ(f->records().size(), 8u);
  const daemon::record_check unnoted{5, 0, 0};
  daemon::record_check noted = unnoted;
  noted.mark = daemon::record_mark(*f, 5);
  noted.head = daemon::record_mark(*f, 0);
  ASSERT_NE(noted.mark, 0u);
  EXPECT_TRUE(daemon::still_holds(*f, unnoted));
  EXPECT_TRUE(daemon::still_holds(*f, noted));

  // Cut below record 5 at a page boundary (the writer's next run truncated
  // the file; a cut inside a page leaves that page's bytes past the end
  // reading as zeros, which only a noted mark tells from the record).
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const std::uint64_t cut = f->records()[5].header_offset / page * page;
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(cut)), 0);
  EXPECT_FALSE(daemon::still_holds(*f, unnoted));
  EXPECT_FALSE(daemon::still_holds(*f, noted));
  // A record that ends before the cut is still held.
  ASSERT_GT(cut, f->records()[0].end_offset);
  EXPECT_TRUE(daemon::still_holds(*f, daemon::record_check{0, 0, 0}));
}

}  // namespace
}  // namespace sigdump::testing
