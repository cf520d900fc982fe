// The run archive's record trailers and syncs: a trailer written after the
// last record is copied at run end and the copy synced (archive.json says
// so, also after a restart), a cut trailer is copied but never a cut
// record or header; and the same trailer through a real sigdumpd.
#include <gtest/gtest.h>

#include <cstdio>

#include "archive_support.h"

namespace sigdump::daemon::archive_tests {
namespace {

std::string index_text(const std::string& arch) { return read_file(arch + "/archive.json"); }

TEST_F(Archive, TrailerSeenAfterTheLastRecordIsCopiedAtRunEndThenSynced) {
  const std::string src = dir_.file("a_outtensor_dump.bin");
  auto w = dump_writer::create(src);
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->write(spec_of("l0", 3000), ramp(3000, 1.0f)));
  auto [last, trailer] = record_and_trailer("l1", 2.0f);
  ASSERT_TRUE(w->append_bytes(last));  // the writer's trailer comes with a later write
  auto a = open_archive();
  ASSERT_TRUE(a);
  run_info r;
  auto tf = track(src, r, 1);
  ASSERT_TRUE(copy_run(*a, r, *tf));
  EXPECT_EQ(a->find(1)->bytes, size_of(src));
  EXPECT_FALSE(a->find(1)->synced);  // live: nothing is synced yet
  EXPECT_NE(index_text(dir_.file("arch")).find("\"synced\":false"), std::string::npos);

  // The trailer arrives; no new record, so the tracker calls no grew().
  ASSERT_TRUE(w->append_bytes(trailer));
  ASSERT_TRUE(w->close());
  refresh(*tf);
  r.state = run_state::ended;
  r.end_reason = "closed";
  a->run_ended(r);
  EXPECT_FALSE(a->find(1)->synced);  // the final copy and sync run on the copier
  ASSERT_TRUE(run_until([&] { return a->idle(); }));
  auto info = a->find(1);
  ASSERT_TRUE(info);
  EXPECT_EQ(read_file(info->path), read_file(src));  // byte for byte, trailer included
  EXPECT_EQ(info->bytes, size_of(src));
  EXPECT_TRUE(info->synced);
  EXPECT_NE(index_text(dir_.file("arch")).find("\"synced\":true"), std::string::npos)
      << index_text(dir_.file("arch"));
  EXPECT_EQ(a->summary().copying, 0u);

  // Written to again after it looked finished: live, not synced any more,
  // and the new record follows the trailer in the copy.
  auto more = dump_writer::render({}, spec_of("l2", 100), ramp(100, 3.0f));
  std::FILE* f = std::fopen(src.c_str(), "ab");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fwrite(more.data(), 1, more.size(), f), more.size());
  std::fclose(f);
  refresh(*tf);
  r.state = run_state::live;
  r.end_reason.clear();
  a->grew(r, *tf);
  EXPECT_FALSE(a->find(1)->synced);
  ASSERT_TRUE(run_until([&] { return a->idle(); }));
  EXPECT_EQ(read_file(info->path), read_file(src));
  EXPECT_FALSE(a->find(1)->synced);
  r.state = run_state::ended;
  r.end_reason = "quiet";
  a->run_ended(r);
  ASSERT_TRUE(run_until([&] { return a->idle(); }));
  EXPECT_TRUE(a->find(1)->synced);
  a.reset();
  // A restarted daemon knows the copy was synced.
  auto b = open_archive();
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->find(1));
  EXPECT_TRUE(b->find(1)->synced);
}

TEST_F(Archive, CutTrailerIsCopiedButNeverACutRecordOrHeader) {
  auto a = open_archive();
  ASSERT_TRUE(a);
  // 1: blank lines and the third trailer form's size line, without its
  // newline when the run ends (quiet): not a record, so the copy still
  // equals the file.
  // 2: a record cut in its payload: pending, the copy stops before it.
  // 3: the start of a header line after the last record, the run's parser
  // gone (a replaced file): the bytes alone say it is no trailer.
  const std::string src1 = dir_.file("t1_outtensor_dump.bin");
  const std::string src2 = dir_.file("t2_outtensor_dump.bin");
  const std::string src3 = dir_.file("t3_outtensor_dump.bin");
  std::vector<run_info> runs(3);
  std::vector<std::shared_ptr<tracked_file>> files;
  const std::vector<std::string> srcs{src1, src2, src3};
  for (std::size_t i = 0; i < 3; ++i) {
    write_dump(srcs[i], 2, 3000, 1.0f);
    files.push_back(track(srcs[i], runs[i], i + 1));
    a->run_started(runs[i], *files[i]);
    a->grew(runs[i], *files[i]);
  }
  ASSERT_TRUE(run_until([&] { return a->idle(); }));
  const std::string next = dump_writer::render({}, spec_of("l9", 3000), ramp(3000, 9.0f));
  const std::vector<std::string> tails{"\n\n//buffer data size: 12000",
                                       next.substr(0, next.size() / 2), "//ou"};
  for (std::size_t i = 0; i < 3; ++i) {
    std::FILE* f = std::fopen(srcs[i].c_str(), "ab");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fwrite(tails[i].data(), 1, tails[i].size(), f), tails[i].size());
    std::fclose(f);
    if (i < 2) refresh(*files[i]);
  }
  EXPECT_FALSE(files[0]->file->pending());
  EXPECT_LT(files[0]->parsed, size_of(src1));  // the parser left the cut line alone
  EXPECT_TRUE(files[1]->file->pending());
  runs[2].file.reset();  // as after a replace: no parser state for this run
  for (std::size_t i = 0; i < 3; ++i) {
    runs[i].state = i == 2 ? run_state::reset : run_state::ended;
    runs[i].end_reason = i == 2 ? "replaced" : "quiet";
    a->run_ended(runs[i]);
  }
  ASSERT_TRUE(run_until([&] { return a->idle(); }));
  EXPECT_EQ(read_file(a->find(1)->path), read_file(src1));
  EXPECT_EQ(read_file(a->find(2)->path), read_file(src2).substr(0, files[1]->parsed));
  const std::string whole3 = read_file(src3);
  EXPECT_EQ(read_file(a->find(3)->path), whole3.substr(0, whole3.size() - 4));
  for (std::uint64_t n = 1; n <= 3; ++n) EXPECT_TRUE(a->find(n)->synced) << n;
  auto copy1 = a->open_copy(1);
  ASSERT_TRUE(copy1) << copy1.error().describe();
  EXPECT_EQ((*copy1)->file->records().size(), 2u);
}

TEST_F(ArchiveDaemon, TrailerWrittenAfterTheLastRecordIsInTheSyncedCopy) {
  auto d = start();
  auto w = dump_writer::create(dump());
  ASSERT_TRUE(w);
  wait_run_start(*d, "r1");
  ASSERT_TRUE(w->write(spec_of("net/l0", 4096), ramp(4096, 1.0f)));
  // The last record, its trailer held back until the daemon copied the rest.
  auto [last, trailer] = record_and_trailer("net/l1", 2.0f);
  ASSERT_TRUE(w->append_bytes(last));
  const std::uint64_t before_trailer = size_of(dump());
  ASSERT_TRUE(wait_until([&] { return size_of(copy(1)) == before_trailer; }))
      << d->proc().stderr_text();
  raw_client c(dir_.file("sock"));
  ASSERT_TRUE(c.connected());
  EXPECT_FALSE(synced(c, "r1"));
  ASSERT_TRUE(w->append_bytes(trailer));
  ASSERT_TRUE(w->close());
  ASSERT_TRUE(wait_until([&] { return synced(c, "r1"); }))
      << d->proc().stderr_text() << c.call("runs").raw;
  EXPECT_EQ(read_file(copy(1)), read_file(dump()));  // cmp-identical, trailer included
  // The index is written on its own thread, after the change it records.
  EXPECT_TRUE(wait_until([&] {
    return read_file(arch_ + "/archive.json").find("\"synced\":true") != std::string::npos;
  }));
}

}  // namespace
}  // namespace sigdump::daemon::archive_tests
