// dump_file: open, views, statistics, growth and resets through refresh().
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "dump_samples.h"
#include "sigdump/compare.h"
#include "sigdump/dump_file.h"
#include "sigdump/dump_writer.h"
#include "test_support.h"

namespace sigdump::testing {
namespace {

std::vector<double> all_values(const tensor_view& v) {
  std::vector<double> out(static_cast<std::size_t>(v.elements));
  v.read(0, out);
  return out;
}

TEST(DumpFile, OpensEveryVariantAndViewsValues) {
  temp_dir dir;
  for (auto variant : {dump_variant::binary, dump_variant::text}) {
    writer_options o;
    o.variant = variant;
    std::string path = dir.file(variant == dump_variant::text ? "d.txt" : "d.bin");
    auto w = dump_writer::create(path, o);
    ASSERT_TRUE(w.has_value());
    auto recs = sample_records();
    for (auto& r : recs) ASSERT_TRUE(w->write(r.spec, r.values).has_value());
    ASSERT_TRUE(w->close().has_value());

    auto f = dump_file::open(path);
    ASSERT_TRUE(f.has_value()) << f.error().describe();
    EXPECT_EQ(f->path(), path);
    EXPECT_EQ(f->variant(), variant);
    EXPECT_TRUE(f->is_float());
    ASSERT_EQ(f->records().size(), recs.size());
    EXPECT_FALSE(f->pending());
    EXPECT_EQ(f->index().size(), recs.size());
    for (std::uint32_t i = 0; i < recs.size(); ++i) {
      auto v = f->view(i);
      ASSERT_TRUE(v.has_value()) << v.error().describe();
      auto got = all_values(*v);
      ASSERT_EQ(got.size(), recs[i].values.size());
      for (std::size_t k = 0; k < got.size(); ++k) {
        EXPECT_DOUBLE_EQ(got[k], expected_value(o, recs[i].spec, recs[i].values[k]));
        EXPECT_DOUBLE_EQ(v->at(k), got[k]);
      }
      if (variant == dump_variant::binary) {
        // A view into the mapping, not a copy.
        EXPECT_EQ(v->data, f->current_mapping()->bytes().data() + f->records()[i].payload_offset);
        EXPECT_EQ(v->owner, f->current_mapping());
      } else {
        EXPECT_TRUE(v->text);
      }
    }
    EXPECT_FALSE(f->view(99).has_value());
  }
}

TEST(DumpFile, StatisticsCountNonFiniteApart) {
  tensor_view v;
  auto values = std::make_shared<std::vector<float>>(
      std::vector<float>{1.0f, -3.0f, 0.0f, std::nanf(""), INFINITY, 4.0f, 0.0f, -INFINITY});
  v.text = values;
  v.elements = values->size();
  v.inner = v.inner_stride = v.elements;
  auto st = compute_stats(v);
  EXPECT_EQ(st.count, 8u);
  EXPECT_EQ(st.nans, 1u);
  EXPECT_EQ(st.infs, 2u);
  EXPECT_EQ(st.zeros, 2u);
  EXPECT_DOUBLE_EQ(st.min, -3.0);
  EXPECT_DOUBLE_EQ(st.max, 4.0);
  EXPECT_DOUBLE_EQ(st.mean, 0.4);
  double var =
      ((1 - 0.4) * (1 - 0.4) + (-3 - 0.4) * (-3 - 0.4) + 2 * 0.16 + (4 - 0.4) * (4 - 0.4)) / 5;
  EXPECT_NEAR(st.std, std::sqrt(var), 1e-12);
  tensor_view empty;
  empty.elements = 0;
  auto e = compute_stats(empty);
  EXPECT_EQ(e.count, 0u);
  EXPECT_EQ(e.mean, 0.0);
}

TEST(DumpFile, DequantizedAndPaddedViews) {
  temp_dir dir;
  writer_options o;
  o.is_float = false;
  std::string path = dir.file("q.bin");
  auto w = dump_writer::create(path, o);
  ASSERT_TRUE(w);
  auto s = spec("q", {2, 3}, dtype::s16, 0.25, -2);
  s.pad_inner_to = 4;
  std::vector<float> vals = {-1.0f, 0.0f, 0.25f, 1.0f, 2.0f, 3.0f};
  ASSERT_TRUE(w->write(s, vals));
  ASSERT_TRUE(w->close());
  auto f = dump_file::open(path);
  ASSERT_TRUE(f) << f.error().describe();
  ASSERT_EQ(f->records().size(), 1u);
  EXPECT_EQ(f->records()[0].fit, payload_fit::unpadded_inner);
  auto v = f->view(0);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->dequantize);
  EXPECT_FALSE(v->contiguous());
  EXPECT_EQ(all_values(*v), (std::vector<double>{-1.0, 0.0, 0.25, 1.0, 2.0, 3.0}));
  auto st = compute_stats(*v);
  EXPECT_DOUBLE_EQ(st.max, 3.0);
  EXPECT_EQ(st.zeros, 1u);
}

TEST(DumpFile, GrowsAsTheWriterAppends) {
  temp_dir dir;
  std::string path = dir.file("grow.bin");
  writer_options o;
  auto w = dump_writer::create(path, o);
  ASSERT_TRUE(w);
  auto recs = sample_records();
  auto f = dump_file::open(path);
  ASSERT_TRUE(f) << f.error().describe();
  EXPECT_TRUE(f->records().empty());
  EXPECT_FALSE(f->pending());

  ASSERT_TRUE(w->write(recs[0].spec, recs[0].values));
  auto st = f->refresh();
  ASSERT_TRUE(st) << st.error().describe();
  EXPECT_EQ(*st, dump_file::refresh_status::grew);
  ASSERT_EQ(f->records().size(), 1u);
  auto old_map = f->current_mapping();
  auto old_view = f->view(0);
  ASSERT_TRUE(old_view);

  // A record cut inside its payload: the file grew but nothing new is complete.
  std::string next = dump_writer::render(o, recs[1].spec, recs[1].values);
  const std::size_t cut = next.size() - 10;
  ASSERT_TRUE(w->append_bytes(next.substr(0, cut)));
  st = f->refresh();
  ASSERT_TRUE(st);
  EXPECT_EQ(*st, dump_file::refresh_status::unchanged);
  ASSERT_TRUE(f->pending());
  EXPECT_EQ(f->pending()->record, 1);
  EXPECT_EQ(f->pending()->name, "conv1/weights");
  EXPECT_EQ(f->parser().tail_error()->code, errc::bad_size);

  ASSERT_TRUE(w->append_bytes(next.substr(cut)));
  ASSERT_TRUE(w->write(recs[2].spec, recs[2].values));
  st = f->refresh();
  ASSERT_TRUE(st);
  EXPECT_EQ(*st, dump_file::refresh_status::grew);
  EXPECT_EQ(f->records().size(), 3u);
  EXPECT_FALSE(f->pending());
  EXPECT_NE(f->current_mapping(), old_map);
  // The old view still reads through the old mapping.
  EXPECT_EQ(all_values(*old_view)[1], static_cast<double>(recs[0].values[1]));
  EXPECT_EQ(f->index().find(f->records(), "conv1/bn_xx:0").size(), 1u);

  st = f->refresh();
  ASSERT_TRUE(st);
  EXPECT_EQ(*st, dump_file::refresh_status::unchanged);
}

// With records_per_feed, open() and each refresh() parse at most that many
// records of what is in the file, and more() says what is left; read to
// the end that way, the records are those of an unlimited open.
TEST(DumpFile, ParsesAtMostRecordsPerFeedAndGoesOnWhereItStopped) {
  temp_dir dir;
  for (auto variant : {dump_variant::binary, dump_variant::text}) {
    writer_options o;
    o.variant = variant;
    const std::string path = dir.file(variant == dump_variant::text ? "s.txt" : "s.bin");
    auto recs = sample_records();  // 4 records
    write_file(path, render_dump(o, recs));
    parse_options limited;
    limited.records_per_feed = 3;
    auto f = dump_file::open(path, limited);
    ASSERT_TRUE(f) << f.error().describe();
    EXPECT_EQ(f->records().size(), 3u);
    EXPECT_TRUE(f->more());
    EXPECT_FALSE(f->pending());
    auto st = f->refresh();
    ASSERT_TRUE(st) << st.error().describe();
    EXPECT_EQ(*st, dump_file::refresh_status::grew);
    EXPECT_EQ(f->records().size(), 4u);
    EXPECT_FALSE(f->more());
    // Appended: 4 more, read 3 and 1.
    std::string more;
    for (const auto& r : recs) more += dump_writer::render(o, r.spec, r.values);
    ASSERT_TRUE(append_file(path, more));
    st = f->refresh();
    ASSERT_TRUE(st);
    EXPECT_EQ(*st, dump_file::refresh_status::grew);
    EXPECT_EQ(f->records().size(), 7u);
    EXPECT_TRUE(f->more());
    st = f->refresh();
    ASSERT_TRUE(st);
    EXPECT_EQ(*st, dump_file::refresh_status::grew);
    EXPECT_FALSE(f->more());
    st = f->refresh();
    ASSERT_TRUE(st);
    EXPECT_EQ(*st, dump_file::refresh_status::unchanged);
    auto whole = dump_file::open(path);
    ASSERT_TRUE(whole);
    ASSERT_EQ(f->records().size(), whole->records().size());
    for (std::size_t i = 0; i < whole->records().size(); ++i) {
      EXPECT_EQ(f->records()[i].name, whole->records()[i].name) << i;
      EXPECT_EQ(f->records()[i].header_offset, whole->records()[i].header_offset) << i;
      EXPECT_EQ(f->records()[i].end_offset, whole->records()[i].end_offset) << i;
    }
    EXPECT_EQ(f->index().find(f->records(), "split#1").size(), 2u);
  }
}

// A grown copy of the records and index (made on another thread in the
// daemon) is taken only while records() still holds what was copied; taken,
// refreshes that fit in its room move no record, and the records and index
// are those of an unlimited open.
TEST(DumpFile, AdoptsAGrownCopyOnlyOfTheRecordsItHolds) {
  temp_dir dir;
  const std::string path = dir.file("s.bin");
  writer_options o;
  auto recs = sample_records();  // 4 records
  write_file(path, render_dump(o, recs));
  parse_options limited;
  limited.records_per_feed = 3;
  auto f = dump_file::open(path, limited);
  ASSERT_TRUE(f) << f.error().describe();
  auto room = f->grown_copy(64);
  EXPECT_GE(room.records.capacity(), 64u);
  ASSERT_EQ(room.records.size(), 3u);
  // records() grew since the copy: refused, nothing changed.
  ASSERT_TRUE(f->refresh());
  ASSERT_EQ(f->records().size(), 4u);
  EXPECT_FALSE(f->adopt(room));
  EXPECT_EQ(room.records.size(), 3u);
  EXPECT_EQ(f->records().size(), 4u);
  room = f->grown_copy(64);
  const record* before = f->records().data();
  ASSERT_TRUE(f->adopt(room));
  EXPECT_NE(f->records().data(), before);
  EXPECT_EQ(room.records.size(), 4u);  // the old ones
  const record* taken = f->records().data();
  std::string more;
  for (const auto& r : recs) more += dump_writer::render(o, r.spec, r.values);
  ASSERT_TRUE(append_file(path, more));
  while (f->records().size() < 8) {
    auto st = f->refresh();
    ASSERT_TRUE(st) << st.error().describe();
    ASSERT_NE(*st, dump_file::refresh_status::unchanged);
  }
  EXPECT_EQ(f->records().data(), taken);
  auto whole = dump_file::open(path);
  ASSERT_TRUE(whole);
  ASSERT_EQ(f->records().size(), whole->records().size());
  for (std::size_t i = 0; i < whole->records().size(); ++i) {
    EXPECT_EQ(f->records()[i].name, whole->records()[i].name) << i;
    EXPECT_EQ(f->records()[i].header_offset, whole->records()[i].header_offset) << i;
  }
  EXPECT_EQ(f->index().find(f->records(), "split#1").size(), 2u);
  EXPECT_EQ(f->index().size(), 8u);
}

TEST(DumpFile, ResetsOnTruncateReplaceAndNewFirstLine) {
  temp_dir dir;
  std::string path = dir.file("run.bin");
  auto recs = sample_records();
  writer_options o;
  write_file(path, render_dump(o, recs));
  auto f = dump_file::open(path);
  ASSERT_TRUE(f);
  ASSERT_EQ(f->records().size(), 4u);

  // Truncated and rewritten in place with fewer records (a new run).
  {
    auto w = dump_writer::create(path, o);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write(recs[3].spec, recs[3].values));
  }
  auto st = f->refresh();
  ASSERT_TRUE(st) << st.error().describe();
  EXPECT_EQ(*st, dump_file::refresh_status::reset);
  ASSERT_EQ(f->records().size(), 1u);
  EXPECT_EQ(f->records()[0].name, "split#1");
  EXPECT_TRUE(f->index().find(f->records(), "data").empty());
  EXPECT_EQ(f->index().find(f->records(), "split#1").size(), 1u);

  // Replaced through rename: a new inode.
  std::string tmp = dir.file("run.bin.tmp");
  write_file(tmp, render_dump(o, recs));
  std::filesystem::rename(tmp, path);
  st = f->refresh();
  ASSERT_TRUE(st);
  EXPECT_EQ(*st, dump_file::refresh_status::reset);
  EXPECT_EQ(f->records().size(), 4u);

  // Same inode, same size or larger, but the first line changed.
  std::string bytes = read_file(path);
  writer_options q = o;
  q.is_float = false;
  std::string quant = render_dump(q, recs);
  {
    FILE* fp = std::fopen(path.c_str(), "r+b");
    ASSERT_NE(fp, nullptr);
    std::fwrite(quant.data(), 1, quant.size(), fp);
    std::fclose(fp);
  }
  st = f->refresh();
  ASSERT_TRUE(st);
  EXPECT_EQ(*st, dump_file::refresh_status::reset);
  EXPECT_FALSE(f->is_float());
}

TEST(DumpFile, ErrorsNameTheFile) {
  temp_dir dir;
  auto missing = dump_file::open(dir.file("nope.bin"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, errc::io);
  EXPECT_NE(missing.error().describe().find("nope.bin"), std::string::npos);
  auto folder = dump_file::open(dir.path().string());
  ASSERT_FALSE(folder);
  std::string garbage = dir.file("garbage.bin");
  write_file(garbage, std::string("\x89PNG\r\n\x1a\n\0\0\0", 11));
  auto g = dump_file::open(garbage);
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().code, errc::not_a_dump);
  std::string empty = dir.file("empty.bin");
  write_file(empty, "");
  auto e = dump_file::open(empty);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->records().empty());
  ASSERT_TRUE(e->parser().tail_error());
  EXPECT_EQ(e->parser().tail_error()->code, errc::not_a_dump);
}

TEST(DumpFile, ViewOfATruncatedFileIsAnErrorNotACrash) {
  temp_dir dir;
  std::string path = dir.file("t.bin");
  writer_options o;
  auto recs = sample_records();
  recs[3].values = ramp(5000, 0, 1);
  recs[3].spec.shape = {1, 5000};
  write_file(path, render_dump(o, recs));
  auto f = dump_file::open(path);
  ASSERT_TRUE(f);
  ASSERT_EQ(f->records().size(), 4u);
  ASSERT_EQ(::truncate(path.c_str(), 100), 0);
  auto v = f->view(3);
  if (v) {
    // Kernel without MADV_POPULATE_READ: probe is optimistic.
    GTEST_SKIP() << "MADV_POPULATE_READ unsupported";
  }
  EXPECT_EQ(v.error().code, errc::io);
  auto st = f->refresh();
  ASSERT_TRUE(st);
  EXPECT_EQ(*st, dump_file::refresh_status::reset);
}

// Integer text (isFloat: 0) is read as integers: an S32 above 2^24 keeps
// its value (float32 would make 16777217 16777216), and a comparison sees
// the difference of one between the two files.
TEST(DumpFile, IntegerTextKeepsEveryInt32) {
  const std::string head =
      "isFloat: 0\n//out 0 s: 1.000000 z: 0 type: SGS_S32 name: acc bConstant:0 shape:[1, 4] "
      "dims:2\nop_out[0] CONV_2D = {\n//buffer data size: 16\n\n";
  const std::string bytes = head + "16777217, -16777219, 2147483647, -2147483648, \n};\n";
  auto p = parse_bytes(bytes);
  ASSERT_EQ(p.records.size(), 1u);
  EXPECT_EQ(p.variant, dump_variant::text);
  EXPECT_EQ(values_of(bytes, p.records[0], false, dump_variant::text),
            (std::vector<double>{16777217.0, -16777219.0, 2147483647.0, -2147483648.0}));
  // Dequantized with the record's scale and zero point, in double.
  const std::string scaled =
      "isFloat: 0\n//out 0 s: 0.500000 z: 1 type: SGS_S32 name: acc "
      "bConstant:0 shape:[2] dims:1\nop_out[0] CONV_2D = {\n"
      "//buffer data size: 8\n\n33554433, +3, \n};\n";
  auto ps = parse_bytes(scaled);
  ASSERT_EQ(ps.records.size(), 1u);
  EXPECT_EQ(values_of(scaled, ps.records[0], false, dump_variant::text),
            (std::vector<double>{16777216.0, 1.0}));
  // Text that is not all integers is read as floats, as before.
  const std::string floats = head + "1.5, 2, 3, 4, \n};\n";
  auto pf = parse_bytes(floats);
  ASSERT_EQ(pf.records.size(), 1u);
  EXPECT_EQ(values_of(floats, pf.records[0], false, dump_variant::text),
            (std::vector<double>{1.5, 2, 3, 4}));

  temp_dir dir;
  write_file(dir.file("a.txt"), bytes);
  write_file(dir.file("b.txt"), head + "16777216, -16777219, 2147483647, -2147483648, \n};\n");
  auto a = dump_file::open(dir.file("a.txt"));
  auto b = dump_file::open(dir.file("b.txt"));
  ASSERT_TRUE(a && b);
  auto r = compare_dumps(*a, *b, compare_options{});
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  ASSERT_EQ(r->layers.size(), 1u);
  EXPECT_EQ(r->layers[0].metrics.max_abs, 1.0);
  EXPECT_EQ(r->layers[0].metrics.mse, 0.25);
}

}  // namespace
}  // namespace sigdump::testing
