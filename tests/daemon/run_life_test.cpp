// A dump file's life as runs, against a real sigdumpd under both event
// loops: a restart continues the runs of files that did not change, states
// and counts survive a restart or a crash, back-to-back rewrites give each
// run exactly one run_start and one run_end, and a run ends on the close of
// its own writer.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "pair_daemon_support.h"
#include "platform/open_writers.h"

namespace sigdump::testing {
namespace {

class RunLife : public PairDaemonTest {};

// Each restart used to start new runs (and archive new copies) for files
// that had not changed.
TEST_P(RunLife, RestartContinuesTheRunsOfUnchangedFiles) {
  write_dump(bench_, 6, 1.0f);
  write_dump(sample_, 6, 1.01f);
  std::map<std::string, listed_run> before;
  {
    auto d = start();
    ASSERT_TRUE(settled()) << d->proc().stderr_text();
    before = list_runs(dir_.file("sock"));
    stop(*d);
  }
  ASSERT_EQ(before.size(), 2u);
  ASSERT_EQ(count_files(arch_), 2u);
  ASSERT_EQ(count_files(dir_.file("state") + "/runs"), 2u);
  for (int restart = 0; restart < 2; ++restart) {
    auto d = start();
    ASSERT_TRUE(settled()) << d->proc().stderr_text();
    auto after = list_runs(dir_.file("sock"));
    EXPECT_EQ(count_events(d->events(), "run_start"), 0u) << read_file(d->events_path());
    EXPECT_EQ(after.size(), before.size());
    for (const auto& [id, r] : before) {
      ASSERT_TRUE(after.contains(id)) << id;
      EXPECT_EQ(after[id].state, "ended") << id;
      EXPECT_EQ(after[id].records, r.records) << id;
      EXPECT_EQ(after[id].layers, r.layers) << id;
    }
    EXPECT_EQ(count_files(arch_), 2u);
    EXPECT_EQ(count_files(dir_.file("state") + "/runs"), 2u);
    stop(*d);
  }
  // Changed content is a new run: the one that went on is reset.
  auto d = start();
  write_dump(sample_, 6, 2.0f);
  auto reset = d->wait_event(
      [&](const logged_event& e) { return e.event == "run_reset" && e.path == sample_; });
  ASSERT_EQ(reset.event, "run_reset") << d->proc().stderr_text() << read_file(d->events_path());
  EXPECT_TRUE(before.contains(reset.previous)) << reset.previous;
  auto end = d->wait_event(
      [&](const logged_event& e) { return e.event == "run_end" && e.run == reset.run; });
  EXPECT_EQ(end.event, "run_end");
}

// A file touched (same bytes, new mtime) is not known to be unchanged.
TEST_P(RunLife, RestartStartsANewRunForAFileThatChanged) {
  write_dump(bench_, 4, 1.0f);
  write_dump(sample_, 4, 1.01f);
  {
    auto d = start();
    ASSERT_TRUE(settled()) << d->proc().stderr_text();
    stop(*d);
  }
  // Same size, other bytes in the last record, mtime moved on.
  write_dump(sample_, 4, 1.02f);
  auto d = start();
  auto s = d->wait_event(
      [&](const logged_event& e) { return e.event == "run_start" && e.path == sample_; });
  EXPECT_EQ(s.reason, "started");
  ASSERT_TRUE(settled());
  EXPECT_EQ(count_files(arch_), 3u);
  // The benchmark did not change: its run went on.
  for (const auto& e : d->events()) EXPECT_FALSE(e.event == "run_start" && e.path == bench_);
}

// A run ended, then its file was rewritten: it is reset, also after a
// restart (it used to come back as "ended").
TEST_P(RunLife, ResetRunStaysResetAfterRestart) {
  write_dump(bench_, 4, 1.0f);
  std::string first;
  {
    auto d = start();
    write_dump(sample_, 4, 1.01f);
    auto e1 = d->wait_event(
        [&](const logged_event& e) { return e.event == "run_end" && e.path == sample_; });
    ASSERT_EQ(e1.event, "run_end") << d->proc().stderr_text();
    first = e1.run;
    write_dump(sample_, 4, 1.02f);
    auto reset = d->wait_event(
        [&](const logged_event& e) { return e.event == "run_reset" && e.previous == first; });
    ASSERT_EQ(reset.event, "run_reset");
    ASSERT_TRUE(wait_until([&] { return list_runs(dir_.file("sock"))[first].state == "reset"; }));
    stop(*d);
  }
  auto d = start();
  auto runs = list_runs(dir_.file("sock"));
  ASSERT_TRUE(runs.contains(first));
  EXPECT_EQ(runs[first].state, "reset");
  EXPECT_EQ(runs[first].layers, 4u);
}

// A run cut by a crash kept its layers but came back with 0 records.
TEST_P(RunLife, RunCutByACrashKeepsItsRecordCount) {
  write_dump(bench_, 8, 1.0f);
  auto w = dump_writer::create(sample_);
  ASSERT_TRUE(w);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(w->write(spec_of("net/l" + std::to_string(i), 256, i), ramp(256, 1.01f)));
  }
  std::string cut;
  {
    // The run is live when the daemon dies: its writer holds the file open,
    // and no quiet time ends it first (the fixture's 400 ms did when the
    // steps before the kill took that long on a loaded machine).
    test_daemon d(
        dir_, {"--watch", dumps_, "--pair", "p:" + sample_ + "=" + bench_, "--quiet-ms", "600000"},
        loop());
    ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
    auto l =
        d.wait_event([&](const logged_event& e) { return e.event == "layer" && e.index == 4; });
    ASSERT_EQ(l.event, "layer");
    cut = l.run;
    // The crash comes once its lines are on disk (they are written off the
    // loop, after the layer's event).
    EXPECT_TRUE(wait_until([&] {
      auto flags = persisted_runs(dir_.file("sock"));
      return flags.contains(cut) && flags[cut];
    }));
    d.proc().signal(SIGKILL);
    d.proc().wait();
  }
  test_daemon d(dir_, {"--watch", dumps_, "--pair", "p:" + sample_ + "=" + bench_}, loop());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  auto runs = list_runs(dir_.file("sock"));
  ASSERT_TRUE(runs.contains(cut));
  EXPECT_EQ(runs[cut].end_reason, "restart");
  EXPECT_EQ(runs[cut].records, 5u);
  EXPECT_EQ(runs[cut].layers, 5u);
}

// The simulator truncating and writing again at once, several times: each
// run has one run_start and then one run_end, and every run that was not
// cut short ends with all its layers.
TEST_P(RunLife, BackToBackRewritesGiveEachRunOneStartAndOneEnd) {
  constexpr int layers = 58;
  write_dump(bench_, layers, 1.0f);
  auto d = start();
  for (int round = 0; round < 10; ++round)
    write_dump(sample_, layers, 1.0f + 0.01f * static_cast<float>(round));
  ASSERT_TRUE(settled()) << d->proc().stderr_text();
  // A run is `ended` in `runs` before its run_end is out (that waits for
  // comparisons in flight and the benchmark-only count on a worker).
  wait_until(
      [&] {
        std::size_t s = 0, e = 0;
        for (const auto& ev : d->events()) {
          if (ev.path != sample_) continue;
          s += ev.event == "run_start";
          e += ev.event == "run_end";
        }
        return s > 0 && s == e;
      },
      std::chrono::seconds(60));
  const auto evs = d->events();
  const auto runs = told_runs(evs, sample_);
  ASSERT_FALSE(runs.empty());
  // Each run_end's coverage: the sample layers the run held, and those it
  // could not compare (a slow worker that reached a record after the next
  // writer had truncated the file finds other bytes: the layer stays
  // pending rather than take the next run's numbers).
  auto held_pending = ended_coverage(d->events_path());
  for (const auto& [run, r] : runs) {
    EXPECT_EQ(r.ends, 1) << run << " has no run_end\n" << read_file(d->events_path());
    if (r.end_reason == "closed" || r.end_reason == "quiet") {
      // Ended by its own writer's close (or quiet): it held every layer,
      // and compared each one it still could.
      const auto [held, pending] = held_pending[run];
      EXPECT_EQ(held, static_cast<std::uint64_t>(layers)) << run << " ended " << r.end_reason;
      EXPECT_EQ(r.layers + pending, static_cast<std::size_t>(layers))
          << run << " ended " << r.end_reason;
    }
  }
  EXPECT_EQ(runs.back().second.layers, static_cast<std::size_t>(layers));
  if (HasFailure()) {
    for (const auto& e : evs) {
      if (e.event != "layer") std::cerr << e.event << " " << e.run << " " << e.reason << "\n";
    }
  }
}

// The simulator runs again while the writer of its previous run has not
// closed the dump yet (a process still exiting): the next writer truncates
// it and writes its first layers, then the earlier writer closes. That close
// is of the earlier content: the new run used to end there, at its first
// layers (`subscribe --until-run-end` stopped with them; the rest came as
// run_revised). A run ends on the close of its own writer, with all its
// layers; also when the earlier writer closes first. The daemon is stopped
// while the writers take turns, so it cannot look in between.
TEST_P(RunLife, RunEndsOnTheCloseOfItsOwnWriter) {
  constexpr int layers = 12, first = 3;
  write_dump(bench_, layers, 1.0f);
  // Runs end by closes here, however long a writer pauses.
  auto d = start({"--quiet-ms", "600000"});
  const std::string since =
      raw_client(dir_.file("sock")).call("subscribe", R"({"pair":"p"})").clock;
  ASSERT_FALSE(since.empty());
  auto write_layers = [](dump_writer& w, int from, int to, float scale) {
    for (int i = from; i < to; ++i) {
      ASSERT_TRUE(w.write(spec_of("net/l" + std::to_string(i), 256, i), ramp(256, scale)));
    }
  };
  // The sample's live run once it holds n records, all compared (no
  // comparison holds the file, so no look waits for one); empty if none.
  auto live_run = [&](std::uint64_t n) {
    std::string id;
    wait_until([&] {
      id.clear();
      for (const auto& [run, r] : list_runs(dir_.file("sock"))) {
        if (r.state == "live" && r.records == n) id = run;
      }
      if (id.empty()) return false;
      for (const auto& e : d->events()) {
        if (e.event == "layer" && e.run == id && e.index == static_cast<std::int64_t>(n) - 1)
          return true;
      }
      return false;
    });
    return id;
  };
  // One turn, with the daemon stopped: the next writer truncates the dump
  // and writes its first layers; the earlier one closes before or after
  // that. Then a dump of its own in the folder: once its run started, the
  // daemon has read every event before it. The new run is live.
  auto turn = [&](dump_writer& earlier, bool close_first, float scale, int n) {
    std::optional<dump_writer> next;
    EXPECT_TRUE(stop_wholly(d->proc().pid()));
    if (close_first) {
      EXPECT_TRUE(earlier.close());
    }
    auto w = dump_writer::create(sample_);
    EXPECT_TRUE(w);
    if (!w) return next;
    write_layers(*w, 0, first, scale);
    if (!close_first) {
      EXPECT_TRUE(earlier.close());
    }
    const std::string mark = dumps_ + "/mark" + std::to_string(n) + "_outtensor_dump.bin";
    write_dump(mark, 1, 1.0f);
    EXPECT_TRUE(d->proc().signal(SIGCONT));
    const auto marked = d->wait_event(
        [&](const logged_event& e) { return e.event == "run_start" && e.path == mark; });
    EXPECT_EQ(marked.event, "run_start") << d->proc().stderr_text();
    next = std::move(*w);
    return next;
  };

  auto w0 = dump_writer::create(sample_);
  ASSERT_TRUE(w0);
  struct stat st {};
  ASSERT_EQ(::stat(sample_.c_str(), &st), 0);
  if (!kernel_grants_leases(dir_.file("lease-probe"))) {
    GTEST_SKIP() << "the kernel grants no file leases in " << dir_.file("")
                 << ": it cannot say who writes";
  }
  ASSERT_EQ(daemon::writers_of(sample_, st.st_dev, st.st_ino), daemon::open_writers::some);
  write_layers(*w0, 0, 6, 1.01f);
  ASSERT_FALSE(live_run(6).empty()) << read_file(d->events_path());

  // The earlier writer closes, then the next one truncates and writes.
  auto w1 = turn(*w0, true, 1.02f, 1);
  ASSERT_TRUE(w1);
  ASSERT_FALSE(live_run(first).empty()) << read_file(d->events_path());
  write_layers(*w1, first, layers, 1.02f);  // all its layers, still open
  ASSERT_FALSE(live_run(layers).empty()) << read_file(d->events_path());

  // The next writer truncates and writes before the earlier one closes.
  auto w2 = turn(*w1, false, 1.03f, 2);
  ASSERT_TRUE(w2);
  const std::string last = live_run(first);
  ASSERT_FALSE(last.empty()) << "the run ended on the earlier writer's close\n"
                             << read_file(d->events_path());
  write_layers(*w2, first, layers, 1.03f);
  ASSERT_TRUE(w2->close());
  const auto end =
      d->wait_event([&](const logged_event& e) { return e.event == "run_end" && e.run == last; });
  ASSERT_EQ(end.event, "run_end") << read_file(d->events_path());
  EXPECT_EQ(end.reason, "closed");

  const auto runs = told_runs(d->events(), sample_);
  ASSERT_EQ(runs.size(), 3u) << read_file(d->events_path());
  for (const auto& [run, r] : runs) {
    EXPECT_EQ(r.ends, 1) << run;
    // The earlier runs' content started over: seen as the file shorter
    // ("truncated"), or, when the next writer's first record was there
    // before the daemon looked, as that record written over ("rewritten").
    if (run == last) {
      EXPECT_EQ(r.end_reason, "closed") << run;
    } else {
      EXPECT_TRUE(r.end_reason == "truncated" || r.end_reason == "rewritten")
          << run << ": " << r.end_reason;
    }
  }
  EXPECT_EQ(runs.back().first, last);
  EXPECT_EQ(runs.back().second.layers, static_cast<std::size_t>(layers));

  // Followed live from before the first turn, the stream ends with that
  // run's end, all its layers before it.
  const auto sub = sigdump("subscribe", {"--pair", "p", "--since", since, "--until-run-end",
                                         "--json", "--no-reconnect"});
  EXPECT_TRUE(sub.exit_code == 0 || sub.exit_code == 1) << sub.err;
  std::size_t shown = 0;
  std::string last_line;
  for (const std::string& line : ndjson_lines_of(sub.out)) {
    if (line.find("\"event\":\"layer\"") != std::string::npos &&
        line.find("\"run\":\"" + last + "\"") != std::string::npos) {
      ++shown;
    }
    last_line = line;
  }
  EXPECT_EQ(shown, static_cast<std::size_t>(layers)) << sub.out;
  EXPECT_NE(last_line.find("\"event\":\"run_end\""), std::string::npos) << last_line;
  EXPECT_NE(last_line.find("\"run\":\"" + last + "\""), std::string::npos) << last_line;
}

// The writer truncates the file and writes it past what the daemon had read
// before the daemon looks again (it is stopped here; a busy loop, or a
// worker reading the file, keeps it from looking just as well). The last
// record it read is a constant weight, the same bytes in both contents:
// the records before it are not, and the new content is a new run.
TEST_P(RunLife, RewriteThatOutgrewWhatWasReadIsANewRun) {
  // Per layer its output, which differs from run to run, then a constant.
  auto write_layers = [](dump_writer& w, int layers, float scale) {
    for (int i = 0; i < layers; ++i) {
      const std::string name = "net/l" + std::to_string(i);
      ASSERT_TRUE(w.write(spec_of(name, 16, i), ramp(16, scale)));
      ASSERT_TRUE(w.write(spec_of(name + "/weights", 4, i), ramp(4, 1.0f)));
    }
  };
  {
    auto b = dump_writer::create(bench_);
    ASSERT_TRUE(b);
    write_layers(*b, 40, 1.0f);
    ASSERT_TRUE(b->close());
  }
  auto d = start();
  auto first = dump_writer::create(sample_);
  ASSERT_TRUE(first);
  write_layers(*first, 20, 1.01f);  // left open: its run is live
  ASSERT_TRUE(wait_until([&] {
    for (const auto& [id, r] : list_runs(dir_.file("sock"))) {
      if (r.state == "live" && r.records == 40) return true;
    }
    return false;
  })) << read_file(d->events_path());
  const auto started = d->wait_event(
      [&](const logged_event& e) { return e.event == "run_start" && e.path == sample_; });

  ASSERT_TRUE(d->proc().signal(SIGSTOP));
  auto second = dump_writer::create(sample_);  // the same file, truncated
  ASSERT_TRUE(second);
  write_layers(*second, 30, 1.02f);
  ASSERT_TRUE(d->proc().signal(SIGCONT));
  ASSERT_TRUE(second->close());
  ASSERT_TRUE(first->close());

  const auto reset = d->wait_event([&](const logged_event& e) {
    return e.event == "run_reset" && e.path == sample_ && e.previous == started.run;
  });
  ASSERT_EQ(reset.event, "run_reset") << read_file(d->events_path());
  EXPECT_EQ(reset.reason, "rewritten");
  const auto end = d->wait_event(
      [&](const logged_event& e) { return e.event == "run_end" && e.run == reset.run; });
  ASSERT_EQ(end.event, "run_end") << read_file(d->events_path());
  // Its layers are the new content's, all of them, as offline.
  const auto offline = offline_layers(sample_, bench_);
  std::vector<std::string> live;
  for (const auto& e : d->events()) {
    if (e.event == "layer" && e.run == reset.run) live.push_back(e.layer);
  }
  EXPECT_EQ(live, offline);
}

// A run whose run_end went out goes on when its file is appended to (the
// soak's writer closed after a layer, and the daemon took that close for
// the run's end): when it then ended again (closed here, replaced next) it
// got a second run_end. It ends once; its new outcome is a run_revised.
TEST_P(RunLife, RunAppendedToAfterItsRunEndEndsOnce) {
  constexpr int layers = 8;
  write_dump(bench_, layers, 1.0f);
  // The sample's first layer (the first bytes of the whole dump), then the rest.
  const std::string whole_path = dir_.file("whole.bin"), head_path = dir_.file("head.bin");
  write_dump(whole_path, layers, 1.01f);
  write_dump(head_path, 1, 1.01f);
  const std::string whole = read_file(whole_path);
  const std::string head = read_file(head_path);
  ASSERT_EQ(whole.compare(0, head.size(), head), 0);
  auto d = start();
  write_file(sample_, head);
  const auto first_end = d->wait_event(
      [&](const logged_event& e) { return e.event == "run_end" && e.path == sample_; },
      std::chrono::seconds(60));
  ASSERT_EQ(first_end.reason, "closed") << read_file(d->events_path());
  const std::string run = first_end.run;

  {
    std::ofstream out(sample_, std::ios::binary | std::ios::app);
    out << whole.substr(head.size());
    ASSERT_TRUE(out.flush());
  }
  const auto revised =
      d->wait_event([&](const logged_event& e) { return e.event == "run_revised" && e.run == run; },
                    std::chrono::seconds(60));
  EXPECT_EQ(revised.event, "run_revised") << read_file(d->events_path());

  // Replaced: the next run, to its end.
  write_dump(dir_.file("next.bin"), layers, 1.02f);
  fs::rename(dir_.file("next.bin"), sample_);
  const auto reset = d->wait_event(
      [&](const logged_event& e) { return e.event == "run_reset" && e.previous == run; },
      std::chrono::seconds(60));
  ASSERT_EQ(reset.event, "run_reset") << read_file(d->events_path());
  const auto next_end = d->wait_event(
      [&](const logged_event& e) { return e.event == "run_end" && e.run == reset.run; },
      std::chrono::seconds(60));
  ASSERT_EQ(next_end.event, "run_end") << read_file(d->events_path());

  std::size_t ends = 0, layer_events = 0;
  for (const auto& e : d->events()) {
    ends += e.event == "run_end" && e.run == run;
    layer_events += e.event == "layer" && e.run == run;
  }
  EXPECT_EQ(ends, 1u) << read_file(d->events_path());
  EXPECT_EQ(layer_events, static_cast<std::size_t>(layers));
  EXPECT_EQ(list_runs(dir_.file("sock"))[run].layers, static_cast<std::uint64_t>(layers));
}

// A run whose file stopped being readable (written over in place with
// bytes that do not parse: the daemon drops the file until it parses) ends
// at once, with the layers compared so far, though some of its records
// still waited for a benchmark that is being written: they can no longer
// be compared. It waited for the benchmark's end instead, and when the
// file's next run had started by then, forever: no run_end at all.
TEST_P(RunLife, RunWhoseFileIsDroppedEndsThoughRecordsWaitForTheBenchmark) {
  // The benchmark stays live (open, never quiet) with 3 of the sample's 6 layers.
  auto b = dump_writer::create(bench_);
  ASSERT_TRUE(b);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(b->write(spec_of("net/l" + std::to_string(i), 256, i), ramp(256, 1.0f)));
  }
  auto argv = args();
  argv.insert(argv.end(), {"--quiet-ms", "600000"});
  test_daemon d(dir_, argv, loop());
  ASSERT_TRUE(d.wait_ready()) << d.proc().stderr_text();
  auto s = dump_writer::create(sample_);
  ASSERT_TRUE(s);
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(s->write(spec_of("net/l" + std::to_string(i), 256, i), ramp(256, 1.01f)));
  }
  const auto third = d.wait_event(
      [&](const logged_event& e) {
        return e.event == "layer" && e.path == sample_ && e.index == 2;
      },
      std::chrono::seconds(60));
  ASSERT_EQ(third.event, "layer") << read_file(d.events_path());
  const std::string run = third.run;
  // The look that found layer 2 may have parsed only the first three
  // records: written over before a look parses them, the other three were
  // never part of the run, and none is lost (a daemon stopped before the
  // last three writes shows it).
  ASSERT_TRUE(wait_until([&] { return list_runs(dir_.file("sock"))[run].records == 6; },
                         std::chrono::seconds(60)))
      << read_file(d.events_path());

  // Written over in place, same size, with lines that are no dump.
  const auto size = fs::file_size(sample_);
  {
    std::string junk = "isFloat: 1\n";
    while (junk.size() < size) junk += "//out not a header line\n";
    junk.resize(size);
    std::fstream over(sample_, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(over.write(junk.data(), static_cast<std::streamsize>(junk.size())));
  }
  const auto end =
      d.wait_event([&](const logged_event& e) { return e.event == "run_end" && e.run == run; },
                   std::chrono::seconds(60));
  ASSERT_EQ(end.event, "run_end") << read_file(d.events_path()) << d.proc().stderr_text();
  // The 3 it never compared are lost (their file was written over before
  // the benchmark had them): the run is incomplete, not a pass.
  for (const auto& line : ndjson_lines(d.events_path())) {
    if (line.find("\"event\":\"run_end\"") == std::string::npos ||
        line.find("\"run\":\"" + run + "\"") == std::string::npos) {
      continue;
    }
    EXPECT_NE(line.find("\"pending\":0,\"lost\":3"), std::string::npos) << line;
    EXPECT_NE(line.find("\"verdict\":\"incomplete\""), std::string::npos) << line;
  }

  // The file parses again: its next run, to its end once both writers close.
  ASSERT_TRUE(s->close());
  write_dump(sample_, 3, 1.02f);
  const auto next = d.wait_event(
      [&](const logged_event& e) {
        return e.event == "run_start" && e.path == sample_ && e.run != run;
      },
      std::chrono::seconds(60));
  ASSERT_EQ(next.event, "run_start") << read_file(d.events_path());
  ASSERT_TRUE(b->close());
  const auto next_end =
      d.wait_event([&](const logged_event& e) { return e.event == "run_end" && e.run == next.run; },
                   std::chrono::seconds(60));
  ASSERT_EQ(next_end.event, "run_end") << read_file(d.events_path());
  std::size_t ends = 0, layers = 0;
  for (const auto& e : d.events()) {
    ends += e.event == "run_end" && e.run == run;
    layers += e.event == "layer" && e.run == run;
  }
  EXPECT_EQ(ends, 1u) << read_file(d.events_path());
  EXPECT_EQ(layers, 3u) << read_file(d.events_path());
}

INSTANTIATE_TEST_SUITE_P(Loops, RunLife, ::testing::Values("io_uring", "epoll"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
}  // namespace sigdump::testing
