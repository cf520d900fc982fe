#include "core/tracker.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>

#include "export/archive.h"
#include "platform/log.h"

namespace sigdump::daemon {

namespace {

// How long a file may sit still before a streamed record stops being
// followed every millisecond (its next write raises an inotify event).
constexpr std::int64_t follow_pause_ms = 100;

// Publishes run_start or run_reset (with the run it replaces) for r.
void publish_run_event(daemon_state& state, event_kind kind, const run_info& r,
                       const std::string& reason, const std::string& previous = {}) {
  daemon_event e;
  e.kind = kind;
  e.run = r.id;
  e.previous = previous;
  e.path = r.path;
  e.pair = r.pair;
  e.reason = reason;
  state.publish(e);
}

namespace fs = std::filesystem;

constexpr std::uint32_t dir_mask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_MODIFY |
                                   IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB |
                                   IN_ONLYDIR;

std::int64_t unix_now() { return static_cast<std::int64_t>(::time(nullptr)); }

std::string parent_of(const std::string& p) {
  auto slash = p.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return p.substr(0, slash);
}

std::string base_name(const std::string& p) {
  auto slash = p.find_last_of('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

bool is_dump_name(const std::string& name) {
  return name == "sigma_outtensor_dump.bin" || name.ends_with("_outtensor_dump.bin") ||
         name.ends_with("_outtensor_dump.txt");
}

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The nearest existing folder at or above p.
std::string nearest_existing(const std::string& p) {
  std::string cur = p;
  while (!is_dir(cur)) {
    if (cur == "/") return cur;
    cur = parent_of(cur);
  }
  return cur;
}

std::string trim(std::string s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// The parser reads header bytes straight from the mapping: a writer that
// truncates between our fstat and that read would raise SIGBUS. Run it
// under the guard; if the guard trips, the half-updated dump_file is thrown
// away and the file is opened again from scratch (a few bytes of the
// interrupted record may leak: no unwinding happens).
struct refresh_call {
  dump_file* file;
  result<dump_file::refresh_status>* out;
};
void run_refresh(void* p) {
  auto* c = static_cast<refresh_call*>(p);
  *c->out = c->file->refresh();
}
struct open_call {
  const std::string* path;
  std::optional<result<dump_file>>* out;
};
void run_open(void* p) {
  auto* c = static_cast<open_call*>(p);
  c->out->emplace(dump_file::open(*c->path));
}

std::int64_t mtime_of(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
         static_cast<std::int64_t>(st.st_mtim.tv_nsec);
}

// Where a waiting sample record stands against the benchmark as written so
// far: the record match_record picks now, and whether it is the ordinal-th
// candidate of its rule (not the "else the last" fallback).
struct probe_result {
  std::int64_t record = -1;
  match_rule rule = match_rule::exact;
  bool nth = false;
};

probe_result probe(const dump_file& bench, const record& sample, std::uint32_t ordinal,
                   const compare_options& options) {
  probe_result p;
  p.record = match_record(bench, sample, ordinal, options, &p.rule);
  if (p.record < 0) return p;
  const auto& recs = bench.records();
  const record& b = recs[static_cast<std::size_t>(p.record)];
  std::vector<std::uint32_t> candidates;
  if (p.rule == match_rule::exact) {
    candidates = bench.index().find(recs, sample.name);
  } else if (p.rule == match_rule::sanitized) {
    candidates = bench.index().find_sanitized(recs, sample.name);
  } else {
    const std::string& mapped = options.name_map.at(sample.name);
    candidates = b.name == mapped ? bench.index().find(recs, mapped)
                                  : bench.index().find_sanitized(recs, mapped);
  }
  std::uint32_t before = 0;
  for (std::uint32_t i : candidates) {
    if (i >= p.record) break;
    if (recs[i].kind == sample.kind && recs[i].port == sample.port) ++before;
  }
  p.nth = before == ordinal;
  return p;
}

result<dump_file> guarded_open(const std::string& path) {
  std::optional<result<dump_file>> out;
  open_call c{&path, &out};
  if (!guarded_read(&run_open, &c) || !out) {
    return make_error(errc::io, path, no_record, no_offset,
                      "the file shrank while its headers were read");
  }
  return std::move(*out);
}

}  // namespace

// A big sample record still being written whose benchmark record is known:
// the workers sum its chunks as their bytes land, and the layer's
// comparison takes the chunks done, waits for the ones running and computes
// the rest. Chunk sums are combined in chunk order, so the metrics equal
// those of a comparison of the finished file, provided the bytes summed
// are still the file's: a chunk that a truncation reached since (the
// writer started over, and may have written the record again before we
// looked) is summed again. Truncation sentinels, armed before the bytes
// are read, tell.
struct layer_stream {
  // Loop thread only.
  std::uint32_t record = 0;         // the index the cut record will get
  std::uint64_t header_offset = 0;  // where it starts
  std::string bench_path;
  std::uint64_t bench_run = 0;
  std::uint32_t bench_record = 0;
  std::uint64_t submitted = 0;  // chunks [0, submitted) were handed to the workers

  // Set before any chunk is handed out, then only read.
  std::uint64_t payload_offset = 0;  // sample payload's first byte in its file
  std::uint64_t elements = 0;
  std::uint64_t element_bytes = 0;
  tensor_view bench;

  // Shared with the workers.
  enum class slot : std::uint8_t { open, running, done, closed };
  std::mutex m;
  std::condition_variable cv;
  std::vector<slot> slots;
  chunk_sums_so_far sums;
  std::vector<std::optional<truncation_sentinel>> guards;  // per done chunk: its sample bytes
  std::optional<truncation_sentinel> bench_guard;          // the benchmark record's bytes

  std::uint64_t end_element(std::uint64_t k) const {
    return std::min((k + 1) * compare_chunk_elements(), elements);
  }
  // The sample byte just past chunk k.
  std::uint64_t chunk_end(std::uint64_t k) const {
    return payload_offset + end_element(k) * element_bytes;
  }
  // A worker takes chunk k unless it was taken or closed.
  bool claim(std::uint64_t k) {
    std::lock_guard lock(m);
    if (slots[k] != slot::open) return false;
    slots[k] = slot::running;
    return true;
  }
  // nullopt (the bytes vanished): left to the layer's comparison, which
  // reports the error itself if they are still gone.
  void complete(std::uint64_t k, std::optional<partial_sums> s,
                std::optional<truncation_sentinel> guard) {
    {
      std::lock_guard lock(m);
      sums[k] = s;
      guards[k] = std::move(guard);
      slots[k] = slot::done;
    }
    cv.notify_all();
  }
  // Closes the chunks nobody took (the layer's comparison sums them, on
  // every core), waits for the running ones (a worker is on each), and
  // returns those done whose bytes are still the file's; `discarded`
  // counts the others.
  chunk_sums_so_far finish(std::uint64_t& discarded) {
    std::unique_lock lock(m);
    for (slot& x : slots) {
      if (x == slot::open) x = slot::closed;
    }
    cv.wait(lock, [&] {
      return std::none_of(slots.begin(), slots.end(), [](slot x) { return x == slot::running; });
    });
    chunk_sums_so_far out = sums;
    const bool bench_kept = bench_guard && bench_guard->intact();
    for (std::uint64_t k = 0; k < out.size(); ++k) {
      if (!out[k]) continue;
      const bool kept = bench_kept && guards[k] && guards[k]->intact();
      if (!kept) {
        out[k].reset();
        ++discarded;
      }
    }
    return out;
  }
};

struct tracker::job {
  std::uint64_t run = 0;
  std::uint64_t seq = 0;  // the sample record's place in run_work::queue
  std::uint32_t sample_record = 0;
  std::uint32_t bench_record = 0;
  match_rule rule = match_rule::exact;
  file_lease sample, bench;
  layer_result result;
  std::uint64_t chunks_streamed = 0;   // chunks summed before the record was complete
  std::uint64_t chunks_discarded = 0;  // and summed again: a truncation had unmapped them
};

tracker::tracker(event_loop& loop, daemon_state& state, state_store* store, worker_pool& pool)
    : loop_(loop), state_(state), store_(store), pool_(pool) {}

tracker::~tracker() {
  *alive_ = false;
  if (inotify_watch_ != 0) loop_.unwatch(inotify_watch_);
  if (timer_ != 0) loop_.cancel_timer(timer_);
  if (follow_timer_ != 0) loop_.cancel_timer(follow_timer_);
}

std::int64_t tracker::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void tracker::set_options(const daemon_options& options) {
  quiet_ = options.quiet;
  poll_ = options.poll;
  keep_runs_ = options.keep_runs;
  state_.compare.thresholds = options.thresholds;
  // Workers already run one layer each; splitting a layer further would
  // only contend with them.
  state_.compare.threads = 1;
  base_specs_.clear();
  auto add = [&](const std::string& p, watched_path::kind k, const char* origin) {
    for (auto& s : base_specs_) {
      if (s.path == p) return;
    }
    base_specs_.push_back({p, k, origin});
  };
  const char* origin = options.config_path.empty() ? "command line" : "configuration";
  auto kind_of = [](const std::string& w) {
    struct stat st {};
    bool file = ::stat(w.c_str(), &st) == 0 ? S_ISREG(st.st_mode)
                                            : (w.ends_with(".bin") || w.ends_with(".txt"));
    return file ? watched_path::kind::file : watched_path::kind::dir;
  };
  for (const auto& w : options.watch) add(w, kind_of(w), origin);
  // A pair side is a dump file or a folder holding one (resolve_side).
  for (const auto& p : options.pairs) {
    add(p.sample, kind_of(p.sample), "pair");
    add(p.benchmark, kind_of(p.benchmark), "pair");
  }
  // Keep pair state of pairs that survive a reload.
  std::vector<pair_info> pairs;
  for (const auto& p : options.pairs) {
    pair_info info;
    info.name = p.name;
    info.sample = p.sample;
    info.benchmark = p.benchmark;
    for (const auto& old : state_.pairs) {
      if (old.name == p.name && old.sample == p.sample) info.run = old.run;
    }
    pairs.push_back(std::move(info));
  }
  state_.pairs = std::move(pairs);
  // DebugConfig.txt-added folders are re-discovered by the scan.
  specs_ = base_specs_;
  apply_archive_config(archive_, options.archive, loop_, state_);
}

result<void> tracker::start(const daemon_options& options) {
  set_options(options);
  inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_) {
    return make_error(errc::io, {}, no_record, no_offset,
                      std::string("inotify_init1 failed: ") + std::strerror(errno));
  }
  inotify_watch_ =
      loop_.watch_fd(inotify_.get(), true, false, [this](bool, bool, bool) { on_inotify(); });
  timer_ = loop_.add_timer(poll_, true, [this] { on_timer(); });
  rescan({});
  return {};
}

void tracker::reload(const daemon_options& options) {
  if (timer_ != 0 && options.poll != poll_) {
    loop_.cancel_timer(timer_);
    timer_ = loop_.add_timer(options.poll, true, [this] { on_timer(); });
  }
  set_options(options);
  rescan("reload");
  if (archive_) archive_->adopt_live_runs();  // archiving just turned on: copy live runs too
}

void tracker::rescan(const std::string& reason) {
  if (stopped_) return;
  resolve_watches();
  std::vector<std::string> paths;
  for (const auto& [p, f] : state_.files) paths.push_back(p);
  for (const auto& p : paths) check_path(p);
  for (auto& p : state_.pairs) try_match(p);
  if (!reason.empty()) {
    daemon_event e;
    e.kind = event_kind::resync;
    e.reason = reason;
    state_.publish(e);
  }
}

bool tracker::is_watched_dir(const std::string& dir) const {
  return std::any_of(specs_.begin(), specs_.end(), [&](const spec& s) {
    return s.kind == watched_path::kind::dir && s.path == dir;
  });
}

bool tracker::is_file_spec(const std::string& path) const {
  return std::any_of(specs_.begin(), specs_.end(), [&](const spec& s) {
    return s.kind == watched_path::kind::file && s.path == path;
  });
}

void tracker::add_dir_watch(const std::string& dir, std::set<int>& keep) {
  int wd = ::inotify_add_watch(inotify_.get(), dir.c_str(), dir_mask);
  if (wd < 0) {
    log(log_level::warning, "cannot watch " + dir + ": " + std::strerror(errno));
    return;
  }
  wd_dirs_[wd] = dir;
  keep.insert(wd);
}

void tracker::resolve_watches() {
  if (!inotify_) return;
  std::set<int> keep;
  // Scanning a folder can add DebugConfig.txt folders: loop until stable.
  for (std::size_t done = 0; done < specs_.size(); ++done) {
    spec s = specs_[done];
    if (s.kind == watched_path::kind::dir && is_dir(s.path)) {
      add_dir_watch(s.path, keep);
      scan_dir(s.path);
    } else if (s.kind == watched_path::kind::dir) {
      add_dir_watch(nearest_existing(s.path), keep);
    } else {
      add_dir_watch(nearest_existing(parent_of(s.path)), keep);
      check_path(s.path);
    }
  }
  for (auto it = wd_dirs_.begin(); it != wd_dirs_.end();) {
    if (!keep.contains(it->first)) {
      ::inotify_rm_watch(inotify_.get(), it->first);
      it = wd_dirs_.erase(it);
    } else {
      ++it;
    }
  }
  state_.watched.clear();
  for (const auto& s : specs_) {
    struct stat st {};
    bool exists = ::stat(s.path.c_str(), &st) == 0;
    state_.watched.push_back({s.path, s.kind, exists, s.origin});
  }
}

void tracker::scan_dir(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    std::string full = dir + "/" + name;
    if (name == "DebugConfig.txt") {
      read_debug_config(full);
      continue;
    }
    std::error_code ec2;
    if (entry.is_regular_file(ec2)) check_file(full, false, false);
  }
}

void tracker::read_debug_config(const std::string& file) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.rfind("path=", 0) != 0) continue;
    std::string p = trim(line.substr(5));
    if (p.empty()) continue;
    if (p[0] != '/') p = parent_of(file) + "/" + p;
    p = normalize_path(p);
    bool known =
        std::any_of(specs_.begin(), specs_.end(), [&](const spec& s) { return s.path == p; });
    if (!known) {
      log(log_level::info, file + " adds " + p);
      specs_.push_back({p, watched_path::kind::dir, file});
    }
  }
}

void tracker::on_inotify() {
  alignas(inotify_event) char buf[16384];
  bool overflow = false;
  bool structure = false;
  std::vector<std::pair<std::string, std::uint32_t>> cues;
  for (;;) {
    ssize_t n = ::read(inotify_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<inotify_event*>(p);
      p += sizeof(inotify_event) + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) {
        overflow = true;
        continue;
      }
      auto it = wd_dirs_.find(ev->wd);
      if (it == wd_dirs_.end()) continue;
      if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
        structure = true;
        continue;
      }
      if (ev->len == 0) continue;
      std::string name(ev->name);
      std::string full = it->second + "/" + name;
      if (ev->mask & IN_ISDIR) {
        structure = true;
        continue;
      }
      if (name == "DebugConfig.txt" && is_watched_dir(it->second)) structure = true;
      cues.emplace_back(std::move(full), ev->mask);
    }
  }
  if (overflow) {
    log(log_level::notice, "inotify queue overflowed: rescanning everything");
    rescan("inotify_overflow");
    return;
  }
  if (structure) resolve_watches();
  // A write after a close in the same batch: the file may have been
  // rewritten in place before we looked (check_file's "rewritten" rule).
  std::set<std::string> closed_paths, after_close;
  for (const auto& [path, mask] : cues) {
    if ((mask & IN_MODIFY) && closed_paths.contains(path)) after_close.insert(path);
    if (mask & IN_CLOSE_WRITE) closed_paths.insert(path);
  }
  // IN_MODIFY is only a cue to look again; merged events carry no count.
  for (const auto& [path, mask] : cues) {
    if (!is_watched_dir(parent_of(path)) && !is_file_spec(path) && !state_.files.contains(path))
      continue;
    check_file(path, (mask & (IN_CREATE | IN_MOVED_TO)) != 0, (mask & IN_CLOSE_WRITE) != 0,
               after_close.contains(path));
  }
}

void tracker::on_timer() {
  if (stopped_) return;
  // Writes through mmap raise no inotify event: look at every file.
  std::vector<std::string> paths;
  for (const auto& [p, f] : state_.files) paths.push_back(p);
  for (const auto& p : paths) check_file(p, false, false);
  const auto now = now_ms();
  for (const auto& p : paths) {
    auto it = state_.files.find(p);
    if (it == state_.files.end()) continue;
    tracked_file& tf = *it->second;
    if (tf.state != run_state::live || tf.run == 0) continue;
    if (now - tf.last_change_ms < quiet_.count()) continue;
    tf.state = run_state::ended;
    for (const auto& r : runs_of(tf)) {
      if (r->state == run_state::live) end_run(*r, run_state::ended, "quiet");
    }
  }
}

void tracker::check_path(const std::string& path) { check_file(path, false, false); }

bool tracker::looks_like_dump(const std::string& path, const struct stat& st) {
  if (is_dump_name(base_name(path)) || is_file_spec(path)) return true;
  auto nd = not_dumps_.find(path);
  if (nd != not_dumps_.end() && nd->second.first == st.st_ino && nd->second.second == st.st_size)
    return false;
  // Any other file may turn out to be a dump: sniff its first bytes.
  char head[16] = {};
  ssize_t n = -1;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0) {
    n = ::pread(fd, head, sizeof head, 0);
    ::close(fd);
  }
  std::string_view h(head, n > 0 ? static_cast<std::size_t>(n) : 0);
  bool yes = h.starts_with("isFloat:") || h.starts_with("//out ") || h.starts_with("//in ");
  if (!yes) not_dumps_[path] = {st.st_ino, st.st_size};
  return yes;
}

void tracker::check_file(const std::string& path, bool created, bool closed,
                         bool written_after_close) {
  if (stopped_) return;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (state_.files.contains(path)) file_gone(path);
    return;
  }
  if (!S_ISREG(st.st_mode)) return;
  auto it = state_.files.find(path);
  if (it == state_.files.end()) {
    if (!looks_like_dump(path, st)) return;
    track_new(path, st, created);
    if (closed) check_file(path, false, true);
    return;
  }
  auto tfp = it->second;
  tracked_file& tf = *tfp;
  if (tf.readers.load() > 0) {
    // A worker reads this file: its records must not move. on_result
    // looks again when the lease is released.
    tf.refresh_wanted = true;
    tf.close_seen = tf.close_seen || closed;
    return;
  }
  tf.refresh_wanted = false;
  closed = closed || tf.close_seen;
  tf.close_seen = false;
  const auto size = static_cast<std::uint64_t>(st.st_size);
  const file_identity id{st.st_dev, st.st_ino};
  std::string reason;
  if (id != tf.file->current_mapping()->identity()) {
    reason = "replaced";
  } else if (size < tf.file->parser().resume_offset()) {
    reason = "truncated";
  } else {
    reason = "rewritten";
  }
  if (!tf.failed.empty() && reason == "rewritten" && size >= tf.bytes) {
    tf.bytes = size;
    return;  // still the malformed run: nothing new to learn
  }
  // Same inode and size but a newer mtime once the run has ended: written
  // again in place, maybe byte for byte (nothing else would show it). Acted
  // on when the writer closes it, or when a second look sees the same mtime:
  // a stat between an append's mtime update and its size update must not
  // count. Reads do not change mtime; a touch does.
  const std::int64_t mtime = mtime_of(st);
  bool in_place = false;
  if (reason == "rewritten" && size == tf.bytes && tf.mtime_ns != 0 && mtime != tf.mtime_ns &&
      (tf.state != run_state::live || written_after_close)) {
    if (!closed && tf.rewrite_mtime_ns != mtime) {
      tf.rewrite_mtime_ns = mtime;
      return;
    }
    in_place = true;
  }
  const std::size_t before = tf.file->records().size();
  result<dump_file::refresh_status> status = dump_file::refresh_status::unchanged;
  if (in_place) {
    auto fresh = guarded_open(path);
    if (!fresh) {
      log(log_level::notice, path + ": " + fresh.error().message + "; looking again later");
      file_gone(path, reason);
      return;
    }
    *tf.file = std::move(*fresh);
    status = dump_file::refresh_status::reset;
  } else {
    refresh_call call{tf.file.get(), &status};
    // libdump guards its own reads now: a file that shrank mid-read comes
    // back as errc::truncated (this outer guard stays as a second net).
    if (!guarded_read(&run_refresh, &call) || (!status && status.error().code == errc::truncated)) {
      // Do not trust the half-updated reader: start over, or drop the file
      // until it settles (the next look tracks it as a new run).
      if (reason == "rewritten") reason = "truncated";
      auto fresh = guarded_open(path);
      if (!fresh) {
        log(log_level::notice, path + ": " + fresh.error().message + "; looking again later");
        file_gone(path, reason);
        return;
      }
      *tf.file = std::move(*fresh);
      tf.failed.clear();
      status = dump_file::refresh_status::reset;
    }
  }
  bool reset = false;
  if (!status) {
    // A hard parse error on growth can also mean the file was rewritten in
    // place with the same first line: try it from scratch once.
    auto fresh = guarded_open(path);
    if (fresh && (tf.failed.empty() || reason != "rewritten")) {
      *tf.file = std::move(*fresh);
      reset = true;
      if (reason == "rewritten" && tf.failed.empty()) reason = "rewritten";
    } else {
      if (tf.failed.empty()) {
        tf.failed = status.error().describe();
        log(log_level::warning, "sigdump: error: " + tf.failed);
      }
      tf.bytes = size;
      return;
    }
  } else if (*status == dump_file::refresh_status::reset) {
    reset = true;
  }
  const std::uint64_t prev_bytes = tf.bytes;
  tf.bytes = size;
  tf.parsed = tf.file->parser().resume_offset();
  tf.mtime_ns = mtime;
  tf.rewrite_mtime_ns = 0;
  if (reset) {
    tf.failed.clear();
    const auto old_runs = runs_of(tf);
    for (const auto& old : old_runs) {
      if (old->state == run_state::live) {
        end_run(*old, run_state::reset, reason);
      } else {
        old->state = run_state::reset;
      }
      old->file.reset();
    }
    for (const auto& r : start_runs(tf, reason)) {
      // The run it replaces: the old run of the same pair.
      std::string previous;
      for (const auto& old : old_runs) {
        if (old->pair == r->pair) previous = old->id;
      }
      if (previous.empty() && !old_runs.empty()) previous = old_runs.front()->id;
      publish_run_event(state_, event_kind::run_reset, *r, reason, previous);
      publish_run_event(state_, event_kind::run_start, *r, reason);
    }
    tf.last_change_ms = now_ms();
    after_growth(tf, 0);
  } else if (tf.file->records().size() > before) {
    tf.last_change_ms = now_ms();
    if (tf.state != run_state::live) {
      // Appended to after it looked finished: the same run goes on.
      tf.state = run_state::live;
      for (const auto& r : runs_of(tf)) {
        if (r->state != run_state::ended) continue;
        r->state = run_state::live;
        r->end_reason.clear();
        r->ended = 0;
        if (auto w = work_.find(r->number); w != work_.end()) w->second.end_reason.clear();
      }
    }
    after_growth(tf, before);
  } else if (prev_bytes != size) {
    tf.last_change_ms = now_ms();  // a partial record arrived: not quiet yet
  }
  if (closed && tf.state == run_state::live) {
    tf.state = run_state::ended;
    for (const auto& r : runs_of(tf)) {
      if (r->state == run_state::live) end_run(*r, run_state::ended, "closed");
    }
  }
  stream_pending(tf);
}

void tracker::track_new(const std::string& path, const struct stat& st, bool created) {
  auto f = guarded_open(path);
  if (!f) {
    if (f.error().code == errc::not_a_dump && !is_dump_name(base_name(path)) &&
        !is_file_spec(path)) {
      not_dumps_[path] = {st.st_ino, st.st_size};
      return;
    }
    // A dump-named file that cannot be parsed yet: remember the identity
    // and size so it is retried only once it changes.
    auto nd = not_dumps_.find(path);
    if (nd == not_dumps_.end() || nd->second.first != st.st_ino ||
        nd->second.second != st.st_size) {
      log(log_level::warning, "sigdump: error: " + f.error().describe());
    }
    not_dumps_[path] = {st.st_ino, st.st_size};
    return;
  }
  not_dumps_.erase(path);
  auto tf = std::make_shared<tracked_file>();
  tf->path = path;
  tf->file = std::make_unique<dump_file>(std::move(*f));
  tf->bytes = static_cast<std::uint64_t>(st.st_size);
  tf->parsed = tf->file->parser().resume_offset();
  tf->last_change_ms = now_ms();
  tf->mtime_ns = mtime_of(st);
  state_.files[path] = tf;
  const std::string reason = created ? "created" : "started";
  for (const auto& r : start_runs(*tf, reason)) {
    publish_run_event(state_, event_kind::run_start, *r, reason);
  }
  after_growth(*tf, 0);
}

void tracker::file_gone(const std::string& path, const std::string& reason) {
  auto it = state_.files.find(path);
  if (it == state_.files.end()) return;
  auto tf = it->second;
  state_.files.erase(it);
  for (const auto& r : runs_of(*tf)) {
    if (r->state == run_state::live) end_run(*r, run_state::ended, reason);
    r->file.reset();
  }
  // Samples waiting on it as their benchmark need not wait for its end.
  benchmark_changed(path);
}

std::string tracker::resolve_side(const std::string& side) {
  if (state_.files.contains(side)) return side;
  if (!is_dir(side)) return {};
  const std::string preferred = side + "/sigma_outtensor_dump.bin";
  if (state_.files.contains(preferred)) return preferred;
  std::string only;
  std::size_t n = 0;
  for (const auto& [path, tf] : state_.files) {
    if (parent_of(path) != side) continue;
    only = path;
    ++n;
  }
  if (n == 1) {
    ambiguous_sides_.erase(side);
    return only;
  }
  if (n > 1 && ambiguous_sides_.insert(side).second) {
    log(log_level::warning, "pair side " + side + " holds " + std::to_string(n) +
                                " dump files and no sigma_outtensor_dump.bin: name the file "
                                "in the pair; this side is not compared");
  }
  return {};
}

std::vector<pair_info*> tracker::pairs_of_sample(const std::string& path) {
  std::vector<pair_info*> out;
  for (auto& p : state_.pairs) {
    if (resolve_side(p.sample) == path) out.push_back(&p);
  }
  return out;
}

std::vector<std::shared_ptr<run_info>> tracker::runs_of(const tracked_file& tf) const {
  std::vector<std::shared_ptr<run_info>> out;
  auto add = [&](std::uint64_t n) {
    auto it = state_.runs.find(n);
    if (it != state_.runs.end() && it->second) out.push_back(it->second);
  };
  if (tf.runs.empty()) {
    add(tf.run);
  } else {
    for (std::uint64_t n : tf.runs) add(n);
  }
  return out;
}

std::vector<std::shared_ptr<run_info>> tracker::start_runs(tracked_file& tf,
                                                           const std::string& reason) {
  tf.runs.clear();
  std::vector<std::shared_ptr<run_info>> out;
  auto pairs = pairs_of_sample(tf.path);
  if (pairs.empty()) out.push_back(start_run(tf, reason));
  for (pair_info* p : pairs) out.push_back(start_run(tf, reason, p));
  return out;
}

std::shared_ptr<run_info> tracker::start_run(tracked_file& tf, const std::string& reason,
                                             pair_info* pair) {
  auto r = std::make_shared<run_info>();
  r->number = state_.next_run++;
  r->id = "r" + std::to_string(r->number);
  r->path = tf.path;
  r->state = run_state::live;
  r->start_reason = reason;
  r->started = unix_now();
  r->records = tf.file->records().size();
  r->bytes = tf.bytes;
  r->report.sample_path = tf.path;
  r->report.thresholds = state_.compare.thresholds;
  auto self = state_.files.find(tf.path);
  if (self != state_.files.end()) r->file = self->second;
  if (pair != nullptr) {
    r->pair = pair->name;
    pair->sample_file = tf.path;
    const std::string bench = resolve_side(pair->benchmark);
    if (!bench.empty()) pair->benchmark_file = bench;
    r->report.benchmark_path = bench.empty() ? pair->benchmark : bench;
    pair->run = r->number;
  }
  // The first run of a file's runs is its primary one (tf.run).
  tf.runs.push_back(r->number);
  if (tf.runs.size() == 1) tf.run = r->number;
  tf.state = run_state::live;
  state_.runs[r->number] = r;
  work_[r->number] = run_work{};
  if (archive_) archive_->run_started(*r, tf);  // other runs of tf share its copy
  if (store_ != nullptr) {
    if (auto w = store_->write_index(state_.next_run); !w) {
      log(log_level::err, "sigdump: error: " + w.error().describe());
    }
    store_->run_started(*r);
  }
  prune_runs();
  return r;
}

void tracker::prune_runs() {
  while (state_.runs.size() > keep_runs_) {
    auto victim = std::find_if(state_.runs.begin(), state_.runs.end(),
                               [](const auto& kv) { return kv.second->state != run_state::live; });
    if (victim == state_.runs.end()) return;
    if (store_ != nullptr) store_->remove(victim->first);
    work_.erase(victim->first);
    state_.runs.erase(victim);
  }
}

void tracker::end_run(run_info& r, run_state how, const std::string& reason) {
  auto w = work_.find(r.number);
  r.state = how;
  r.end_reason = reason;
  r.ended = unix_now();
  if (auto f = r.file) {
    r.records = f->file->records().size();
    r.bytes = f->bytes;
    if (how == run_state::ended && reason != "deleted" && f->file->pending()) {
      if (auto e = f->file->parser().tail_error()) {
        log(log_level::notice, "run " + r.id + " ended with a cut record: " + e->describe());
      }
    }
  }
  if (archive_) archive_->run_ended(r);
  if (w != work_.end()) {
    run_work& rw = w->second;
    rw.end_reason = reason;
    rw.end_state = how;
    // Its records are gone (reset, deleted, stopped): layers still waiting
    // for their benchmark will never be compared.
    if (how != run_state::ended || reason == "deleted" || reason == "stopped") {
      for (auto& e : rw.queue) {
        if (e.what == queued_record::status::waiting) e.what = queued_record::status::skipped;
      }
    }
    // run_end follows the layers still being computed, and those waiting
    // for a benchmark that is still being written.
    publish_ready(r, rw);
  } else {
    run_work none;
    none.end_reason = reason;
    finish_end(r, none);
  }
  // A benchmark that ended settles the samples waiting on it.
  if (how == run_state::ended) benchmark_changed(r.path);
}

void tracker::maybe_finish(run_info& r, run_work& w) {
  if (w.end_reason.empty()) {
    // Layers that came after run_end reopened the run's log: close it with
    // a fresh end line once nothing is pending.
    if (w.late_layers && w.queue.empty() && w.in_flight == 0 && r.state != run_state::live) {
      w.late_layers = false;
      if (store_ != nullptr) store_->run_ended(r);
    }
    return;
  }
  if (w.in_flight > 0) return;
  if (!w.queue.empty() && w.end_state == run_state::ended && benchmark_live(r)) return;
  finish_end(r, w);
}

bool tracker::benchmark_live(const run_info& r) {
  if (r.pair.empty()) return false;
  for (const auto& p : state_.pairs) {
    if (p.name != r.pair) continue;
    auto b = state_.files.find(resolve_side(p.benchmark));
    return b != state_.files.end() && b->second->state == run_state::live;
  }
  return false;
}

void tracker::benchmark_changed(const std::string& path) {
  for (auto& p : state_.pairs) {
    if (p.benchmark_file != path && resolve_side(p.benchmark) != path) continue;
    try_match(p);
    auto rit = state_.runs.find(p.run);
    auto wit = work_.find(p.run);
    if (rit != state_.runs.end() && wit != work_.end()) maybe_finish(*rit->second, wit->second);
  }
}

void tracker::finish_end(run_info& r, run_work& w) {
  w.end_reason.clear();
  w.end_published = true;
  if (store_ != nullptr) store_->run_ended(r);
  daemon_event e;
  e.kind = event_kind::run_end;
  e.run = r.id;
  e.path = r.path;
  e.pair = r.pair;
  e.reason = r.end_reason;
  e.layers = r.report.layers.size();
  e.suspect = r.suspect_count();
  e.first_bad = r.report.first_bad;
  e.diagnosis = r.report.diagnosis;
  // A reset run is announced by run_reset, not run_end.
  if (r.state != run_state::reset) state_.publish(e);
}

void tracker::after_growth(tracked_file& tf, std::size_t first_new) {
  const auto runs = runs_of(tf);
  for (const auto& rp : runs) {
    run_info& r = *rp;
    r.records = tf.file->records().size();
    r.bytes = tf.bytes;
    if (r.number == tf.run) {
      if (archive_) archive_->grew(r, tf);
    }
    if (r.pair.empty()) continue;
    auto& w = work_[r.number];
    const auto& recs = tf.file->records();
    for (std::size_t i = first_new; i < recs.size(); ++i) {
      if (!is_compared(recs[i], state_.compare)) continue;
      queued_record e;
      e.record = static_cast<std::uint32_t>(i);
      e.ordinal = occurrence_ordinal(*tf.file, e.record);
      w.queue.push_back(std::move(e));
    }
    for (auto& p : state_.pairs) {
      if (p.name == r.pair && p.run == r.number) try_match(p);
    }
  }
  for (auto& p : state_.pairs) {
    if (resolve_side(p.benchmark) == tf.path) try_match(p);
  }
}

// Matching follows the offline rules (match_record on the finished
// benchmark) while the benchmark is still being written. A waiting sample
// record is settled, in this order of certainty:
//  - its ordinal-th exact-name candidate is there: nothing written later
//    can change that match;
//  - the benchmark's run has ended: match_record as offline (no match:
//    the record is skipped);
//  - the benchmark already holds the match of a later sample record: it
//    writes layers in the sample's execution order, so this record's
//    benchmark layer, if any, is already there (a sanitized or mapped
//    ordinal-th match, or none). A fallback match ("else the last") waits
//    for the benchmark's end.
// Report indexes are given at publication, in sample order, so layers are
// published in the offline report's order with its indexes.
void tracker::try_match(pair_info& p) {
  if (stopped_) return;
  auto rit = state_.runs.find(p.run);
  if (rit == state_.runs.end() || !rit->second || rit->second->pair != p.name) return;
  run_info& r = *rit->second;
  auto wit = work_.find(r.number);
  if (wit == work_.end()) return;
  run_work& w = wit->second;
  auto s = state_.files.find(r.path);
  if (s == state_.files.end() || !s->second->holds_run(r.number)) return;
  const std::string bench_path = resolve_side(p.benchmark);
  if (!bench_path.empty()) {
    p.benchmark_file = bench_path;
    r.report.benchmark_path = bench_path;
  }
  auto b = bench_path.empty() ? state_.files.end() : state_.files.find(bench_path);
  if (b == state_.files.end() || b->second == s->second) return;
  const dump_file& sample = *s->second->file;
  const dump_file& bench = *b->second->file;
  const bool bench_final = b->second->state != run_state::live;
  const std::size_t n = w.queue.size();
  std::vector<probe_result> probes(n);
  std::vector<char> later_present(n, 0);
  bool seen = false;
  for (std::size_t k = n; k-- > 0;) {
    later_present[k] = seen ? 1 : 0;
    queued_record& e = w.queue[k];
    if (e.what == queued_record::status::waiting) {
      if (e.record >= sample.records().size()) {
        e.what = queued_record::status::skipped;
        continue;
      }
      probes[k] = probe(bench, sample.records()[e.record], e.ordinal, state_.compare);
      if (probes[k].record >= 0 && probes[k].nth) seen = true;
    } else if (e.what != queued_record::status::skipped) {
      seen = true;
    }
  }
  for (std::size_t k = 0; k < n; ++k) {
    queued_record& e = w.queue[k];
    if (e.what != queued_record::status::waiting) continue;
    const probe_result& pr = probes[k];
    const bool settled = (pr.record >= 0 && pr.nth && pr.rule == match_rule::exact) ||
                         bench_final || (later_present[k] != 0 && (pr.record < 0 || pr.nth));
    if (!settled) continue;
    if (pr.record < 0) {
      e.what = queued_record::status::skipped;
      continue;
    }
    dispatch(r, w, w.front_seq + k, s->second, b->second, e.record,
             static_cast<std::uint32_t>(pr.record), pr.rule);
  }
  publish_ready(r, w);
}

void tracker::dispatch(run_info& r, run_work& w, std::uint64_t seq,
                       std::shared_ptr<tracked_file> sample, std::shared_ptr<tracked_file> bench,
                       std::uint32_t sample_record, std::uint32_t bench_record, match_rule rule) {
  auto j = std::make_shared<job>();
  j->run = r.number;
  j->seq = seq;
  j->sample_record = sample_record;
  j->bench_record = bench_record;
  j->rule = rule;
  w.queue[static_cast<std::size_t>(seq - w.front_seq)].what = queued_record::status::running;
  // The streamed chunks of this record count only if both sides are still
  // the bytes they were summed from.
  std::shared_ptr<layer_stream> streamed;
  if (w.stream && w.stream->record == sample_record) {
    const layer_stream& st = *w.stream;
    const auto& rec = sample->file->records()[sample_record];
    if (st.header_offset == rec.header_offset && st.bench_record == bench_record &&
        st.bench_path == bench->path && st.bench_run == bench->run &&
        st.bench.owner->identity() == bench->file->current_mapping()->identity()) {
      streamed = w.stream;
    }
  }
  if (w.stream && w.stream->record <= sample_record) w.stream.reset();
  const std::uint64_t elements = sample->file->records()[sample_record].elements;
  j->sample = file_lease(std::move(sample));
  j->bench = file_lease(std::move(bench));
  ++w.in_flight;
  ++in_flight_;
  event_loop* loop = &loop_;
  auto alive = alive_;
  // Each job gets its own copy of the options: a reload may change the
  // state's while jobs run.
  auto opts = std::make_shared<compare_options>();
  opts->thresholds = state_.compare.thresholds;
  opts->include_constants = state_.compare.include_constants;
  opts->include_inputs = state_.compare.include_inputs;
  opts->name_map = state_.compare.name_map;
  // Big layers are split over the cores (the sums are combined in chunk
  // order, so the result does not depend on the thread count).
  opts->threads = elements > (1u << 20) ? 0 : 1;
  pool_.submit([this, j, loop, alive, opts, streamed] {
    if (streamed) {
      const chunk_sums_so_far done = streamed->finish(j->chunks_discarded);
      j->chunks_streamed = static_cast<std::uint64_t>(
          std::count_if(done.begin(), done.end(), [](const auto& c) { return c.has_value(); }));
      j->result = compare_layer(*j->sample.get(), j->sample_record, *j->bench.get(),
                                j->bench_record, *opts, done);
    } else {
      j->result = compare_layer(*j->sample.get(), j->sample_record, *j->bench.get(),
                                j->bench_record, *opts);
    }
    j->result.rule = j->rule;
    loop->post([this, j, alive] {
      if (*alive) on_result(j);
    });
  });
}

void tracker::on_result(std::shared_ptr<job> j) {
  --in_flight_;
  if (j->chunks_streamed > 0) {
    ++state_.layers_streamed;
    state_.chunks_streamed += j->chunks_streamed;
  }
  state_.chunks_discarded += j->chunks_discarded;
  // Release the leases first so deferred refreshes can run.
  std::vector<std::string> recheck;
  auto note = [&](file_lease& l) {
    if (const dump_file* f = l.get()) recheck.push_back(f->path());
    l.reset();
  };
  note(j->sample);
  note(j->bench);
  auto rit = state_.runs.find(j->run);
  auto wit = work_.find(j->run);
  if (rit != state_.runs.end() && wit != work_.end()) {
    run_info& r = *rit->second;
    run_work& w = wit->second;
    if (w.in_flight > 0) --w.in_flight;
    if (j->seq >= w.front_seq && j->seq - w.front_seq < w.queue.size()) {
      queued_record& e = w.queue[static_cast<std::size_t>(j->seq - w.front_seq)];
      if (e.what == queued_record::status::running) {
        e.result = std::move(j->result);
        e.what = queued_record::status::done;
      }
    }
    // Publish in report order: a fast small layer waits for a slower
    // earlier one, and for earlier records still waiting for a match.
    publish_ready(r, w);
  }
  for (const auto& p : recheck) {
    auto f = state_.files.find(p);
    if (f != state_.files.end() && f->second->refresh_wanted && f->second->readers.load() == 0)
      check_file(p, false, false);
  }
}

std::shared_ptr<layer_stream> tracker::open_stream(const run_info& r, const tracked_file& tf,
                                                   const record& cut) {
  const dump_file& sample = *tf.file;
  // Worth it from two chunks on; contiguous payloads only (a padded inner
  // dimension would need the chunk's end through the stride).
  if (!cut.ok() || cut.elements <= compare_chunk_elements() || cut.inner != cut.inner_stride ||
      dtype_size(cut.storage) == 0 || sample.variant() != dump_variant::binary ||
      !is_compared(cut, state_.compare)) {
    return nullptr;
  }
  const pair_info* pair = nullptr;
  for (const auto& p : state_.pairs) {
    if (p.name == r.pair && p.run == r.number) pair = &p;
  }
  if (pair == nullptr) return nullptr;
  const std::string bench_path = resolve_side(pair->benchmark);
  auto b = bench_path.empty() ? state_.files.end() : state_.files.find(bench_path);
  if (b == state_.files.end() || b->second.get() == &tf) return nullptr;
  const dump_file& bench = *b->second->file;
  // Its occurrence among the sample's complete records, as the queue will
  // count it; only the certain match (the ordinal-th exact name, which
  // try_match settles at once) is streamed.
  std::uint32_t ordinal = 0;
  const auto& recs = sample.records();
  for (std::uint32_t i : sample.index().find(recs, cut.name)) {
    if (recs[i].kind == cut.kind && recs[i].port == cut.port) ++ordinal;
  }
  const probe_result pr = probe(bench, cut, ordinal, state_.compare);
  if (pr.record < 0 || !pr.nth || pr.rule != match_rule::exact) return nullptr;
  const auto bi = static_cast<std::uint32_t>(pr.record);
  const record& br = bench.records()[bi];
  if (!br.ok() || br.elements != cut.elements ||
      first_layout(cut.shape, br.shape) != layout_choice::same) {
    return nullptr;
  }
  auto bv = bench.view(bi);
  if (!bv || bv->elements != cut.elements || !bv->owner || bv->data == nullptr ||
      bv->inner != bv->inner_stride || dtype_size(bv->storage) == 0) {
    return nullptr;
  }
  auto st = std::make_shared<layer_stream>();
  st->record = cut.index;
  st->header_offset = cut.header_offset;
  st->bench_path = bench_path;
  st->bench_run = b->second->run;
  st->bench_record = bi;
  st->payload_offset = cut.payload_offset;
  st->elements = cut.elements;
  st->element_bytes = dtype_size(cut.storage);
  // The benchmark could be cut and written again unseen too: guard its
  // record (its last page and a copy of it when the file ends there, as it
  // does for the last layer).
  auto guard = truncation_sentinel::arm(bench_path, bv->owner->identity(), br.end_offset, true);
  if (!guard) return nullptr;
  st->bench_guard = std::move(*guard);
  st->bench = std::move(*bv);
  const std::uint64_t chunks =
      (cut.elements + compare_chunk_elements() - 1) / compare_chunk_elements();
  st->slots.assign(chunks, layer_stream::slot::open);
  st->sums.resize(chunks);
  st->guards.resize(chunks);
  return st;
}

void tracker::stream_pending(tracked_file& tf) {
  if (stopped_ || !tf.file) return;
  const auto& cut = tf.file->pending();
  std::optional<result<tensor_view>> view;  // the cut record over the current mapping
  // Whether a big record may be arriving that only a look will show: one
  // write(2) of a whole record raises its inotify event once it returns,
  // and a big one takes milliseconds to tens of milliseconds.
  bool watch_closely = false;
  for (const auto& rp : runs_of(tf)) {
    run_info& r = *rp;
    auto wit = work_.find(r.number);
    if (wit == work_.end()) continue;
    run_work& w = wit->second;
    if (r.pair.empty() || r.state != run_state::live) {
      w.stream.reset();
      continue;
    }
    if (!cut || !cut->header) {
      // Between records, or inside a header: the next record's size is
      // not known yet.
      w.stream.reset();
      watch_closely = true;
      continue;
    }
    const record& h = *cut->header;
    if (w.stream && (w.stream->record != h.index || w.stream->header_offset != h.header_offset)) {
      w.stream.reset();
    }
    if (!w.stream) w.stream = open_stream(r, tf, h);
    if (!w.stream) continue;
    layer_stream& st = *w.stream;
    const std::uint64_t have = cut->offset + cut->available;
    // A chunk is handed out once the file reaches into the page after it,
    // where its truncation sentinel goes.
    while (st.submitted < st.slots.size() &&
           truncation_sentinel::page_after(st.chunk_end(st.submitted)) < have) {
      if (!view) view = tf.file->pending_view();
      if (!*view) break;
      const std::uint64_t k = st.submitted++;
      pool_.submit([st = w.stream, sample = **view, k] {
        if (!st->claim(k)) return;
        // Armed before the bytes are read: a truncation while they are
        // summed counts too.
        auto guard = truncation_sentinel::arm(sample.owner->path(), sample.owner->identity(),
                                              st->chunk_end(k));
        if (!guard) {
          st->complete(k, std::nullopt, std::nullopt);
          return;
        }
        auto sums = compute_chunk(sample, st->bench, k);
        st->complete(k, sums ? std::optional<partial_sums>(*sums) : std::nullopt,
                     std::move(*guard));
      });
    }
    // The last chunk ends with the record, which dispatches the layer.
    if (st.submitted + 1 < st.slots.size()) watch_closely = true;
  }
  // Look every millisecond while the writer is at it, unless it has paused
  // (its next write raises an event anyway).
  if (watch_closely && now_ms() - tf.last_change_ms < follow_pause_ms) follow(tf.path);
}

void tracker::follow(const std::string& path) {
  follow_paths_.insert(path);
  if (follow_timer_ != 0) return;
  follow_timer_ = loop_.add_timer(std::chrono::milliseconds(1), false, [this] {
    follow_timer_ = 0;
    std::set<std::string> paths;
    paths.swap(follow_paths_);
    for (const auto& p : paths) check_file(p, false, false);
  });
}

void tracker::publish_ready(run_info& r, run_work& w) {
  while (!w.queue.empty()) {
    queued_record& e = w.queue.front();
    if (e.what == queued_record::status::done) {
      layer_result l = std::move(e.result);
      l.index = w.next_index++;
      if (w.end_published) w.late_layers = true;
      publish_layer(r, std::move(l));
    } else if (e.what != queued_record::status::skipped) {
      break;
    }
    w.queue.pop_front();
    ++w.front_seq;
  }
  maybe_finish(r, w);
}

void tracker::publish_layer(run_info& r, layer_result l) {
  auto& layers = r.report.layers;
  auto pos = std::upper_bound(layers.begin(), layers.end(), l.index,
                              [](std::uint32_t i, const layer_result& x) { return i < x.index; });
  layers.insert(pos, l);
  if (r.file) summarize(r.report, *r.file->file);
  if (store_ != nullptr) store_->layer_added(r, l);
  daemon_event e;
  e.kind = event_kind::layer;
  e.run = r.id;
  e.path = r.path;
  e.pair = r.pair;
  e.layer = std::move(l);
  e.first_bad = r.report.first_bad;
  e.diagnosis = r.report.diagnosis;
  state_.publish(e);
}

void tracker::stop() {
  if (stopped_) return;
  stopped_ = true;  // no new comparisons from here on
  for (auto& [n, w] : work_) {
    // Results in flight and layers still waiting are dropped.
    w.in_flight = 0;
    w.front_seq += w.queue.size();
    w.queue.clear();
    auto r = state_.runs.find(n);
    if (!w.end_reason.empty() && r != state_.runs.end()) finish_end(*r->second, w);
  }
  for (auto& [n, r] : state_.runs) {
    if (r->state != run_state::live) continue;
    end_run(*r, run_state::ended, "stopped");
  }
  if (archive_) archive_->stop();
  if (store_ != nullptr) store_->sync_all();
  if (inotify_watch_ != 0) loop_.unwatch(inotify_watch_);
  inotify_watch_ = 0;
  if (timer_ != 0) loop_.cancel_timer(timer_);
  timer_ = 0;
  if (follow_timer_ != 0) loop_.cancel_timer(follow_timer_);
  follow_timer_ = 0;
  follow_paths_.clear();
  inotify_.reset();
}

}  // namespace sigdump::daemon
