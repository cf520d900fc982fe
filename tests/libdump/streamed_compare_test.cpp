// The streamed comparison's libdump side: the parser hands out the header of
// a binary record whose payload is still being written, chunks of it are
// summed from the bytes already there, and compare_layer combines them with
// the rest into exactly the metrics of a comparison of the finished file.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "same_metrics.h"
#include "sigdump/compare.h"
#include "sigdump/dump_file.h"
#include "sigdump/dump_writer.h"
#include "test_support.h"

namespace sigdump::testing {
namespace {

// Two and a half chunks: chunks 0 and 1 full, chunk 2 half.
const std::int64_t big = static_cast<std::int64_t>(compare_chunk_elements()) * 5 / 2;

std::vector<float> wave(std::size_t n, double phase, float gain) {
  return sine_values(n, 0.001, phase, gain);
}

tensor_spec spec(const std::string& name, std::vector<std::int64_t> shape, std::int64_t op = 0) {
  tensor_spec t;
  t.name = name;
  t.shape = std::move(shape);
  t.op_index = op;
  return t;
}

// The bytes of a dump of one small layer then `rec`.
std::string dump_bytes(const tensor_spec& t, const std::vector<float>& values) {
  std::string s = dump_writer::render_first_line({});
  s += dump_writer::render({}, spec("head", {1, 16}), wave(16, 0.0, 1.0f));
  s += dump_writer::render({}, t, values);
  return s;
}

void write_prefix(const std::string& path, const std::string& bytes, std::size_t n) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, bytes.data(), n), static_cast<ssize_t>(n));
  ::close(fd);
}

struct fixture {
  temp_dir dir;
  std::string sample = dir.file("sample.bin"), bench = dir.file("bench.bin");
  std::string sample_bytes;
  tensor_spec layer = spec("conv9/big", {1, big}, 1);

  fixture() {
    sample_bytes = dump_bytes(layer, wave(static_cast<std::size_t>(big), 0.1, 1.02f));
    const std::string b = dump_bytes(layer, wave(static_cast<std::size_t>(big), 0.0, 1.0f));
    write_prefix(bench, b, b.size());
  }
  // Where the big record's payload starts in the sample.
  std::size_t payload_start() const {
    const std::size_t line3 = sample_bytes.rfind("//buffer data size:");
    return sample_bytes.find('\n', line3) + 1;
  }
};

TEST(StreamedCompare, ParserHandsOutTheHeaderOfACutBinaryRecord) {
  fixture f;
  // Header complete, a third of the payload there.
  const std::size_t cut = f.payload_start() + static_cast<std::size_t>(big) * 4 / 3;
  write_prefix(f.sample, f.sample_bytes, cut);
  auto d = dump_file::open(f.sample);
  ASSERT_TRUE(d) << d.error().describe();
  ASSERT_EQ(d->records().size(), 1u);
  ASSERT_TRUE(d->pending());
  ASSERT_TRUE(d->pending()->header);
  const record& h = *d->pending()->header;
  EXPECT_EQ(h.index, 1u);
  EXPECT_EQ(h.name, "conv9/big");
  EXPECT_EQ(h.elements, static_cast<std::uint64_t>(big));
  EXPECT_EQ(h.payload_offset, f.payload_start());
  EXPECT_EQ(h.payload_bytes, static_cast<std::uint64_t>(big) * 4);
  EXPECT_EQ(h.end_offset, f.payload_start() + static_cast<std::uint64_t>(big) * 4);
  EXPECT_EQ(d->pending()->offset, h.header_offset);
  EXPECT_EQ(d->pending()->offset + d->pending()->available, cut);
  EXPECT_TRUE(h.ok());
  auto v = d->pending_view();
  ASSERT_TRUE(v) << v.error().describe();
  EXPECT_EQ(v->elements, static_cast<std::uint64_t>(big));

  // Header lines cut: no header yet, and no view.
  write_prefix(f.sample, f.sample_bytes, f.payload_start() - 10);
  auto d2 = dump_file::open(f.sample);
  ASSERT_TRUE(d2) << d2.error().describe();
  ASSERT_TRUE(d2->pending());
  EXPECT_FALSE(d2->pending()->header);
  auto none = d2->pending_view();
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().file, f.sample);

  // Complete: nothing pending.
  write_prefix(f.sample, f.sample_bytes, f.sample_bytes.size());
  auto d3 = dump_file::open(f.sample);
  ASSERT_TRUE(d3);
  EXPECT_FALSE(d3->pending());
}

TEST(StreamedCompare, TextRecordsHaveNoStreamableHeader) {
  temp_dir dir;
  writer_options o;
  o.variant = dump_variant::text;
  std::string s = dump_writer::render_first_line(o);
  s += dump_writer::render(o, spec("a", {1, 64}), wave(64, 0.0, 1.0f));
  write_prefix(dir.file("t.txt"), s, s.size() - 40);
  auto d = dump_file::open(dir.file("t.txt"));
  ASSERT_TRUE(d) << d.error().describe();
  ASSERT_TRUE(d->pending());
  EXPECT_FALSE(d->pending()->header);
}

TEST(StreamedCompare, ChunksSummedWhileWrittenGiveTheFinishedFilesMetrics) {
  fixture f;
  auto bench = dump_file::open(f.bench);
  ASSERT_TRUE(bench) << bench.error().describe();
  auto bv = bench->view(1);
  ASSERT_TRUE(bv) << bv.error().describe();

  // The writer has put down chunk 0 and part of chunk 1.
  const std::size_t cut = f.payload_start() + (compare_chunk_elements() + 1000) * 4;
  write_prefix(f.sample, f.sample_bytes, cut);
  chunk_sums_so_far done(3);
  {
    auto cutf = dump_file::open(f.sample);
    ASSERT_TRUE(cutf);
    auto sv = cutf->pending_view();
    ASSERT_TRUE(sv) << sv.error().describe();
    auto c0 = compute_chunk(*sv, *bv, 0);
    ASSERT_TRUE(c0) << c0.error().describe();
    done[0] = *c0;
  }
  // Then the rest; chunk 2 is summed from the finished file too.
  write_prefix(f.sample, f.sample_bytes, f.sample_bytes.size());
  auto sample = dump_file::open(f.sample);
  ASSERT_TRUE(sample);
  auto sv = sample->view(1);
  ASSERT_TRUE(sv);
  auto c2 = compute_chunk(*sv, *bv, 2);
  ASSERT_TRUE(c2);
  done[2] = *c2;

  compare_options o;
  o.threads = 1;
  const layer_result plain = compare_layer(*sample, 1, *bench, 1, o);
  ASSERT_TRUE(plain.error.empty()) << plain.error;
  const layer_result streamed = compare_layer(*sample, 1, *bench, 1, o, done);
  ASSERT_TRUE(streamed.error.empty()) << streamed.error;
  expect_same_metrics(streamed.metrics, plain.metrics);
  EXPECT_EQ(streamed.layout, plain.layout);
  EXPECT_EQ(streamed.suspect, plain.suspect);
  // And the chunks were really used: wrong sums in a slot change the result.
  chunk_sums_so_far wrong = done;
  wrong[0]->ab *= 0.5;
  const layer_result poisoned = compare_layer(*sample, 1, *bench, 1, o, wrong);
  EXPECT_NE(poisoned.metrics.cos, plain.metrics.cos);
  // Several threads, same numbers.
  o.threads = 3;
  expect_same_metrics(compare_layer(*sample, 1, *bench, 1, o, done).metrics, plain.metrics);
}

TEST(StreamedCompare, ATransposingFirstLayoutIgnoresTheSums) {
  temp_dir dir;
  // Sample NHWC [1,8,8,C], benchmark NCHW [1,C,8,8]: the benchmark is read
  // transposed, so sums made with the `same` layout do not apply.
  const std::int64_t c = static_cast<std::int64_t>(compare_chunk_elements()) / 32;
  const auto n = static_cast<std::size_t>(64 * c);
  auto vals = wave(n, 0.0, 1.0f);
  std::vector<float> nchw(n);
  for (std::int64_t ch = 0; ch < c; ++ch) {
    for (std::int64_t hw = 0; hw < 64; ++hw) {
      nchw[static_cast<std::size_t>(ch * 64 + hw)] = vals[static_cast<std::size_t>(hw * c + ch)];
    }
  }
  const std::string s = dump_bytes(spec("t", {1, 8, 8, c}), vals);
  const std::string b = dump_bytes(spec("t", {1, c, 8, 8}), nchw);
  write_prefix(dir.file("s.bin"), s, s.size());
  write_prefix(dir.file("b.bin"), b, b.size());
  auto sf = dump_file::open(dir.file("s.bin"));
  auto bf = dump_file::open(dir.file("b.bin"));
  ASSERT_TRUE(sf && bf);
  EXPECT_EQ(first_layout({1, 8, 8, c}, {1, c, 8, 8}), layout_choice::benchmark_nchw_to_nhwc);
  EXPECT_EQ(first_layout({1, big}, {1, big}), layout_choice::same);
  compare_options o;
  const layer_result plain = compare_layer(*sf, 1, *bf, 1, o);
  ASSERT_TRUE(plain.error.empty()) << plain.error;
  EXPECT_EQ(plain.layout, layout_choice::benchmark_nchw_to_nhwc);
  chunk_sums_so_far bogus(2);
  bogus[0] = partial_sums{1, 1, 1, 1, 1, 1, 1, false};
  const layer_result streamed = compare_layer(*sf, 1, *bf, 1, o, bogus);
  expect_same_metrics(streamed.metrics, plain.metrics);
  EXPECT_NEAR(plain.metrics.cos, 1.0, 1e-12);
}

TEST(StreamedCompare, AChunkWhoseBytesVanishedIsAnErrorNamingFileRecordAndOffset) {
  fixture f;
  const std::size_t cut = f.payload_start() + (compare_chunk_elements() + 10) * 4;
  write_prefix(f.sample, f.sample_bytes, cut);
  auto sample = dump_file::open(f.sample);
  auto bench = dump_file::open(f.bench);
  ASSERT_TRUE(sample && bench);
  auto sv = sample->pending_view();
  auto bv = bench->view(1);
  ASSERT_TRUE(sv && bv);
  // The writer starts over: the pages under the view are gone.
  ASSERT_EQ(::truncate(f.sample.c_str(), 0), 0);
  auto c0 = compute_chunk(*sv, *bv, 0);
  ASSERT_FALSE(c0);
  EXPECT_EQ(c0.error().code, errc::truncated);
  EXPECT_EQ(c0.error().file, f.sample);
  EXPECT_EQ(c0.error().record, 1);
  EXPECT_GE(c0.error().offset, f.payload_start());
  EXPECT_LT(c0.error().offset, cut);
  // Mismatched element counts are refused before any byte is read.
  auto head = bench->view(0);
  ASSERT_TRUE(head);
  auto mismatch = compute_chunk(*sv, *head, 0);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().code, errc::mismatch);
  // So is a chunk past the layer's end.
  auto past = compute_chunk(*sv, *sv, 3);
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().code, errc::usage);
}

}  // namespace
}  // namespace sigdump::testing
