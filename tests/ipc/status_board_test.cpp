#include "sigdump/ipc/status_board.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <string>
#include <thread>

namespace {

using namespace sigdump::ipc;

// A segment name no other test (or test run) uses.
std::string unique_board_name() {
  static std::atomic<int> counter{0};
  return "/sigdump-board-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

board_pair_info pair_info(std::string name, std::string run) {
  board_pair_info p;
  p.name = std::move(name);
  p.run = std::move(run);
  p.sample = "/dumps/fixed.bin";
  p.benchmark = "/dumps/float.bin";
  p.state = board_state::live;
  return p;
}

board_layer make_layer(std::uint32_t i, bool suspect = false) {
  board_layer l;
  l.index = i;
  l.name = "conv" + std::to_string(i) + "/bn";
  l.mse = i * 0.5;
  l.cos = 1.0 - i * 0.001;
  l.rmse = i * 0.01;
  l.suspect = suspect;
  return l;
}

// Built with append: GCC 12 warns (-Wrestrict, falsely) on "lit" + std::string.
std::string run_layer_name(int run, std::uint32_t i) {
  std::string s = "run";
  s.append(std::to_string(run)).append("/layer").append(std::to_string(i));
  return s;
}

bool valid_utf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

TEST(StatusBoard, RoundTrip) {
  board_options opts;
  opts.pid = 4242;
  opts.started = 1764183000;
  opts.socket_path = "/tmp/x/sock";
  auto w = board_writer::create(unique_board_name(), opts);
  ASSERT_TRUE(w) << w.error().describe();
  ASSERT_TRUE(w->update_pair(pair_info("net", "r1")));
  for (std::uint32_t i = 0; i < 5; ++i) ASSERT_TRUE(w->update_layer("net", make_layer(i, i == 3)));
  w->set_clock(77);

  auto r = board_reader::open(w->name());
  ASSERT_TRUE(r) << r.error().describe();
  auto snap = r->snapshot();
  ASSERT_TRUE(snap) << snap.error().describe();
  EXPECT_EQ(snap->layout_version, board_layout_version);
  EXPECT_EQ(snap->pid, 4242u);
  EXPECT_EQ(snap->started, 1764183000u);
  EXPECT_EQ(snap->clock_tick, 77u);
  EXPECT_EQ(snap->socket_path, "/tmp/x/sock");
  EXPECT_EQ(snap->seq % 2, 0u);
  ASSERT_EQ(snap->pairs.size(), 1u);
  const auto& p = snap->pairs[0];
  EXPECT_EQ(p.info.name, "net");
  EXPECT_EQ(p.info.run, "r1");
  EXPECT_EQ(p.info.sample, "/dumps/fixed.bin");
  EXPECT_EQ(p.info.state, board_state::live);
  EXPECT_EQ(p.layers, 5u);
  EXPECT_EQ(p.suspect, 1u);
  ASSERT_TRUE(p.info.first_bad);
  EXPECT_EQ(p.info.first_bad->first, 3u);
  EXPECT_EQ(p.info.first_bad->second, "conv3/bn");
  EXPECT_DOUBLE_EQ(p.worst_cos, 1.0 - 4 * 0.001);
  EXPECT_DOUBLE_EQ(p.worst_rmse, 0.04);
  ASSERT_TRUE(p.latest);
  EXPECT_EQ(p.latest->index, 4u);
  ASSERT_EQ(p.table.size(), 5u);
  for (std::uint32_t i = 0; i < 5; ++i) {
    EXPECT_EQ(p.table[i].index, i);
    EXPECT_EQ(p.table[i].name, "conv" + std::to_string(i) + "/bn");
    EXPECT_DOUBLE_EQ(p.table[i].mse, i * 0.5);
    EXPECT_EQ(p.table[i].suspect, i == 3);
    EXPECT_FALSE(p.table[i].name_truncated);
  }
  // Without layers: same counts, no table.
  auto light = r->snapshot(false);
  ASSERT_TRUE(light);
  EXPECT_TRUE(light->pairs[0].table.empty());
  EXPECT_EQ(light->pairs[0].layers, 5u);
}

TEST(StatusBoard, ReplacedLayerIsCountedOnce) {
  auto w = board_writer::create(unique_board_name());
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->update_pair(pair_info("net", "r1")));
  ASSERT_TRUE(w->update_layer("net", make_layer(0, true)));
  ASSERT_TRUE(w->update_layer("net", make_layer(0, false)));
  auto snap = board_reader::open(w->name())->snapshot();
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->pairs[0].layers, 1u);
  EXPECT_EQ(snap->pairs[0].suspect, 0u);
}

TEST(StatusBoard, NewRunClearsTable) {
  auto w = board_writer::create(unique_board_name());
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->update_pair(pair_info("net", "r1")));
  for (std::uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(w->update_layer("net", make_layer(i, true)));
  ASSERT_TRUE(w->update_pair(pair_info("net", "r2")));
  ASSERT_TRUE(w->update_layer("net", make_layer(0)));
  auto snap = board_reader::open(w->name())->snapshot();
  ASSERT_TRUE(snap);
  const auto& p = snap->pairs[0];
  EXPECT_EQ(p.info.run, "r2");
  EXPECT_EQ(p.layers, 1u);
  EXPECT_EQ(p.suspect, 0u);
  EXPECT_FALSE(p.info.first_bad);
  ASSERT_EQ(p.table.size(), 1u);
}

TEST(StatusBoard, DaemonFirstBadOverridesDerived) {
  auto w = board_writer::create(unique_board_name());
  ASSERT_TRUE(w);
  auto info = pair_info("net", "r1");
  info.first_bad.emplace(7u, "conv7/bn");
  info.diagnosis = "jump at layer 7";
  ASSERT_TRUE(w->update_pair(info));
  ASSERT_TRUE(w->update_layer("net", make_layer(2, true)));
  auto snap = board_reader::open(w->name())->snapshot();
  ASSERT_TRUE(snap);
  ASSERT_TRUE(snap->pairs[0].info.first_bad);
  EXPECT_EQ(snap->pairs[0].info.first_bad->first, 7u);
  EXPECT_EQ(snap->pairs[0].info.diagnosis, "jump at layer 7");
}

TEST(StatusBoard, LongNamesAreTruncatedOnCharacterBoundaryAndFlagged) {
  auto w = board_writer::create(unique_board_name());
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->update_pair(pair_info("net", "r1")));
  board_layer l = make_layer(0);
  // 94 ASCII bytes then a 3-byte character that does not fit in 95 bytes.
  l.name = std::string(94, 'a') + "\xE5\x8D\xB7" + "tail";
  ASSERT_TRUE(w->update_layer("net", l));
  auto snap = board_reader::open(w->name())->snapshot();
  ASSERT_TRUE(snap);
  const auto& t = snap->pairs[0].table.at(0);
  EXPECT_TRUE(t.name_truncated);
  EXPECT_EQ(t.name, std::string(94, 'a'));
  EXPECT_TRUE(valid_utf8(t.name));
  EXPECT_TRUE(snap->pairs[0].truncated == false);  // pair strings were short
}

TEST(StatusBoard, IndexPastCapacityIsCountedNotStored) {
  board_options opts;
  opts.layer_capacity = 4;
  auto w = board_writer::create(unique_board_name(), opts);
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->update_pair(pair_info("net", "r1")));
  for (std::uint32_t i = 0; i < 6; ++i) ASSERT_TRUE(w->update_layer("net", make_layer(i)));
  auto snap = board_reader::open(w->name())->snapshot();
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->pairs[0].layers, 6u);
  EXPECT_EQ(snap->pairs[0].table.size(), 4u);
  EXPECT_TRUE(snap->pairs[0].layers_dropped);
  EXPECT_EQ(snap->pairs[0].latest->index, 5u);
}

TEST(StatusBoard, FullBoardAndUnknownPairAreErrors) {
  board_options opts;
  opts.pair_capacity = 2;
  auto w = board_writer::create(unique_board_name(), opts);
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->update_pair(pair_info("a", "r1")));
  ASSERT_TRUE(w->update_pair(pair_info("b", "r2")));
  EXPECT_FALSE(w->update_pair(pair_info("c", "r3")));
  EXPECT_EQ(w->update_layer("zzz", make_layer(0)).error().code, sigdump::errc::not_found);
  w->remove_pair("a");
  ASSERT_TRUE(w->update_pair(pair_info("c", "r3")));
  auto snap = board_reader::open(w->name())->snapshot();
  ASSERT_TRUE(snap);
  ASSERT_EQ(snap->pairs.size(), 2u);
  EXPECT_EQ(snap->pairs[0].info.name, "c");
  EXPECT_EQ(snap->pairs[1].info.name, "b");
}

TEST(StatusBoard, NewerLayoutVersionIsRefused) {
  auto w = board_writer::create(unique_board_name());
  ASSERT_TRUE(w);
  // Patch layout_version (offset 8) as a future daemon would write it.
  const std::string path = "/dev/shm" + w->name();
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) GTEST_SKIP() << "no /dev/shm file for the segment";
  const std::uint32_t v2 = 2;
  ASSERT_EQ(::pwrite(fd, &v2, sizeof v2, 8), static_cast<ssize_t>(sizeof v2));
  ::close(fd);
  auto r = board_reader::open(w->name());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, sigdump::errc::protocol);
  EXPECT_NE(r.error().message.find("layout version 2"), std::string::npos) << r.error().message;
}

TEST(StatusBoard, CapacitiesPastTheWritersBoundsAreRefused) {
  auto w = board_writer::create(unique_board_name());
  ASSERT_TRUE(w);
  // pair_capacity (offset 48) past what any writer creates: the sizes the
  // reader derives from it could wrap and point past the mapping.
  const std::string path = "/dev/shm" + w->name();
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const std::uint32_t huge = 0x80000000u;
  ASSERT_EQ(::pwrite(fd, &huge, sizeof huge, 48), static_cast<ssize_t>(sizeof huge));
  ::close(fd);
  auto r = board_reader::open(w->name());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("capacities are out of range"), std::string::npos)
      << r.error().message;
}

// Another user pre-created the daemon's board name: the daemon was left
// without a board and `sigdump top` showed the squatter's pairs. The reader
// refuses a segment of another uid; the writer moves to another name.
TEST(StatusBoard, ASquattedNameIsNeitherReadNorLeftWithoutABoard) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to act as two other uids";
  const std::string name = unique_board_name();
  const auto as_uid = [](uid_t uid, const std::function<int()>& body) {
    pid_t pid = ::fork();
    if (pid == 0) {
      if (::setresgid(uid, uid, uid) != 0 || ::setresuid(uid, uid, uid) != 0) ::_exit(90);
      ::_exit(body());
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  // The squatter: a segment under that name, readable and writable by all.
  ASSERT_EQ(as_uid(65534,
                   [&] {
                     int fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0666);
                     if (fd < 0 || ::fchmod(fd, 0666) != 0 || ::ftruncate(fd, 1 << 16) != 0) {
                       return 1;
                     }
                     return 0;
                   }),
            0);
  // The user's daemon and reader.
  const int got = as_uid(4242, [&] {
    auto theirs = board_reader::open(name);
    if (theirs) return 10;  // read the squatter's board
    if (theirs.error().message.find("owned by uid 65534") == std::string::npos) return 11;
    auto w = board_writer::create(name);
    if (!w) return 12;  // left without a board
    if (w->name() == name || w->name().rfind(name + "-", 0) != 0) return 13;
    auto mine = board_reader::open(w->name());
    return mine ? 0 : 14;
  });
  ::unlink(("/dev/shm" + name).c_str());
  EXPECT_EQ(got, 0);
}

TEST(StatusBoard, WriterRemovesSegmentAndReaderNotices) {
  std::string name;
  std::optional<board_reader> reader;
  {
    auto w = board_writer::create(unique_board_name());
    ASSERT_TRUE(w);
    name = w->name();
    auto r = board_reader::open(name);
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->replaced());
    reader.emplace(std::move(*r));
  }
  EXPECT_TRUE(reader->replaced());
  EXPECT_TRUE(reader->snapshot());  // the old mapping stays readable
  auto again = board_reader::open(name);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, sigdump::errc::not_found);
}

TEST(StatusBoard, NameFromSocketPathIsStableAndNormalized) {
  auto a = board_name_for_socket("/tmp/sigdump-1000/sock");
  EXPECT_EQ(a, board_name_for_socket("/tmp/./sigdump-1000//sock"));
  EXPECT_NE(a, board_name_for_socket("/tmp/sigdump-1001/sock"));
  const std::string prefix = "/sigdump-board-" + std::to_string(::getuid()) + "-";
  ASSERT_EQ(a.rfind(prefix, 0), 0u) << a;
  EXPECT_EQ(a.size(), prefix.size() + 16);
}

// A writer thread keeps rewriting a pair while a reader thread takes
// snapshots; every snapshot must be internally consistent. Run under TSan
// this also proves the seqlock copies are free of data races.
TEST(StatusBoard, ConcurrentWriterAndReaderSeeConsistentSnapshots) {
  board_options opts;
  opts.layer_capacity = 64;
  auto w = board_writer::create(unique_board_name(), opts);
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->update_pair(pair_info("net", "r0")));
  auto r = board_reader::open(w->name());
  ASSERT_TRUE(r);

  constexpr int runs = 60;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int run = 1; run <= runs; ++run) {
      (void)w->update_pair(pair_info("net", std::string("r").append(std::to_string(run))));
      for (std::uint32_t i = 0; i < 40; ++i) {
        board_layer l = make_layer(i);
        // Every field of a layer derives from the run: a torn copy mixes runs.
        l.mse = run;
        l.rmse = run;
        l.name = run_layer_name(run, i);
        (void)w->update_layer("net", l);
        w->set_clock(static_cast<std::uint64_t>(run) * 100 + i);
        // The daemon writes when layers land, not back to back; leave the
        // reader windows as it does (not a timing assertion).
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    }
    done = true;
  });
  int snapshots = 0;
  std::string failure;
  while (!done || snapshots < 10) {
    auto s = r->snapshot();
    if (!s) {
      failure = s.error().describe();
      break;
    }
    ++snapshots;
    ASSERT_EQ(s->pairs.size(), 1u);
    const auto& p = s->pairs[0];
    const int run = std::stoi(p.info.run.substr(1));
    if (p.layers != p.table.size()) failure = "count differs from table";
    for (const auto& l : p.table) {
      if (l.mse != run || l.rmse != run || l.name != run_layer_name(run, l.index)) {
        failure = "torn layer " + l.name + " in run " + p.info.run;
      }
    }
    if (!failure.empty()) break;
  }
  writer.join();
  EXPECT_TRUE(failure.empty()) << failure;
  EXPECT_GE(snapshots, 10);
}

}  // namespace
