// Opening a dump whose pages are not in the page cache: a binary dump's
// payloads stay on disk (only its header pages are read, and let go again),
// so a comparison can read them while it sums; and the records found are
// those of a parse of the whole file in one go, binary or text, wherever
// the first bytes parsed on their own end.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "sigdump/dump_file.h"
#include "sigdump/dump_parser.h"
#include "sigdump/dump_writer.h"
#include "test_support.h"

namespace sigdump::testing {
namespace {

// Drops the file's pages from the page cache (clean pages: no root needed).
void evict(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::fdatasync(fd), 0);
  ASSERT_EQ(::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
  ::close(fd);
}

// Pages of the file in the page cache now, and pages in all.
std::pair<std::size_t, std::size_t> resident_pages(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0);
  const off_t size = ::lseek(fd, 0, SEEK_END);
  void* p = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  EXPECT_NE(p, MAP_FAILED);
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t pages = (static_cast<std::size_t>(size) + page - 1) / page;
  std::vector<unsigned char> in(pages);
  EXPECT_EQ(::mincore(p, static_cast<std::size_t>(size), in.data()), 0);
  ::munmap(p, static_cast<std::size_t>(size));
  std::size_t n = 0;
  for (unsigned char c : in) n += c & 1;
  return {n, pages};
}

std::vector<record> parse_in_one_go(const std::string& path) {
  const std::string bytes = read_file(path);
  dump_parser parser(path);
  std::vector<record> out;
  EXPECT_TRUE(parser.feed(std::as_bytes(std::span(bytes.data(), bytes.size())), out));
  return out;
}

void expect_same_records(const std::vector<record>& got, const std::vector<record>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].name, want[i].name) << i;
    EXPECT_EQ(got[i].shape, want[i].shape) << i;
    EXPECT_EQ(got[i].payload_offset, want[i].payload_offset) << i;
    EXPECT_EQ(got[i].payload_bytes, want[i].payload_bytes) << i;
    EXPECT_EQ(got[i].end_offset, want[i].end_offset) << i;
  }
}

TEST(ColdOpen, BinaryDumpOpensWithoutReadingItsPayloads) {
  temp_dir t;
  const std::string path = t.file("big.bin");
  constexpr int layers = 24;
  constexpr std::int64_t per_layer = 256 * 1024;  // 1 MiB of float32
  {
    auto w = dump_writer::create(path);
    ASSERT_TRUE(w.has_value());
    for (int l = 0; l < layers; ++l) {
      tensor_spec s;
      s.name = "layer" + std::to_string(l);
      s.op_index = l;
      s.shape = {1, 64, 64, 64};
      ASSERT_TRUE(w->write(s, sine_values(static_cast<std::size_t>(per_layer), 0.01, l, 1.0f)));
    }
    ASSERT_TRUE(w->close().has_value());
  }
  evict(path);
  const auto [before, pages] = resident_pages(path);
  if (before > layers) GTEST_SKIP() << "the page cache keeps this file (" << before << " pages)";
  auto f = dump_file::open(path);
  ASSERT_TRUE(f.has_value()) << f.error().describe();
  ASSERT_EQ(f->records().size(), static_cast<std::size_t>(layers));
  const auto [after, all] = resident_pages(path);
  // The header pages read are let go again (a lone small page in a payload
  // would make the kernel read the rest of it in small pages); reading
  // around each header would have brought in tens of pages per record
  // (the device's read-ahead size) or all of them.
  EXPECT_LT(after, static_cast<std::size_t>(layers)) << "of " << all << " pages";
  expect_same_records(f->records(), parse_in_one_go(path));
}

TEST(ColdOpen, RecordsAreThoseOfAParseInOneGo) {
  temp_dir t;
  // Records of odd sizes, so one straddles the end of the first bytes the
  // parser gets on their own; a binary and a text dump.
  for (dump_variant v : {dump_variant::binary, dump_variant::text}) {
    const std::string path = t.file(v == dump_variant::binary ? "b.bin" : "t.txt");
    writer_options o;
    o.variant = v;
    auto w = dump_writer::create(path, o);
    ASSERT_TRUE(w.has_value());
    for (int l = 0; l < 40; ++l) {
      tensor_spec s;
      s.name = "layer" + std::to_string(l);
      s.op_index = l;
      const std::int64_t n = v == dump_variant::binary ? 150001 + 77 * l : 20001 + 7 * l;
      s.shape = {n};
      ASSERT_TRUE(w->write(s, sine_values(static_cast<std::size_t>(n), 0.02, l, 2.0f)));
    }
    ASSERT_TRUE(w->close().has_value());
    auto f = dump_file::open(path);
    ASSERT_TRUE(f.has_value()) << f.error().describe();
    EXPECT_EQ(f->variant(), v);
    expect_same_records(f->records(), parse_in_one_go(path));
  }
}

}  // namespace
}  // namespace sigdump::testing
