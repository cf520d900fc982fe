// dump_parser::feed_copied, the parse dump_file runs on a mapping: it parses
// private copies of windows of the file, so it must give what feed() gives
// on the whole bytes wherever a window ends, copy no binary payload, and
// turn a copy that fails into errc::truncated naming the record and offset.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "dump_samples.h"
#include "sigdump/dump_parser.h"

namespace sigdump::testing {
namespace {

// The file a copy_fn reads, the ranges it was asked for, and where (if
// anywhere) its bytes are gone.
struct source {
  const std::string* bytes;
  std::uint64_t gone_from = UINT64_MAX;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> copied = {};  // offset, length
};

bool copy_from(const void* ctx, std::uint64_t offset, std::span<std::byte> to,
               std::uint64_t* lost) {
  if (to.empty()) return true;  // a hint: nothing is read
  auto* s = static_cast<source*>(const_cast<void*>(ctx));
  s->copied.emplace_back(offset, to.size());
  if (offset + to.size() > s->gone_from) {
    *lost = std::max(offset, s->gone_from);
    return false;
  }
  std::memcpy(to.data(), s->bytes->data() + offset, to.size());
  return true;
}

parsed parse_copied(source& src, std::uint64_t total, parse_options o = {}) {
  dump_parser p("t.bin", o);
  parsed r;
  while (true) {
    auto fed = p.feed_copied(total, &copy_from, &src, r.records);
    if (!fed) {
      r.err = fed.error();
      break;
    }
    if (!p.more()) break;
  }
  r.pending = p.pending();
  r.tail = p.tail_error();
  r.variant = p.variant();
  r.is_float = p.is_float();
  return r;
}

void expect_same(const parsed& want, const parsed& got, std::uint64_t total) {
  SCOPED_TRACE("fed " + std::to_string(total) + " bytes");
  ASSERT_EQ(want.records.size(), got.records.size());
  for (std::size_t i = 0; i < want.records.size(); ++i) {
    expect_same_record(want.records[i], got.records[i]);
  }
  ASSERT_EQ(want.err.has_value(), got.err.has_value());
  if (want.err) {
    EXPECT_EQ(want.err->describe(), got.err->describe());
  }
  ASSERT_EQ(want.pending.has_value(), got.pending.has_value());
  if (want.pending) {
    EXPECT_EQ(want.pending->offset, got.pending->offset);
    EXPECT_EQ(want.pending->record, got.pending->record);
    EXPECT_EQ(want.pending->name, got.pending->name);
    EXPECT_EQ(want.pending->needed, got.pending->needed);
    EXPECT_EQ(want.pending->available, got.pending->available);
    EXPECT_EQ(want.pending->header.has_value(), got.pending->header.has_value());
  }
  ASSERT_EQ(want.tail.has_value(), got.tail.has_value());
  if (want.tail) {
    EXPECT_EQ(want.tail->describe(), got.tail->describe());
  }
  EXPECT_EQ(want.variant, got.variant);
  EXPECT_EQ(want.is_float, got.is_float);
}

// Records of growing sizes: their headers start at every few bytes of a
// 4 KiB page, some across a page end; text records span several pages.
std::string growing_dump(dump_variant variant, int records) {
  writer_options o;
  o.variant = variant;
  std::vector<sample_record> recs;
  for (int i = 0; i < records; ++i) {
    const auto n = static_cast<std::int64_t>(37 + 61 * i);
    recs.push_back({spec("layer" + std::to_string(i) + "/conv", {1, n}),
                    ramp(static_cast<std::size_t>(n), 0.5f * static_cast<float>(i), 0.25f)});
  }
  return render_dump(o, recs);
}

TEST(CopiedFeed, ParsesAsTheWholeFeedWhereverTheFileEnds) {
  for (dump_variant v : {dump_variant::binary, dump_variant::text}) {
    // Text records are parsed whole at each cut: fewer of them.
    const std::string bytes = growing_dump(v, v == dump_variant::text ? 12 : 40);
    ASSERT_GT(bytes.size(), 4u * 4096);
    for (std::uint64_t total = 0; total <= bytes.size(); total += total < 200 ? 1 : 89) {
      const std::string prefix = bytes.substr(0, static_cast<std::size_t>(total));
      for (parse_options o : {parse_options{}, parse_options{std::nullopt, 3}}) {
        source src{&bytes};
        parsed want = parse_bytes(prefix, o);
        if (o.records_per_feed != 0) {
          // The reference for a feed in slices: feed() until it has no more.
          dump_parser p("t.bin", o);
          want = parsed{};
          while (true) {
            auto fed = p.feed(as_bytes(prefix), want.records);
            if (!fed) want.err = fed.error();
            if (!fed || !p.more()) break;
          }
          want.pending = p.pending();
          want.tail = p.tail_error();
          want.variant = p.variant();
          want.is_float = p.is_float();
        }
        expect_same(want, parse_copied(src, total, o), total);
        if (::testing::Test::HasFailure()) {
          return;
        }
      }
    }
  }
}

TEST(CopiedFeed, CopiesNoBinaryPayloadPastTheHeadersPage) {
  writer_options o;
  std::vector<sample_record> recs;
  for (int i = 0; i < 16; ++i) {
    recs.push_back({spec("big" + std::to_string(i), {1, 64 * 1024 + i * 7}),
                    std::vector<float>(static_cast<std::size_t>(64 * 1024 + i * 7), 1.0f)});
  }
  const std::string bytes = render_dump(o, recs);
  source src{&bytes};
  parsed got = parse_copied(src, bytes.size());
  ASSERT_FALSE(got.err) << got.err->describe();
  ASSERT_EQ(got.records.size(), 16u);
  std::uint64_t copied = 0;
  for (const auto& [offset, n] : src.copied) {
    copied += n;
    // The copy started at a gap before some header; it ends on the page that
    // header's last line ends on, never on a page of that record's payload
    // after it.
    auto r = std::find_if(got.records.begin(), got.records.end(),
                          [&](const record& x) { return x.header_offset >= offset; });
    if (r == got.records.end()) {  // the trailer after the last record
      EXPECT_GE(offset, got.records.back().end_offset);
      continue;
    }
    EXPECT_LE(offset + n, (r->payload_offset / 4096 + 1) * 4096)
        << "the copy at " << offset << " reads record " << r->index << "'s payload pages";
  }
  EXPECT_LT(copied, 16u * 8192) << "of a " << bytes.size() << "-byte dump";
}

TEST(CopiedFeed, CopiesNoPayloadOfARecordTheFileEndsIn) {
  // A writer is in the middle of the last record's payload: the parse stops
  // at its header (a pending tail), it does not copy the payload written so
  // far.
  writer_options o;
  std::vector<sample_record> recs;
  for (int i = 0; i < 3; ++i) {
    recs.push_back(
        {spec("big" + std::to_string(i), {1, 256 * 1024}), std::vector<float>(256 * 1024, 1.0f)});
  }
  const std::string bytes = render_dump(o, recs);
  const std::uint64_t total = bytes.size() - 300 * 1024;
  source src{&bytes};
  parsed got = parse_copied(src, total);
  ASSERT_FALSE(got.err) << got.err->describe();
  ASSERT_EQ(got.records.size(), 2u);
  ASSERT_TRUE(got.pending);
  EXPECT_EQ(got.pending->record, 2);
  ASSERT_TRUE(got.pending->header);
  std::uint64_t copied = 0;
  for (const auto& [offset, n] : src.copied) copied += n;
  EXPECT_LT(copied, 3u * 8192) << "of a " << total << "-byte prefix";
}

TEST(CopiedFeed, ACopyThatFailsNamesTheRecordAndTheLostByte) {
  const std::string bytes = growing_dump(dump_variant::binary, 12);
  dump_parser whole("t.bin");
  std::vector<record> all;
  ASSERT_TRUE(whole.feed(as_bytes(bytes), all));
  ASSERT_EQ(all.size(), 12u);
  // Gone from inside record 7's header on.
  source src{&bytes};
  src.gone_from = all[7].header_offset + 10;
  dump_parser p("t.bin");
  std::vector<record> out;
  auto fed = p.feed_copied(bytes.size(), &copy_from, &src, out);
  ASSERT_FALSE(fed);
  EXPECT_EQ(fed.error().code, errc::truncated);
  EXPECT_EQ(fed.error().file, "t.bin");
  EXPECT_EQ(fed.error().record, 7);
  EXPECT_EQ(fed.error().offset, src.gone_from);
  EXPECT_NE(fed.error().describe().find("file shrank while being read"), std::string::npos);
  EXPECT_EQ(out.size(), 7u);
  EXPECT_FALSE(p.pending());
  // The bytes are back: a later feed resumes at the cut record.
  src.gone_from = UINT64_MAX;
  auto again = p.feed_copied(bytes.size(), &copy_from, &src, out);
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_EQ(*again, 5u);
  for (std::size_t i = 0; i < all.size(); ++i) expect_same_record(all[i], out[i]);
}

}  // namespace
}  // namespace sigdump::testing
