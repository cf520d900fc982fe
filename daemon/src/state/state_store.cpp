#include "state/state_store.h"

#include <fcntl.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string_view>

#include "platform/log.h"
#include "platform/private_dir.h"
#include "sigdump/atomic_file.h"
#include "sigdump/ipc/unique_fd.h"
#include "sigdump/json_util.h"
#include "state/run_outcome.h"

namespace sigdump::daemon {

namespace {

namespace fs = std::filesystem;

std::unexpected<error> io_error(const std::string& file, const std::string& what) {
  return make_error(errc::io, file, no_record, no_offset, what + ": " + std::strerror(errno));
}

const char* rule_name(match_rule r) {
  switch (r) {
    case match_rule::exact: return "exact";
    case match_rule::sanitized: return "sanitized";
    case match_rule::name_map: return "name_map";
  }
  return "exact";
}

match_rule parse_rule(std::string_view s) {
  if (s == "sanitized") return match_rule::sanitized;
  if (s == "name_map") return match_rule::name_map;
  return match_rule::exact;
}

layout_choice parse_layout(std::string_view s) {
  for (auto l : {layout_choice::same, layout_choice::benchmark_nchw_to_nhwc,
                 layout_choice::benchmark_nhwc_to_nchw}) {
    if (s == layout_name(l)) return l;
  }
  return layout_choice::same;
}

// Doubles may have been written as null (NaN/Inf): read those back as NaN.
double get_double(simdjson::dom::object o, std::string_view k) {
  double d = 0;
  auto e = o[k];
  if (e.error()) return 0;
  if (e.is_null()) return std::numeric_limits<double>::quiet_NaN();
  if (e.get_double().get(d)) return 0;
  return d;
}
std::int64_t get_int(simdjson::dom::object o, std::string_view k, std::int64_t def = 0) {
  std::int64_t v = def;
  if (o[k].get_int64().get(v)) return def;
  return v;
}
std::uint64_t get_uint(simdjson::dom::object o, std::string_view k) {
  std::uint64_t v = 0;
  if (o[k].get_uint64().get(v)) return 0;
  return v;
}
std::string get_str(simdjson::dom::object o, std::string_view k) {
  std::string_view v;
  if (o[k].get_string().get(v)) return {};
  return std::string(v);
}

layer_result parse_layer(simdjson::dom::object o) {
  layer_result l;
  l.index = static_cast<std::uint32_t>(get_uint(o, "index"));
  l.sample_record = static_cast<std::uint32_t>(get_uint(o, "sample_record"));
  l.bench_record = get_int(o, "bench_record", -1);
  l.name = get_str(o, "name");
  l.benchmark_name = get_str(o, "benchmark_name");
  l.op = get_str(o, "op");
  simdjson::dom::array shape;
  if (!o["shape"].get_array().get(shape)) {
    for (auto d : shape) {
      std::int64_t v = 0;
      if (!d.get_int64().get(v)) l.shape.push_back(v);
    }
  }
  l.rule = parse_rule(get_str(o, "rule"));
  l.layout = parse_layout(get_str(o, "layout"));
  l.suspect = false;
  bool b = false;
  if (!o["suspect"].get_bool().get(b)) l.suspect = b;
  l.error = get_str(o, "error");
  auto& m = l.metrics;
  m.n = get_uint(o, "n");
  m.mse = get_double(o, "mse");
  m.cos = get_double(o, "cos");
  m.rmse = get_double(o, "rmse");
  m.max_abs = get_double(o, "max_abs");
  m.sqnr_db = get_double(o, "sqnr_db");
  m.rel_l2 = get_double(o, "rel_l2");
  m.sample_nan = get_uint(o, "sample_nan");
  m.sample_inf = get_uint(o, "sample_inf");
  m.bench_nan = get_uint(o, "bench_nan");
  m.bench_inf = get_uint(o, "bench_inf");
  return l;
}

void read_summary(simdjson::dom::object o, run_info& r) {
  simdjson::dom::object fb;
  if (!o["first_bad"].get_object().get(fb)) {
    first_bad_layer f;
    f.index = static_cast<std::uint32_t>(get_uint(fb, "index"));
    f.name = get_str(fb, "name");
    f.reason = get_str(fb, "reason");
    r.report.first_bad = std::move(f);
  } else if (!o["first_bad"].error()) {
    r.report.first_bad.reset();
  }
  simdjson::dom::object dg;
  if (!o["diagnosis"].get_object().get(dg)) read_diagnosis(dg, r.report.diagnosis);
}

void write_fingerprint(json_writer& w, const file_fingerprint& f) {
  w.key("file").begin_object();
  w.field("dev", f.dev);
  w.field("ino", f.ino);
  w.field("size", f.size);
  w.field("mtime_ns", f.mtime_ns);
  w.field("records", f.records);
  w.field("head_hash", f.head_hash);
  w.field("tail_hash", f.tail_hash);
  w.end_object();
}

file_fingerprint read_fingerprint(simdjson::dom::object o) {
  file_fingerprint f;
  simdjson::dom::object fo;
  if (o["file"].get_object().get(fo)) return f;
  f.dev = get_uint(fo, "dev");
  f.ino = get_uint(fo, "ino");
  f.size = get_uint(fo, "size");
  f.mtime_ns = get_int(fo, "mtime_ns");
  f.records = get_uint(fo, "records");
  f.head_hash = get_uint(fo, "head_hash");
  f.tail_hash = get_uint(fo, "tail_hash");
  return f;
}

void write_summary(json_writer& w, const run_info& r) {
  w.key("first_bad");
  write_first_bad(w, r.report.first_bad);
  w.key("diagnosis");
  write_diagnosis(w, r.report.diagnosis);
}

std::int64_t now_s() { return static_cast<std::int64_t>(::time(nullptr)); }

// Loads one run log; repairs a torn tail. Returns nullptr if it has no
// usable start line.
std::shared_ptr<run_info> load_log(const std::string& path, std::uint64_t number) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return nullptr;
  ipc::unique_fd owner(fd);
  std::string data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  struct stat st {};
  ::fstat(fd, &st);
  auto r = std::make_shared<run_info>();
  r->number = number;
  r->id = "r" + std::to_string(number);
  r->persisted = true;
  r->state = run_state::ended;
  bool have_start = false, have_end = false;
  simdjson::dom::parser parser;
  std::size_t pos = 0;
  std::size_t good_end = 0;
  while (pos < data.size()) {
    auto nl = data.find('\n', pos);
    if (nl == std::string::npos) break;  // torn last line: dropped below
    std::string_view line(data.data() + pos, nl - pos);
    std::size_t next = nl + 1;
    simdjson::dom::element doc;
    simdjson::dom::object o;
    if (parser.parse(line.data(), line.size()).get(doc) || doc.get_object().get(o)) {
      // A damaged line in the middle (should not happen: lines are one
      // write each); skip it, keep the rest.
      log(log_level::warning, path + ": skipping a damaged line at offset " + std::to_string(pos));
      pos = next;
      good_end = next;
      continue;
    }
    std::string t = get_str(o, "t");
    if (t == "start") {
      have_start = true;
      r->path = get_str(o, "path");
      r->pair = get_str(o, "pair");
      r->started = get_int(o, "started");
      r->start_reason = get_str(o, "reason");
      r->report.sample_path = get_str(o, "sample");
      r->report.benchmark_path = get_str(o, "benchmark");
      r->benchmark_run = get_str(o, "benchmark_run");
      r->report.thresholds.cos_min = get_double(o, "cos_min");
      r->report.thresholds.rmse_max = get_double(o, "rmse_max");
      r->records = get_uint(o, "records");
      r->bytes = get_uint(o, "bytes");
    } else if (t == "layer") {
      simdjson::dom::object lo;
      if (!o["layer"].get_object().get(lo)) r->report.layers.push_back(parse_layer(lo));
      read_summary(o, *r);
      // What the run had indexed by then: a log cut by a crash (no end
      // line) still tells how far the run got.
      r->records = std::max(r->records, get_uint(o, "records"));
      r->bytes = std::max(r->bytes, get_uint(o, "bytes"));
    } else if (t == "rebench") {
      // Compared again from the first record: the layers so far are void.
      r->report.layers.clear();
      r->report.coverage = coverage{};
      r->benchmark_run = get_str(o, "benchmark_run");
    } else if (t == "end") {
      have_end = true;
      r->ended = get_int(o, "ended");
      r->end_reason = get_str(o, "reason");
      r->records = get_uint(o, "records");
      r->bytes = get_uint(o, "bytes");
      std::string st_name = get_str(o, "state");
      r->state = st_name == "reset" ? run_state::reset : run_state::ended;
      r->content = r->state == run_state::ended ? read_fingerprint(o) : file_fingerprint{};
      read_summary(o, *r);
      read_run_outcome(o, *r);
    }
    pos = next;
    good_end = next;
  }
  if (good_end < data.size()) {
    log(log_level::notice, path + ": dropping a torn last line (" +
                               std::to_string(data.size() - good_end) + " bytes)");
    if (::ftruncate(fd, static_cast<off_t>(good_end)) != 0) {
      log(log_level::warning, path + ": cannot truncate the torn tail: " + std::strerror(errno));
    }
  }
  if (!have_start) return nullptr;
  if (!have_end) {
    // Cut by a crash: at least every record a layer was compared from.
    for (const auto& l : r->report.layers) {
      r->records = std::max<std::uint64_t>(r->records, std::uint64_t{l.sample_record} + 1);
    }
    r->end_reason = "restart";
    r->ended = st.st_mtime > 0 ? static_cast<std::int64_t>(st.st_mtime) : now_s();
  }
  std::sort(r->report.layers.begin(), r->report.layers.end(),
            [](const layer_result& a, const layer_result& b) { return a.index < b.index; });
  if (!r->pair.empty()) count_coverage(r->report);
  return r;
}

}  // namespace

std::string layer_record_json(const layer_result& l) {
  json_writer w;
  w.begin_object();
  w.field("index", l.index);
  w.field("sample_record", l.sample_record);
  w.field("bench_record", l.bench_record);
  w.field("name", l.name);
  w.field("benchmark_name", l.benchmark_name);
  w.field("op", l.op);
  w.key("shape").begin_array();
  for (auto d : l.shape) w.value(d);
  w.end_array();
  w.field("rule", rule_name(l.rule));
  w.field("layout", layout_name(l.layout));
  w.field("suspect", l.suspect);
  w.field("error", l.error);
  const auto& m = l.metrics;
  w.field("n", m.n);
  w.field("mse", m.mse);
  w.field("cos", m.cos);
  w.field("rmse", m.rmse);
  w.field("max_abs", m.max_abs);
  w.field("sqnr_db", m.sqnr_db);
  w.field("rel_l2", m.rel_l2);
  w.field("sample_nan", m.sample_nan);
  w.field("sample_inf", m.sample_inf);
  w.field("bench_nan", m.bench_nan);
  w.field("bench_inf", m.bench_inf);
  w.end_object();
  return w.take();
}

result<state_store> state_store::open(const std::string& dir) {
  if (auto r = ensure_private_dir(dir, "state folder"); !r) return std::unexpected(r.error());
  if (auto r = ensure_private_dir(dir + "/runs", "state folder's runs/"); !r) {
    return std::unexpected(r.error());
  }
  std::string test_fail;
  // A test hook (docs/protocol.md, "Test hooks"): said in the log, so a
  // stray variable in a service's environment shows.
  if (const char* f = std::getenv("SIGDUMP_STATE_TEST_FAIL"); f != nullptr && *f != '\0') {
    if (f[0] != '/') {
      log(log_level::err,
          std::string("SIGDUMP_STATE_TEST_FAIL='") + f + "': not an absolute path; ignored");
    } else {
      test_fail = f;
      log(log_level::notice, std::string("SIGDUMP_STATE_TEST_FAIL in effect: run log writes fail "
                                         "with ENOSPC while ") +
                                 f + " exists");
    }
  }
  return state_store(dir, std::move(test_fail));
}

result<std::uint64_t> state_store::load(std::map<std::uint64_t, std::shared_ptr<run_info>>& runs) {
  std::uint64_t next = 1;
  {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::uint64_t n = 0;
    if (!parser.load(dir_ + "/index.json").get(doc) && !doc["next_run"].get_uint64().get(n)) {
      next = std::max<std::uint64_t>(next, n);
    }
  }
  // Walked with the non-throwing increment: a folder that changes or fails
  // under us is an error reply, never an exception out of the daemon's start.
  std::error_code ec;
  for (fs::directory_iterator it(dir_ + "/runs", ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.size() < 9 || name[0] != 'r' || !name.ends_with(".ndjson")) continue;
    std::string_view digits(name.data() + 1, name.size() - 8);
    std::uint64_t number = 0;
    auto [end_of_number, parsed] =
        std::from_chars(digits.data(), digits.data() + digits.size(), number);
    if (digits.empty() || parsed != std::errc() || end_of_number != digits.data() + digits.size() ||
        number == std::numeric_limits<std::uint64_t>::max()) {
      // Not a run log of ours (a stray file, or a number no run can have).
      log(log_level::warning, it->path().string() + ": not a run log of this daemon, skipped");
      continue;
    }
    next = std::max(next, number + 1);
    auto r = load_log(it->path().string(), number);
    if (r) runs[number] = std::move(r);
  }
  if (ec) return io_error(dir_ + "/runs", "cannot list the run logs");
  return next;
}

namespace {

result<void> write_index_file(const std::string& dir, std::uint64_t next_run) {
  const std::string body = "{\"version\":1,\"next_run\":" + std::to_string(next_run) + "}\n";
  auto written = write_file_atomically(dir + "/index.json", body, mode_t{0600});
  if (!written) {
    return make_error(errc::io, dir + "/index.json", no_record, no_offset,
                      "cannot write the state index: " + written.error().message);
  }
  return {};
}

void log_index_error(const result<void>& w) {
  if (!w) log(log_level::err, w.error().describe());
}

}  // namespace

result<void> state_store::write_index(std::uint64_t next_run) {
  return write_index_file(dir_, next_run);
}

void state_store::attach(event_loop& loop,
                         std::map<std::uint64_t, std::shared_ptr<run_info>>& runs) {
  writer_->attach([&loop](std::function<void()> fn) { loop.post(std::move(fn)); },
                  [w = writer_.get(), &runs](std::uint64_t run) {
                    auto r = runs.find(run);
                    if (r != runs.end() && r->second) r->second->persisted = w->all_written(run);
                  });
}

void state_store::detach() { writer_->detach(); }

void state_store::write_index_later(std::uint64_t next_run) {
  // What write_index does, as a job that holds the folder's name rather
  // than this store (which may be moved while the job waits). Jobs run in
  // order: the last index written is the newest, and it is written before
  // the log of the run that took the number.
  writer_->later([dir = dir_, next_run] { log_index_error(write_index_file(dir, next_run)); });
}

void state_store::append(run_info& r, std::string line, bool ends) {
  // Behind lines still waiting, in order: a log is never written out of order.
  r.persisted = writer_->append(r.number, std::move(line), ends);
}

void state_store::retry() { writer_->retry(); }

void state_store::run_started(run_info& r) {
  json_writer w;
  w.begin_object();
  w.field("t", "start");
  w.field("run", r.id);
  w.field("path", r.path);
  w.field("pair", r.pair);
  w.field("started", r.started);
  w.field("reason", r.start_reason);
  w.field("sample", r.report.sample_path);
  w.field("benchmark", r.report.benchmark_path);
  w.field("benchmark_run", r.benchmark_run);
  w.field("cos_min", r.report.thresholds.cos_min);
  w.field("rmse_max", r.report.thresholds.rmse_max);
  w.field("records", r.records);
  w.field("bytes", r.bytes);
  w.end_object();
  append(r, w.take() + "\n");
}

void state_store::layer_added(run_info& r, const layer_result& l) {
  json_writer w;
  w.begin_object();
  w.field("t", "layer");
  w.key("layer").raw(layer_record_json(l));
  w.field("records", r.records);
  w.field("bytes", r.bytes);
  write_summary(w, r);
  w.end_object();
  append(r, w.take() + "\n");
}

void state_store::run_rebenched(run_info& r) {
  json_writer w;
  w.begin_object();
  w.field("t", "rebench");
  w.field("benchmark_run", r.benchmark_run);
  w.end_object();
  append(r, w.take() + "\n");
}

void state_store::run_ended(run_info& r) {
  // What the end line says, without the layers: a run with 10,000 layers
  // no benchmark layer matched lists them all, which takes milliseconds to
  // render, so the line is rendered on the store's thread.
  auto end = std::make_shared<run_info>();
  end->ended = r.ended;
  end->end_reason = r.end_reason;
  end->state = r.state;
  end->records = r.records;
  end->bytes = r.bytes;
  end->content = r.content;
  end->pair = r.pair;
  end->benchmark_run = r.benchmark_run;
  end->report.first_bad = r.report.first_bad;
  end->report.diagnosis = r.report.diagnosis;
  end->report.coverage = r.report.coverage;
  end->report.advice = r.report.advice;
  end->report.warnings = r.report.warnings;
  auto render = [end] {
    const run_info& e = *end;
    json_writer w;
    w.begin_object();
    w.field("t", "end");
    w.field("ended", e.ended);
    w.field("reason", e.end_reason);
    w.field("state", run_state_name(e.state));
    w.field("records", e.records);
    w.field("bytes", e.bytes);
    if (e.state == run_state::ended && e.content.known()) write_fingerprint(w, e.content);
    write_summary(w, e);
    if (!e.pair.empty()) write_run_outcome(w, e);
    w.end_object();
    return w.take() + "\n";
  };
  // Once written: synced and closed. Else that waits for retry().
  r.persisted = writer_->append_rendered(r.number, std::move(render), true);
}

void state_store::sync_all() { writer_->sync_all(); }

void state_store::remove(std::uint64_t run) { writer_->remove(run); }

}  // namespace sigdump::daemon
