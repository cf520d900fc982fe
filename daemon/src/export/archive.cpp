// The run archive's life on the loop thread: opening and stopping it, the
// hooks that follow a run (start, growth, end, a restart's continued runs,
// live runs adopted by a reload) and schedule its copy jobs, their outcomes,
// and the copies read back for overwritten runs. The copy jobs are in
// archive_copier.cpp, archive.json in archive_index.cpp, the byte budget in
// archive_eviction.cpp.
#include "export/archive.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "export/archive_copier.h"
#include "platform/log.h"
#include "platform/private_dir.h"
#include "sigdump/dump_file.h"
#include "sigdump/path_util.h"

namespace sigdump::daemon {

namespace {

std::unexpected<error> io_error(const std::string& file, const std::string& what) {
  return make_error(errc::io, file, no_record, no_offset, what + ": " + std::strerror(errno));
}

// Opens the source of ch: the run's own file, inode `id`. By path while the
// path still names it; else (renamed over, deleted) through tf's mapping
// of it, which the tracker keeps while tf reads it. False when neither.
bool open_source(copy_channel& ch, const tracked_file& tf, const file_identity& id) {
  ch.src.reset(::open(tf.path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  struct stat st {};
  if (ch.src && ::fstat(ch.src.get(), &st) == 0 && file_identity{st.st_dev, st.st_ino} == id) {
    return true;
  }
  ch.src.reset();
  auto map = tf.file ? tf.file->current_mapping() : nullptr;
  if (!map || !(map->identity() == id)) return false;
  ch.map = std::move(map);
  return true;
}

}  // namespace

void archive::follow_mapping(entry& e, const tracked_file& tf) {
  if (!e.io || !e.io->map || !tf.file) return;
  // Read through the mapping: a larger one of the same inode first, so the
  // copier never looks for the target past it.
  auto map = tf.file->current_mapping();
  const std::lock_guard lock(e.io->m);
  if (map && map->identity() == e.source_id && map->size() > e.io->map->size()) {
    e.io->map = std::move(map);
  }
}

namespace {}  // namespace

archive::archive(std::string dir, std::uint64_t max_bytes, event_loop& loop, daemon_state& state,
                 ipc::unique_fd lock)
    : dir_(std::move(dir)),
      max_bytes_(max_bytes),
      loop_(loop),
      state_(state),
      lock_(std::move(lock)) {}

result<std::unique_ptr<archive>> archive::open(const archive_config& config, event_loop& loop,
                                               daemon_state& state) {
  const std::string& dir = config.dir;
  if (auto ok = ensure_private_dir(dir, "archive folder"); !ok) return std::unexpected(ok.error());
  const std::string lock_path = dir + "/.lock";
  ipc::unique_fd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock) return io_error(lock_path, "cannot open the archive lock");
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return make_error(errc::io, lock_path, no_record, no_offset,
                        "the archive folder is in use by another sigdumpd");
    }
    return io_error(lock_path, "cannot lock the archive folder");
  }
  std::unique_ptr<archive> a(new archive(dir, config.max_bytes, loop, state, std::move(lock)));
  a->load_index();
  // A test hook (docs/protocol.md, "Test hooks"): said in the log, so a
  // stray variable in a service's environment shows.
  if (const char* h = std::getenv("SIGDUMP_ARCHIVE_TEST_HOLD"); h != nullptr && h[0] == '/') {
    a->test_hold_ = h;
    log(log_level::notice,
        std::string("SIGDUMP_ARCHIVE_TEST_HOLD in effect: no copy starts while ") + h + " exists");
  }
  if (const char* h = std::getenv("SIGDUMP_ARCHIVE_TEST_OPEN_HOLD"); h != nullptr && h[0] == '/') {
    a->test_open_hold_ = h;
    log(log_level::notice, std::string("SIGDUMP_ARCHIVE_TEST_OPEN_HOLD in effect: no run's file ") +
                               "is opened for its copy while " + h + " exists");
  }
  state.run_archive = a.get();
  a->evict();
  return a;
}

archive::~archive() {
  stop();
  *alive_ = false;
  if (state_.run_archive == this) state_.run_archive = nullptr;
}

void archive::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& [n, e] : entries_) {
    if (!e.io) continue;
    e.io->cancel.store(true, std::memory_order_release);
    e.io->abandon.store(true, std::memory_order_release);
  }
  copier_.shutdown();
  {
    // Dropped copies whose deletion was still queued.
    const std::lock_guard lock(dropped_->m);
    for (const auto& path : dropped_->paths) remove_copy(nullptr, path);
    dropped_->paths.clear();
  }
  syncer_.shutdown();   // after the copier, which hands it the syncs
  indexer_.shutdown();  // the index is written here, last
  // Outcomes still queued on the loop are not needed: the channels say how
  // far each copy got.
  for (auto& [n, e] : entries_) {
    if (e.io) {
      take_copied(e);
      // A final job that synced before its outcome reached the loop.
      if (e.info.busy && !e.info.live && e.io->synced.load(std::memory_order_acquire)) {
        e.info.synced = true;
      }
    }
    e.info.busy = false;
    e.info.live = false;
    e.ending = false;
    e.io.reset();
  }
  write_index();
  // Every copy is final now, told at once: this archive may be gone before
  // a posted call would run (a reload that changes its folder).
  if (on_final_) {
    for (const auto& [n, e] : entries_) {
      for (std::uint64_t run : sharing(n)) on_final_(run);
    }
  }
}

void archive::run_started(const run_info& r, const tracked_file& tf) {
  if (stopped_ || !tf.file) return;
  const auto map = tf.file->current_mapping();
  if (!map) {
    log(log_level::warning, "archive: " + r.id + ": " + tf.path + " is not mapped: not archived");
    return;
  }
  const file_identity id = map->identity();
  if (tf.run != 0 && tf.run != r.number) {
    auto p = entries_.find(tf.run);
    if (p != entries_.end() && p->second.source_id == id && !alias_.contains(r.number)) {
      p->second.aliases.push_back(r.number);
      alias_[r.number] = tf.run;
      write_index();
    }
    return;
  }
  // Earlier runs of the same inode (truncated or rewritten in place) must
  // not copy the new run's bytes; a replaced file's old inode may finish.
  for (auto& [n, e] : entries_) {
    if (n == r.number || e.done || e.info.source != tf.path || !(e.source_id == id)) continue;
    e.done = true;
    e.info.live = false;
    if (e.io) e.io->cancel.store(true, std::memory_order_release);
    if (!e.info.busy) {
      if (e.io) take_copied(e);
      e.io.reset();
      if (e.info.bytes < e.records_end) e.info.short_copy = true;
      now_final(n);
    }
  }
  const std::string file = r.id + "-" + base_name(tf.path);
  if (auto old = entries_.find(r.number); old != entries_.end()) {
    drop(old, old->second.file != file);
  }
  if (auto stale = alias_.find(r.number); stale != alias_.end()) {
    auto& v = entries_[stale->second].aliases;
    v.erase(std::remove(v.begin(), v.end(), r.number), v.end());
    alias_.erase(stale);
  }

  auto ch = std::make_shared<channel>();
  // The run's own inode, also when the path names another one already (a
  // writer renaming file after file onto it): that run is read through the
  // tracker's mapping, and so is its copy.
  if (!test_open_hold_.empty() && ::access(test_open_hold_.c_str(), F_OK) == 0) {
    log(log_level::notice, "archive: " + r.id + ": test hold before opening " + tf.path);
    test_hold(test_open_hold_, *ch);  // on the loop thread: the daemon waits
  }
  if (!open_source(*ch, tf, id)) {
    log(log_level::warning, "archive: " + r.id + ": " + tf.path + ": cannot open: not archived");
    return;
  }
  if (ch->map) {
    log(log_level::info, "archive: " + r.id + ": " + tf.path +
                             " was replaced before its copy began; copying the run's own file");
  }
  entry e;
  e.file = file;
  e.info.path = dir_ + "/" + e.file;
  e.info.source = tf.path;
  e.info.live = true;
  e.source_id = id;
  auto& slot = entries_[r.number] = std::move(e);
  // Listed before it exists: a crash never leaves a copy the index misses.
  write_index();
  // Created by its first copy job, off the loop; a copy that cannot be
  // created fails as a write would (on_outcome).
  ch->dst_path = slot.info.path;
  ch->dst_flags = O_WRONLY | O_CREAT | O_TRUNC;
  slot.io = std::move(ch);
}

void archive::grew(const run_info& r, const tracked_file& tf) {
  if (stopped_) return;
  auto it = entries_.find(r.number);
  if (it == entries_.end()) return;
  entry& e = it->second;
  if (r.state == run_state::live) {
    // Also a run that looked finished and goes on: not synced any more.
    e.info.live = true;
    e.ending = false;
    if (e.info.synced) {
      e.info.synced = false;
      write_index();  // its copy grows again: no longer whole on disk
    }
  }
  if (e.done) return;
  raise_target(e, tf);
  follow_mapping(e, tf);
  if (e.io) e.io->target.store(e.target, std::memory_order_release);
  if (!e.io) {
    // Closed after it looked finished; the same inode went on growing.
    auto ch = std::make_shared<channel>();
    ch->dst_path = e.info.path;
    ch->dst_flags = O_WRONLY;
    if (!open_source(*ch, tf, e.source_id)) {
      e.done = true;
      return;
    }
    ch->copied.store(e.info.bytes);
    ch->target.store(e.target);
    e.io = std::move(ch);
  }
  schedule(r.number, e);
}

void archive::run_ended(const run_info& r) {
  auto it = entries_.find(r.number);
  if (it == entries_.end()) return;
  entry& e = it->second;
  e.info.live = false;
  // A truncated or rewritten file holds the next run now; a replaced or
  // deleted one is still readable through our descriptor.
  if (r.state == run_state::reset && r.end_reason != "replaced") {
    e.done = true;
    e.tail_ok = false;
    if (e.io) e.io->cancel.store(true, std::memory_order_release);
  } else if (!e.done) {
    // The parser's last word on this run, while it still reads its inode
    // (a replaced file's tracked_file parses the new one already).
    const tracked_file* tf = r.file.get();
    const auto map = tf != nullptr && tf->file ? tf->file->current_mapping() : nullptr;
    if (map && tf->holds_run(r.number) && map->identity() == e.source_id) {
      raise_target(e, *tf);
      follow_mapping(e, *tf);
      e.tail_ok = !tf->file->pending().has_value();
    } else {
      e.tail_ok = true;  // only the bytes after the target can tell (copy_tail)
    }
  }
  e.ending = true;
  if (!e.info.busy) schedule_final(r.number, e);
  evict();
}

void archive::run_continued(const run_info& r, const tracked_file& tf) {
  if (stopped_ || !tf.file) return;
  const auto map = tf.file->current_mapping();
  if (!map) return;
  if (tf.run != r.number) {
    run_started(r, tf);  // shares the primary run's copy, if not yet listed
    return;
  }
  auto it = entries_.find(r.number);
  if (it != entries_.end() && it->second.info.synced && !it->second.info.failed &&
      it->second.info.source == tf.path) {
    // Whole already: it grows again only if the file does.
    entry& e = it->second;
    e.source_id = map->identity();
    e.done = false;
    e.target = e.info.bytes;
    return;
  }
  // No whole copy (archiving came later, or the daemon stopped mid-copy):
  // copy it now, as a run that starts and ends at once.
  run_started(r, tf);
  grew(r, tf);
  run_ended(r);
}

void archive::adopt_live_runs() {
  if (stopped_) return;
  for (const auto& [path, tfp] : state_.files) {
    if (!tfp || !tfp->file || tfp->state != run_state::live || tfp->run == 0) continue;
    const tracked_file& tf = *tfp;
    const auto map = tf.file->current_mapping();
    auto primary_run = state_.runs.find(tf.run);
    if (!map || primary_run == state_.runs.end() || !primary_run->second ||
        primary_run->second->state != run_state::live) {
      continue;
    }
    if (auto have = entries_.find(tf.run);
        have != entries_.end() && have->second.source_id == map->identity()) {
      continue;  // copied already (archiving was on when it started)
    }
    run_started(*primary_run->second, tf);
    for (std::uint64_t n : tf.runs) {
      auto other = state_.runs.find(n);
      if (n != tf.run && other != state_.runs.end() && other->second) {
        run_started(*other->second, tf);
      }
    }
    grew(*primary_run->second, tf);
  }
}

void archive::schedule(std::uint64_t number, entry& e) {
  if (stopped_ || e.done || e.info.busy || !e.io || e.target <= e.info.bytes) return;
  e.info.busy = true;
  auto ch = e.io;
  const std::uint64_t from = e.info.bytes;
  ch->target.store(e.target, std::memory_order_release);
  event_loop* loop = &loop_;
  auto alive = alive_;
  copier_.submit([this, ch, from, number, loop, alive] {
    test_hold(test_hold_, *ch);
    outcome o = copy_to_target(*ch, from);
    loop->post([this, o, number, alive] {
      if (*alive) on_outcome(number, o);
    });
  });
}

void archive::schedule_final(std::uint64_t number, entry& e) {
  e.ending = false;
  if (stopped_ || !e.io || e.info.failed) {
    e.io.reset();
    write_index();
    now_final(number);
    return;
  }
  e.info.busy = true;
  auto ch = e.io;
  const std::uint64_t from = e.info.bytes;
  const std::uint64_t to = e.done ? from : std::max(from, e.target);
  const bool tail = !e.done && e.tail_ok;
  event_loop* loop = &loop_;
  auto alive = alive_;
  worker_pool* syncer = &syncer_;
  copier_.submit([this, ch, from, to, tail, number, loop, alive, syncer] {
    test_hold(test_hold_, *ch);
    outcome copied = finish_copy(*ch, from, to, tail);
    // The sync waits on the disk; the copier goes on with other runs'
    // copies meanwhile (a copy that lags is one a truncation cuts short).
    syncer->submit([this, ch, copied, number, loop, alive] {
      outcome o = copied;
      sync_copy(*ch, o);
      loop->post([this, o, number, alive] {
        if (*alive) on_outcome(number, o);
      });
    });
  });
}

void archive::set_error(std::string text) { last_error_ = std::move(text); }

void archive::on_outcome(std::uint64_t number, const outcome& o) {
  auto it = entries_.find(number);
  if (it == entries_.end() || !it->second.info.busy) return;
  entry& e = it->second;
  e.info.busy = false;
  total_ = total_ - e.info.bytes + o.reached;
  e.info.bytes = o.reached;
  e.info.verified = std::max(e.info.verified, e.target);
  // Cut below what its run read: the records past it are gone from the file.
  if (!o.error && (o.shrank || o.final) && e.info.bytes < e.records_end) e.info.short_copy = true;
  const std::string id = "r" + std::to_string(number);
  if (o.error != 0) {
    const bool full = o.error == ENOSPC || o.error == EDQUOT || o.error == EFBIG;
    set_error(e.info.path + ": archiving " + id + " stopped after " + std::to_string(e.info.bytes) +
              " of " + std::to_string(e.target) + " bytes: " + std::strerror(o.error));
    log(log_level::err, last_error_ + (full ? "; later runs are archived again once there is space"
                                            : "; later runs are archived again"));
    e.info.failed = true;
    e.done = true;
  } else if (o.shrank) {
    log(log_level::info, "archive: " + id + ": " + e.info.source + " was cut at " +
                             std::to_string(e.info.bytes) + " bytes while being copied");
    e.done = true;  // the channel stays open until the run ends: its copy is synced then
  }
  if (o.final && o.synced && !e.info.live) e.info.synced = true;
  if (e.info.failed) {
    e.ending = false;
    e.io.reset();
    write_index();
    now_final(number);
  } else if (e.ending) {
    schedule_final(number, e);  // the run ended while this copy ran
  } else if (!e.done && e.target > e.info.bytes) {
    schedule(number, e);
  } else if (o.final && !e.info.live) {
    e.io.reset();
    write_index();  // now it may say "synced"
    now_final(number);
  }
  evict();
}

void archive::take_copied(entry& e) {
  const std::uint64_t got = e.io->copied.load(std::memory_order_acquire);
  total_ = total_ - e.info.bytes + got;
  e.info.bytes = got;
}

void archive::raise_target(entry& e, const tracked_file& tf) {
  e.target = std::max(e.target, tf.parsed);
  const auto& recs = tf.file->records();
  if (!recs.empty()) e.records_end = std::max(e.records_end, recs.back().end_offset);
}

std::uint64_t archive::primary(std::uint64_t number) const {
  auto a = alias_.find(number);
  return a == alias_.end() ? number : a->second;
}

result<std::shared_ptr<tracked_file>> archive::open_copy(std::uint64_t number, bool keep) {
  auto it = entries_.find(primary(number));
  if (it == entries_.end()) {
    return make_error(
        errc::io, {}, no_record, no_offset,
        "r" + std::to_string(number) + " has no archived copy (not archived or evicted)");
  }
  entry& e = it->second;
  if (e.reader) {
    struct stat st {};
    if (::stat(e.info.path.c_str(), &st) != 0)
      return io_error(e.info.path, "cannot open the archived copy");
    if (e.reader_size == static_cast<std::uint64_t>(st.st_size)) return e.reader;
  }
  auto tf = read_copy(e.info.path, number);
  if (tf && keep) {
    e.reader = *tf;
    e.reader_size = (*tf)->bytes;
  }
  return tf;
}

result<std::shared_ptr<tracked_file>> archive::read_copy(const std::string& path,
                                                         std::uint64_t number) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return io_error(path, "cannot open the archived copy");
  // The copier may cut the copy back while it is parsed: libdump reads it
  // under its SIGBUS guard and says errc::truncated.
  auto out = dump_file::open(path);
  if (!out) return std::unexpected(out.error());
  auto tf = std::make_shared<tracked_file>();
  tf->path = path;
  tf->file = std::make_unique<dump_file>(std::move(*out));
  tf->run = number;
  tf->state = run_state::ended;
  tf->bytes = static_cast<std::uint64_t>(st.st_size);
  tf->parsed = tf->file->parser().resume_offset();
  return tf;
}

void archive::run_pruned(std::uint64_t number) {
  auto it = entries_.find(primary(number));
  if (it == entries_.end()) return;
  it->second.reader.reset();
  it->second.reader_size = 0;
}

std::shared_ptr<copy_channel> archive::growing_copy(const tracked_file& tf) const {
  if (stopped_ || !tf.file || tf.run == 0) return nullptr;
  auto it = entries_.find(primary(tf.run));
  if (it == entries_.end()) return nullptr;
  const entry& e = it->second;
  const auto map = tf.file->current_mapping();
  if (e.done || e.info.failed || !e.io || !map || !(map->identity() == e.source_id)) return nullptr;
  return e.io;
}

bool archive::copy_final(std::uint64_t number) const {
  auto it = entries_.find(primary(number));
  if (it == entries_.end()) return false;
  const entry& e = it->second;
  return !e.info.busy && !e.ending && !e.io;
}

// Posted: the one waiting on it may open the copy, which the caller of
// this is still changing.
std::vector<std::uint64_t> archive::sharing(std::uint64_t number) const {
  std::vector<std::uint64_t> runs{number};
  if (auto it = entries_.find(number); it != entries_.end()) {
    runs.insert(runs.end(), it->second.aliases.begin(), it->second.aliases.end());
  }
  return runs;
}

void archive::now_final(std::uint64_t number) {
  if (!on_final_) return;
  loop_.post([fn = on_final_, runs = sharing(number), alive = alive_] {
    if (!*alive) return;
    for (std::uint64_t n : runs) fn(n);
  });
}

std::optional<archive::copy_info> archive::find(std::uint64_t number) const {
  auto it = entries_.find(primary(number));
  if (it == entries_.end()) return std::nullopt;
  return it->second.info;
}

bool archive::idle() const noexcept {
  if (index_->writes > 0) return false;  // loop thread only changes it
  return std::none_of(entries_.begin(), entries_.end(), [](const auto& kv) {
    const entry& e = kv.second;
    return e.info.busy || e.ending || (!e.done && e.io && e.target > e.info.bytes);
  });
}

archive::usage archive::summary() const {
  usage u;
  u.dir = dir_;
  u.bytes = total_;
  u.max_bytes = max_bytes_;
  u.copies = entries_.size();
  for (const auto& [n, e] : entries_) {
    if (e.info.failed) {
      ++u.failed;
    } else if (e.info.busy || e.ending || (e.info.live && !e.done)) {
      ++u.copying;
    }
  }
  u.last_error = last_error_;
  return u;
}

void apply_archive_config(std::unique_ptr<archive>& slot, const archive_config& config,
                          event_loop& loop, daemon_state& state) {
  if (slot && slot->dir() == config.dir) {
    slot->set_budget(config.max_bytes);
    return;
  }
  if (slot) {
    log(log_level::info, "archive: no longer archiving to " + slot->dir());
    slot->stop();
    slot.reset();
  }
  if (config.dir.empty()) return;
  auto a = archive::open(config, loop, state);
  if (!a) {
    log(log_level::err, a.error().describe() + "; runs are not archived");
    return;
  }
  slot = std::move(*a);
  log(log_level::info,
      "archiving runs to " + slot->dir() +
          (config.max_bytes == 0 ? std::string(" (no byte budget)")
                                 : " (budget " + std::to_string(config.max_bytes) + " bytes)"));
}

}  // namespace sigdump::daemon
