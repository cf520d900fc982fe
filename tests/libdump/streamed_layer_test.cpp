// streamed_layer: a big binary sample record compared while it is written.
// Which chunks are due as the file grows, the chunk sums it keeps for
// compare_layer, and the stale ones its truncation sentinels catch, all
// checked against the comparison of the finished files.
#include "sigdump/streamed_layer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dump_samples.h"
#include "same_metrics.h"
#include "sigdump/compare.h"
#include "sigdump/dump_file.h"
#include "sigdump/dump_writer.h"
#include "test_support.h"

namespace sigdump::testing {
namespace {

const std::uint64_t chunk = compare_chunk_elements();
// Two and a half chunks: chunks 0 and 1 full, chunk 2 half.
const std::int64_t big = static_cast<std::int64_t>(chunk * 5 / 2);

// A binary dump of one small layer then `layer`, its values a sine wave.
std::string dump_bytes(const tensor_spec& layer, double phase, float gain) {
  std::size_t n = 1;
  for (std::int64_t d : layer.shape) n *= static_cast<std::size_t>(d);
  std::string s = dump_writer::render_first_line({});
  s += dump_writer::render({}, spec("head", {1, 16}), ramp(16, 0.5f, 0.25f));
  s += dump_writer::render({}, layer, sine_values(n, 0.001, phase, gain));
  return s;
}

// Appends bytes [size of the file, n) of `bytes`, as a writer going on does
// (never truncating what is there).
void grow_to(const std::string& path, const std::string& bytes, std::uint64_t n) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  const auto have = static_cast<std::uint64_t>(st.st_size);
  ASSERT_LE(have, n);
  ASSERT_EQ(::write(fd, bytes.data() + have, n - have), static_cast<ssize_t>(n - have));
  ::close(fd);
}

struct fixture {
  temp_dir dir;
  std::string sample = dir.file("sample.bin"), bench = dir.file("bench.bin");
  tensor_spec layer = spec("conv9/big", {1, big});
  std::string sample_bytes = dump_bytes(layer, 0.1, 1.02f);

  fixture() { write_file(bench, dump_bytes(layer, 0.0, 1.0f)); }
  // Where the big record's payload starts in the sample.
  std::uint64_t payload_start() const {
    const std::size_t line3 = sample_bytes.rfind("//buffer data size:");
    return sample_bytes.find('\n', line3) + 1;
  }
  // The sample byte just past chunk k.
  std::uint64_t chunk_end(std::uint64_t k) const {
    return payload_start() + std::min((k + 1) * chunk, static_cast<std::uint64_t>(big)) * 4;
  }
  // The file size at which chunk k becomes due: one byte into the page
  // after it.
  std::uint64_t due_at(std::uint64_t k) const {
    return truncation_sentinel::page_after(chunk_end(k)) + 1;
  }
};

// A cut sample and its streamed layer against the benchmark's record 1.
struct streaming {
  dump_file sample, bench;
  std::shared_ptr<streamed_layer> layer;
};
std::optional<streaming> start(const fixture& f) {
  auto s = dump_file::open(f.sample);
  auto b = dump_file::open(f.bench);
  if (!s || !b) return std::nullopt;
  auto layer = streamed_layer::open(*s, *b, 1);
  if (!layer) return std::nullopt;
  return streaming{std::move(*s), std::move(*b), std::move(layer)};
}

// Sums the chunks due in the sample as it is now, as a follower would.
void sum_due(streaming& st) {
  const auto& p = st.sample.pending();
  ASSERT_TRUE(p && p->header);
  const auto due = st.layer->chunks_due(p->offset + p->available);
  auto view = st.sample.pending_view();
  ASSERT_TRUE(view) << view.error().describe();
  for (std::uint64_t k = due.first; k < due.last; ++k) st.layer->sum_chunk(*view, k);
  st.layer->hand_out(due.last);
}

layer_result plain_compare(const fixture& f) {
  auto s = dump_file::open(f.sample);
  auto b = dump_file::open(f.bench);
  EXPECT_TRUE(s && b);
  compare_options o;
  o.threads = 1;
  return compare_layer(*s, 1, *b, 1, o);
}

layer_result streamed_compare(const fixture& f, const chunk_sums_so_far& done) {
  auto s = dump_file::open(f.sample);
  auto b = dump_file::open(f.bench);
  EXPECT_TRUE(s && b);
  compare_options o;
  o.threads = 1;
  return compare_layer(*s, 1, *b, 1, o, done);
}

TEST(StreamedLayer, OnlyABigBinaryRecordBeingWrittenIsStreamable) {
  fixture f;
  // Its header lines cut: the record's size is not known yet.
  write_file(f.sample, f.sample_bytes.substr(0, f.payload_start() - 10));
  auto cut_header = dump_file::open(f.sample);
  ASSERT_TRUE(cut_header) << cut_header.error().describe();
  EXPECT_FALSE(streamed_layer::streamable(*cut_header));
  // Header complete, payload cut.
  write_file(f.sample, f.sample_bytes.substr(0, f.payload_start() + 4000));
  auto cut = dump_file::open(f.sample);
  ASSERT_TRUE(cut);
  EXPECT_TRUE(streamed_layer::streamable(*cut));
  // Complete: nothing is being written.
  write_file(f.sample, f.sample_bytes);
  auto done = dump_file::open(f.sample);
  ASSERT_TRUE(done);
  EXPECT_FALSE(streamed_layer::streamable(*done));
  // One chunk exactly: nothing to gain.
  tensor_spec one = spec("one", {1, static_cast<std::int64_t>(chunk)});
  const std::string small = dump_bytes(one, 0.0, 1.0f);
  write_file(f.sample, small.substr(0, small.size() - 100));
  auto cut_small = dump_file::open(f.sample);
  ASSERT_TRUE(cut_small);
  ASSERT_TRUE(cut_small->pending() && cut_small->pending()->header);
  EXPECT_FALSE(streamed_layer::streamable(*cut_small));
  EXPECT_FALSE(streamed_layer::open(*cut_small, *dump_file::open(f.bench), 1));
}

TEST(StreamedLayer, OpensOnlyAgainstABenchmarkRecordReadAsIs) {
  fixture f;
  write_file(f.sample, f.sample_bytes.substr(0, f.payload_start() + 4000));
  auto sample = dump_file::open(f.sample);
  auto bench = dump_file::open(f.bench);
  ASSERT_TRUE(sample && bench);
  EXPECT_FALSE(streamed_layer::open(*sample, *bench, 0));  // another element count
  EXPECT_FALSE(streamed_layer::open(*sample, *bench, 2));  // no such record
  auto st = streamed_layer::open(*sample, *bench, 1);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->sample_record(), 1u);
  EXPECT_EQ(st->header_offset(), sample->pending()->header->header_offset);
  EXPECT_EQ(st->bench_record(), 1u);
  EXPECT_EQ(st->bench_identity(), bench->current_mapping()->identity());
  EXPECT_EQ(st->chunks(), 3u);
  EXPECT_EQ(st->handed_out(), 0u);

  // The same elements as NCHW against an NHWC sample: read transposed, so
  // sums of the bytes as they are would not apply.
  const auto c = static_cast<std::int64_t>(chunk / 32);
  const std::string nhwc = dump_bytes(spec("t", {1, 8, 8, c}), 0.1, 1.02f);
  write_file(f.sample, nhwc.substr(0, nhwc.size() - 100));
  write_file(f.bench, dump_bytes(spec("t", {1, c, 8, 8}), 0.0, 1.0f));
  auto s2 = dump_file::open(f.sample);
  auto b2 = dump_file::open(f.bench);
  ASSERT_TRUE(s2 && b2);
  ASSERT_TRUE(streamed_layer::streamable(*s2));
  EXPECT_FALSE(streamed_layer::open(*s2, *b2, 1));
}

TEST(StreamedLayer, AChunkIsDueOnceTheFileReachesThePageAfterIt) {
  fixture f;
  write_file(f.sample, f.sample_bytes.substr(0, f.payload_start() + 4000));
  auto st = start(f);
  ASSERT_TRUE(st);
  streamed_layer& l = *st->layer;
  EXPECT_TRUE(l.chunks_due(f.chunk_end(0)).empty());
  EXPECT_TRUE(l.chunks_due(f.due_at(0) - 1).empty());
  auto due = l.chunks_due(f.due_at(0));
  EXPECT_EQ(due.first, 0u);
  EXPECT_EQ(due.last, 1u);
  due = l.chunks_due(f.due_at(1));
  EXPECT_EQ(due.first, 0u);
  EXPECT_EQ(due.last, 2u);
  // Handed out: not due again.
  l.hand_out(1);
  EXPECT_EQ(l.handed_out(), 1u);
  EXPECT_TRUE(l.chunks_due(f.due_at(0)).empty());
  due = l.chunks_due(f.due_at(1));
  EXPECT_EQ(due.first, 1u);
  EXPECT_EQ(due.last, 2u);
  // The last chunk ends with the record: due only once the file reaches
  // the page after the record's end.
  EXPECT_EQ(l.chunks_due(f.due_at(2) - 1).last, 2u);
  EXPECT_EQ(l.chunks_due(f.due_at(2)).last, 3u);
  l.hand_out(3);
  EXPECT_TRUE(l.chunks_due(f.due_at(2) + (1 << 20)).empty());
}

TEST(StreamedLayer, ChunksSummedWhileWrittenGiveTheFinishedFilesMetrics) {
  fixture f;
  write_file(f.sample, f.sample_bytes.substr(0, f.due_at(0)));
  auto st = start(f);
  ASSERT_TRUE(st);
  sum_due(*st);  // chunk 0
  EXPECT_EQ(st->layer->handed_out(), 1u);
  grow_to(f.sample, f.sample_bytes, f.sample_bytes.size());

  const auto done = st->layer->finish();
  EXPECT_EQ(done.kept, 1u);
  EXPECT_EQ(done.discarded, 0u);
  ASSERT_EQ(done.sums.size(), 3u);
  ASSERT_TRUE(done.sums[0]);
  EXPECT_FALSE(done.sums[1]);
  EXPECT_FALSE(done.sums[2]);
  // The sums of chunk 0 of the finished file.
  auto sample = dump_file::open(f.sample);
  auto bench = dump_file::open(f.bench);
  ASSERT_TRUE(sample && bench);
  auto c0 = compute_chunk(*sample->view(1), *bench->view(1), 0);
  ASSERT_TRUE(c0);
  EXPECT_EQ(std::memcmp(&done.sums[0]->ab, &c0->ab, sizeof c0->ab), 0);
  EXPECT_EQ(std::memcmp(&done.sums[0]->dd, &c0->dd, sizeof c0->dd), 0);
  const layer_result plain = plain_compare(f);
  ASSERT_TRUE(plain.error.empty()) << plain.error;
  expect_same_metrics(streamed_compare(f, done.sums).metrics, plain.metrics);

  // Finished: a chunk nobody took stays for compare_layer to sum.
  auto view = sample->view(1);
  ASSERT_TRUE(view);
  st->layer->sum_chunk(*view, 1);
  const auto again = st->layer->finish();
  EXPECT_FALSE(again.sums[1]);
  EXPECT_EQ(again.kept, 1u);
}

TEST(StreamedLayer, AChunkAWriterStartingOverReachedIsSummedAgain) {
  fixture f;
  write_file(f.sample, f.sample_bytes.substr(0, f.due_at(0)));
  auto st = start(f);
  ASSERT_TRUE(st);
  sum_due(*st);  // chunk 0
  auto view = st->sample.pending_view();
  ASSERT_TRUE(view);
  // The writer starts over, unseen: a chunk read now finds its bytes gone
  // (left to compare_layer, which reports them if they still are).
  ASSERT_EQ(::truncate(f.sample.c_str(), 0), 0);
  st->layer->sum_chunk(*view, 1);
  // And writes the record again with other values, at the same size.
  write_file(f.sample, dump_bytes(f.layer, 0.7, 1.5f));

  const auto done = st->layer->finish();
  EXPECT_EQ(done.kept, 0u);
  EXPECT_EQ(done.discarded, 1u);
  for (const auto& s : done.sums) EXPECT_FALSE(s);
  // Chunk 0's stale sums would have moved the result.
  const layer_result plain = plain_compare(f);
  ASSERT_TRUE(plain.error.empty()) << plain.error;
  expect_same_metrics(streamed_compare(f, done.sums).metrics, plain.metrics);
}

TEST(StreamedLayer, ABenchmarkWrittenAgainDiscardsEveryChunk) {
  fixture f;
  write_file(f.sample, f.sample_bytes.substr(0, f.due_at(1)));
  auto st = start(f);
  ASSERT_TRUE(st);
  sum_due(*st);  // chunks 0 and 1
  EXPECT_EQ(st->layer->handed_out(), 2u);
  grow_to(f.sample, f.sample_bytes, f.sample_bytes.size());
  // The benchmark's writer starts over and writes other values.
  write_file(f.bench, dump_bytes(f.layer, 0.4, 0.5f));

  const auto done = st->layer->finish();
  EXPECT_EQ(done.kept, 0u);
  EXPECT_EQ(done.discarded, 2u);
  const layer_result plain = plain_compare(f);
  ASSERT_TRUE(plain.error.empty()) << plain.error;
  expect_same_metrics(streamed_compare(f, done.sums).metrics, plain.metrics);
}

}  // namespace
}  // namespace sigdump::testing
