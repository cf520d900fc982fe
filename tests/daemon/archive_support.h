// Shared by the run archive's tests (archive_*_test.cpp): the archive class
// driven by hand the way the tracker drives it (fixture Archive), and a real
// sigdumpd with an archive folder (fixture ArchiveDaemon), with the writers
// and checks both kinds of test use.
#pragma once

#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "daemon_support.h"
#include "export/archive.h"
#include "ipc_test_client.h"

// Not in an anonymous namespace: every test file's TEST_F must see the same
// fixture class.
namespace sigdump::daemon::archive_tests {

using namespace std::chrono_literals;
using sigdump::testing::bin_path;
using sigdump::testing::ramp;
using sigdump::testing::raw_client;
using sigdump::testing::read_file;
using sigdump::testing::spec_of;
using sigdump::testing::temp_dir;
using sigdump::testing::test_daemon;
using sigdump::testing::wait_until;
namespace fs = std::filesystem;

inline std::uint64_t size_of(const std::string& p) {
  std::error_code ec;
  auto n = fs::file_size(p, ec);
  return ec ? 0 : static_cast<std::uint64_t>(n);
}

// The class, driven by hand the way the tracker drives it.
class Archive : public ::testing::Test {
 protected:
  void SetUp() override {
    auto l = make_event_loop(loop_kind::epoll);
    ASSERT_TRUE(l) << l.error().describe();
    loop_ = std::move(*l);
  }
  // A run starts and grows to tf's size; true once its copy is made.
  bool copy_run(archive& a, const run_info& r, const tracked_file& tf) {
    a.run_started(r, tf);
    a.grew(r, tf);
    return run_until([&] { return a.idle(); });
  }
  bool run_until(const std::function<bool()>& pred) {
    return testing::run_loop_until(*loop_, pred, 5ms);
  }
  std::unique_ptr<archive> open_archive(std::uint64_t max_bytes = 0) {
    archive_config c{dir_.file("arch"), max_bytes};
    auto a = archive::open(c, *loop_, state_);
    EXPECT_TRUE(a) << a.error().describe();
    return a ? std::move(*a) : nullptr;
  }
  // Opens path as the tracker does and starts run `number` on it.
  std::shared_ptr<tracked_file> track(const std::string& path, run_info& r, std::uint64_t number) {
    auto f = dump_file::open(path);
    EXPECT_TRUE(f) << f.error().describe();
    auto tf = std::make_shared<tracked_file>();
    tf->path = path;
    tf->file = std::make_unique<dump_file>(std::move(*f));
    tf->bytes = size_of(path);
    tf->parsed = tf->file->parser().resume_offset();
    tf->run = number;
    r.number = number;
    r.id = "r" + std::to_string(number);
    r.path = path;
    r.state = run_state::live;
    r.file = tf;
    return tf;
  }
  // The start most tests share: a dump of 4 records at sigma_, the archive,
  // and run r1 on the dump (parsed whole).
  std::shared_ptr<tracked_file> start_run(std::unique_ptr<archive>& a, run_info& r1) {
    write_dump(sigma_, 4, 2000, 1.0f);
    a = open_archive();
    return a ? track(sigma_, r1, 1) : nullptr;
  }
  void refresh(tracked_file& tf) {
    ASSERT_TRUE(tf.file->refresh());
    tf.bytes = size_of(tf.path);
    tf.parsed = tf.file->parser().resume_offset();
  }
  // A dump of `n` records of `elements` floats each, scaled by `scale`.
  static void write_dump(const std::string& path, int n, std::int64_t elements, float scale) {
    auto w = dump_writer::create(path);
    ASSERT_TRUE(w);
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(w->write(spec_of("l" + std::to_string(i), elements, i),
                           ramp(static_cast<std::size_t>(elements), scale)));
    }
  }

  temp_dir dir_;
  const std::string sigma_ = dir_.file("sigma_outtensor_dump.bin");
  std::unique_ptr<event_loop> loop_;
  daemon_state state_{1, ::getpid()};
};

// Bytes of one more simulator-style record ("\n};\n" trailer after the
// payload), split into the record proper and its trailer.
inline std::pair<std::string, std::string> record_and_trailer(const std::string& name,
                                                              float scale) {
  std::string rec = dump_writer::render({}, spec_of(name, 3000), ramp(3000, scale));
  const std::string trailer = "\n};\n";
  EXPECT_TRUE(rec.ends_with(trailer));
  return {rec.substr(0, rec.size() - trailer.size()), trailer};
}

// A real sigdumpd.

// The first `n` values of tensor `name` of `run`, and where they came from.
struct queried {
  std::vector<double> values;
  std::string source, error;
};
inline queried query(raw_client& c, const std::string& run, const std::string& name, int n) {
  auto m = c.call("tensor", R"({"run":")" + run + R"(","name":")" + name + R"(","values":[0,)" +
                                std::to_string(n) + "]}");
  queried q;
  q.error = m.error_code;
  if (!m.error_code.empty() || m.result.empty()) return q;
  simdjson::dom::parser p;
  simdjson::dom::element r;
  if (p.parse(m.result).get(r)) return q;
  std::string_view source;
  if (!r["source"].get_string().get(source)) q.source = std::string(source);
  simdjson::dom::array data;
  if (r["values"]["data"].get_array().get(data)) return q;
  for (simdjson::dom::element v : data) {
    double x = 0;
    if (!v.get_double().get(x)) q.values.push_back(x);
  }
  return q;
}

inline std::vector<double> expected_values(float scale, int n) {
  std::vector<double> out;
  for (float v : ramp(static_cast<std::size_t>(n), scale)) out.push_back(static_cast<double>(v));
  return out;
}

class ArchiveDaemon : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(dumps_); }
  std::string dump() const { return dumps_ + "/sigma_outtensor_dump.bin"; }
  std::string copy(int run) const {
    return arch_ + "/r" + std::to_string(run) + "-sigma_outtensor_dump.bin";
  }
  std::unique_ptr<test_daemon> start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--watch", dumps_, "--archive-dir", arch_};
    args.insert(args.end(), extra.begin(), extra.end());
    auto d = std::make_unique<test_daemon>(dir_, args, "");
    EXPECT_TRUE(d->wait_ready()) << d->proc().stderr_text();
    return d;
  }
  // The daemon must see the file empty (truncated) before it is written
  // again: a rewrite that outruns its looks is not a new run.
  static void wait_run_start(test_daemon& d, const std::string& run) {
    auto e = d.wait_event([&](const auto& ev) { return ev.event == "run_start" && ev.run == run; });
    ASSERT_EQ(e.run, run) << d.proc().stderr_text();
  }
  // Writes a whole run (closed at the end) and waits for its run_end.
  void write_run(test_daemon& d, const std::string& run, float scale, int layers = 4,
                 std::int64_t elements = 4096) {
    {
      auto w = dump_writer::create(dump());
      ASSERT_TRUE(w);
      wait_run_start(d, run);
      for (int i = 0; i < layers; ++i) {
        ASSERT_TRUE(w->write(spec_of("net/l" + std::to_string(i), elements, i),
                             ramp(static_cast<std::size_t>(elements), scale)));
      }
    }
    auto e = d.wait_event([&](const auto& ev) { return ev.event == "run_end" && ev.run == run; });
    ASSERT_EQ(e.run, run) << d.proc().stderr_text();
  }

  std::string listing() const {
    std::string out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(arch_, ec)) {
      out += e.path().filename().string() + " " + std::to_string(size_of(e.path().string())) + "\n";
    }
    return out;
  }

  // Whether `runs` says the copy of `run` is synced (its run ended, the
  // copy whole and flushed).
  static bool synced(raw_client& c, const std::string& run) {
    auto m = c.call("runs");
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    simdjson::dom::array list;
    if (p.parse(m.result).get(doc) || doc["runs"].get_array().get(list)) return false;
    for (simdjson::dom::element r : list) {
      std::string_view id;
      bool yes = false;
      if (!r["run"].get_string().get(id) && id == run &&
          !r["archive"]["synced"].get_bool().get(yes)) {
        return yes;
      }
    }
    return false;
  }
  // The "archive" object of status (params as given), as JSON text; "" when absent.
  static std::string status_archive(raw_client& c, const std::string& params = "{}") {
    auto m = c.call("status", params);
    simdjson::dom::parser p;
    simdjson::dom::element doc, a;
    if (p.parse(m.result).get(doc) || doc["archive"].get(a)) return {};
    return simdjson::minify(a);
  }

  temp_dir dir_;
  std::string dumps_ = dir_.file("dumps");
  std::string arch_ = dir_.file("arch");
};

}  // namespace sigdump::daemon::archive_tests
