#include "archive.h"

#include <fcntl.h>
#include <simdjson.h>
#include <sys/file.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "log.h"
#include "sigdump/atomic_file.h"
#include "sigdump/dump_file.h"
#include "sigdump/json_util.h"

namespace sigdump::daemon {

namespace {

namespace fs = std::filesystem;

// One copy_file_range/sendfile call at most: the copier looks at the cancel
// flag and at the source's size between slices.
constexpr std::uint64_t slice_bytes = 8u << 20;

std::string base_name(const std::string& p) {
  auto slash = p.find_last_of('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::unexpected<error> io_error(const std::string& file, const std::string& what) {
  return make_error(errc::io, file, no_record, no_offset, what + ": " + std::strerror(errno));
}

struct open_call {
  const std::string* path;
  result<dump_file>* out;
  bool done = false;
};
void run_open(void* p) {
  auto* c = static_cast<open_call*>(p);
  *c->out = dump_file::open(*c->path);
  c->done = true;
}

}  // namespace

struct archive::channel {
  ipc::unique_fd src, dst;
  std::atomic<bool> cancel{false};
  std::atomic<std::uint64_t> copied{0};  // bytes of dst, kept by the copier
  bool use_sendfile = false;             // copier thread only
};

struct archive::outcome {
  std::uint64_t reached = 0;  // copy size afterwards
  int error = 0;              // errno of a failed copy (source or archive side)
  bool shrank = false;        // the source was cut below what was verified
};

namespace {

// Copier thread: copies source bytes [from, to) to the same offsets of the
// copy, in the kernel. copy_file_range (a reflink or a server-side copy
// where the filesystem can) refuses a copy between two filesystems (EXDEV);
// sendfile then does the same in-kernel copy through the page cache.
template <class Channel, class Outcome>
Outcome copy_range(Channel& ch, std::uint64_t from, std::uint64_t to) {
  Outcome o;
  o.reached = from;
  while (o.reached < to && !ch.cancel.load(std::memory_order_acquire)) {
    const std::uint64_t start = o.reached;
    const auto n = static_cast<std::size_t>(std::min(to - start, slice_bytes));
    ssize_t r = 0;
    if (!ch.use_sendfile) {
      auto in = static_cast<loff_t>(start), out = static_cast<loff_t>(start);
      r = ::copy_file_range(ch.src.get(), &in, ch.dst.get(), &out, n, 0);
      if (r < 0 && (errno == EXDEV || errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL)) {
        log(log_level::debug, std::string("archive: copy_file_range: ") + std::strerror(errno) +
                                  "; copying with sendfile");
        ch.use_sendfile = true;
        continue;
      }
    } else {
      if (::lseek(ch.dst.get(), static_cast<off_t>(start), SEEK_SET) < 0) {
        o.error = errno;
        break;
      }
      auto in = static_cast<off_t>(start);
      r = ::sendfile(ch.dst.get(), ch.src.get(), &in, n);
    }
    if (r < 0) {
      if (errno == EINTR) continue;
      o.error = errno;
      break;
    }
    if (r == 0) {  // end of the source below what was verified: it was cut
      o.shrank = true;
      break;
    }
    o.reached = start + static_cast<std::uint64_t>(r);
    // A writer that truncated while this slice was copied may have put
    // another run's bytes into it: keep only what came before the slice.
    struct stat st {};
    if (::fstat(ch.src.get(), &st) == 0 && static_cast<std::uint64_t>(st.st_size) < o.reached) {
      if (::ftruncate(ch.dst.get(), static_cast<off_t>(start)) == 0) o.reached = start;
      o.shrank = true;
    }
    ch.copied.store(o.reached, std::memory_order_release);
    if (o.shrank) break;
  }
  ch.copied.store(o.reached, std::memory_order_release);
  return o;
}

}  // namespace

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
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return make_error(errc::io, dir, no_record, no_offset,
                      "cannot create the archive folder: " + ec.message());
  }
  ::chmod(dir.c_str(), 0700);
  const std::string lock_path = dir + "/.lock";
  ipc::unique_fd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
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
    if (e.io) e.io->cancel.store(true, std::memory_order_release);
  }
  copier_.shutdown();
  // Outcomes still queued on the loop are not needed: the channels say how
  // far each copy got.
  for (auto& [n, e] : entries_) {
    if (e.io) {
      const std::uint64_t got = e.io->copied.load(std::memory_order_acquire);
      if (got > e.info.bytes) total_ += got - e.info.bytes;
      e.info.bytes = got;
    }
    e.info.busy = false;
    e.info.live = false;
    e.io.reset();
  }
  write_index();
}

void archive::load_index() {
  const std::string path = dir_ + "/archive.json";
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.load(path).get(doc)) {
    if (err != simdjson::IO_ERROR) {
      log(log_level::warning, path + ": unreadable archive index (" + simdjson::error_message(err) +
                                  "); starting a new one");
    }
    return;
  }
  simdjson::dom::array runs;
  if (doc["runs"].get_array().get(runs)) return;
  for (auto item : runs) {
    std::uint64_t number = 0;
    std::string_view file, source;
    if (item["run"].get_uint64().get(number) || item["file"].get_string().get(file) ||
        item["source"].get_string().get(source)) {
      continue;
    }
    if (file.empty() || file.find('/') != std::string_view::npos || file[0] == '.') continue;
    entry e;
    e.file = std::string(file);
    e.info.path = dir_ + "/" + e.file;
    e.info.source = std::string(source);
    bool failed = false;
    if (!item["failed"].get_bool().get(failed)) e.info.failed = failed;
    e.done = true;  // its run is over: a restarted daemon starts new runs
    struct stat st {};
    if (::stat(e.info.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    // The copy may hold more than the index says (crash between updates):
    // its records are verified again when it is opened.
    e.info.bytes = static_cast<std::uint64_t>(st.st_size);
    total_ += e.info.bytes;
    simdjson::dom::array aliases;
    if (!item["aliases"].get_array().get(aliases)) {
      for (auto x : aliases) {
        std::uint64_t a = 0;
        if (x.get_uint64().get(a) || a == number) continue;
        e.aliases.push_back(a);
        alias_[a] = number;
      }
    }
    entries_[number] = std::move(e);
  }
}

void archive::write_index() {
  json_writer w;
  w.begin_object();
  w.field("version", 1);
  w.key("runs").begin_array();
  for (const auto& [n, e] : entries_) {
    w.begin_object();
    w.field("run", n);
    w.field("file", e.file);
    w.field("source", e.info.source);
    w.field("bytes", e.info.bytes);
    w.field("failed", e.info.failed);
    w.key("aliases").begin_array();
    for (auto a : e.aliases) w.value(a);
    w.end_array();
    w.end_object();
  }
  w.end_array();
  w.end_object();
  std::string body = w.take();
  body += '\n';
  const std::string path = dir_ + "/archive.json";
  if (auto written = write_file_atomically(path, body, mode_t{0600}); !written) {
    if (!index_error_logged_) {
      log(log_level::err, path + ": cannot write the archive index: " + written.error().message +
                              " (copies made meanwhile may not be found after a restart)");
      index_error_logged_ = true;
    }
    return;
  }
  if (index_error_logged_) log(log_level::notice, path + ": archive index written again");
  index_error_logged_ = false;
}

void archive::run_started(const run_info& r, const tracked_file& tf) {
  if (stopped_ || !tf.file) return;
  const auto map = tf.file->current_mapping();
  if (!map) return;
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
    if (!e.info.busy) e.io.reset();
  }
  if (auto old = entries_.find(r.number); old != entries_.end()) drop(old);
  if (auto stale = alias_.find(r.number); stale != alias_.end()) {
    auto& v = entries_[stale->second].aliases;
    v.erase(std::remove(v.begin(), v.end(), r.number), v.end());
    alias_.erase(stale);
  }

  auto ch = std::make_shared<channel>();
  ch->src.reset(::open(tf.path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!ch->src || ::fstat(ch->src.get(), &st) != 0 ||
      !(file_identity{st.st_dev, st.st_ino} == id)) {
    // Replaced again already: the tracker is about to start another run.
    log(log_level::debug, "archive: " + r.id + ": " + tf.path + " changed before it was opened");
    return;
  }
  entry e;
  e.file = r.id + "-" + base_name(tf.path);
  e.info.path = dir_ + "/" + e.file;
  e.info.source = tf.path;
  e.info.live = true;
  e.source_id = id;
  auto& slot = entries_[r.number] = std::move(e);
  // Listed before it exists: a crash never leaves a copy the index misses.
  write_index();
  ch->dst.reset(::open(slot.info.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!ch->dst) {
    log(log_level::err, slot.info.path + ": cannot create the archive copy of " + r.id + ": " +
                            std::strerror(errno) + "; this run is not archived");
    slot.info.failed = true;
    slot.done = true;
    return;
  }
  slot.io = std::move(ch);
}

void archive::grew(const run_info& r, const tracked_file& tf) {
  if (stopped_) return;
  auto it = entries_.find(r.number);
  if (it == entries_.end()) return;
  entry& e = it->second;
  if (r.state == run_state::live) e.info.live = true;
  if (e.done) return;
  e.target = std::max(e.target, tf.parsed);
  if (!e.io) {
    // Closed after it looked finished; the same inode went on growing.
    auto ch = std::make_shared<channel>();
    ch->src.reset(::open(tf.path.c_str(), O_RDONLY | O_CLOEXEC));
    ch->dst.reset(::open(e.info.path.c_str(), O_WRONLY | O_CLOEXEC));
    struct stat st {};
    if (!ch->src || !ch->dst || ::fstat(ch->src.get(), &st) != 0 ||
        !(file_identity{st.st_dev, st.st_ino} == e.source_id)) {
      e.done = true;
      return;
    }
    ch->copied.store(e.info.bytes);
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
    if (e.io) e.io->cancel.store(true, std::memory_order_release);
  }
  if (!e.info.busy) {
    if (e.io && (e.done || e.info.bytes >= e.target)) e.io.reset();
    write_index();
    evict();
  }
}

void archive::set_budget(std::uint64_t max_bytes) {
  max_bytes_ = max_bytes;
  evict();
}

void archive::schedule(std::uint64_t number, entry& e) {
  if (stopped_ || e.done || e.info.busy || !e.io || e.target <= e.info.bytes) return;
  e.info.busy = true;
  auto ch = e.io;
  const std::uint64_t from = e.info.bytes, to = e.target;
  event_loop* loop = &loop_;
  auto alive = alive_;
  copier_.submit([this, ch, from, to, number, loop, alive] {
    outcome o = copy_range<channel, outcome>(*ch, from, to);
    loop->post([this, o, number, alive] {
      if (*alive) on_outcome(number, o);
    });
  });
}

void archive::on_outcome(std::uint64_t number, const outcome& o) {
  auto it = entries_.find(number);
  if (it == entries_.end() || !it->second.info.busy) return;
  entry& e = it->second;
  e.info.busy = false;
  total_ = total_ - e.info.bytes + o.reached;
  e.info.bytes = o.reached;
  const std::string id = "r" + std::to_string(number);
  if (o.error != 0) {
    const bool full = o.error == ENOSPC || o.error == EDQUOT || o.error == EFBIG;
    log(log_level::err, e.info.path + ": archiving " + id + " stopped after " +
                            std::to_string(e.info.bytes) + " of " + std::to_string(e.target) +
                            " bytes: " + std::strerror(o.error) +
                            (full ? "; later runs are archived again once there is space"
                                  : "; later runs are archived again"));
    e.info.failed = true;
    e.done = true;
  } else if (o.shrank) {
    log(log_level::info, "archive: " + id + ": " + e.info.source + " was cut at " +
                             std::to_string(e.info.bytes) + " bytes while being copied");
    e.done = true;
  }
  if (!e.done && e.target > e.info.bytes) {
    schedule(number, e);
  } else {
    if (e.io && (e.done || !e.info.live)) e.io.reset();
    if (e.done || !e.info.live) write_index();
  }
  evict();
}

void archive::drop(std::map<std::uint64_t, entry>::iterator it) {
  entry& e = it->second;
  if (e.io) e.io->cancel.store(true, std::memory_order_release);
  ::unlink(e.info.path.c_str());
  for (auto a : e.aliases) alias_.erase(a);
  total_ -= std::min(total_, e.info.bytes);
  entries_.erase(it);
}

void archive::evict() {
  if (max_bytes_ == 0 || total_ <= max_bytes_) return;
  bool changed = false;
  for (auto it = entries_.begin(); total_ > max_bytes_ && it != entries_.end();) {
    const entry& e = it->second;
    if (e.info.live || e.info.busy) {
      ++it;
      continue;
    }
    log(log_level::info, "archive: evicting r" + std::to_string(it->first) + " (" +
                             std::to_string(e.info.bytes) + " bytes) to stay within " +
                             std::to_string(max_bytes_) + " bytes");
    auto next = std::next(it);
    drop(it);
    it = next;
    changed = true;
  }
  if (changed) write_index();
}

std::uint64_t archive::primary(std::uint64_t number) const {
  auto a = alias_.find(number);
  return a == alias_.end() ? number : a->second;
}

result<std::shared_ptr<tracked_file>> archive::open_copy(std::uint64_t number) {
  auto it = entries_.find(primary(number));
  if (it == entries_.end()) {
    return make_error(
        errc::io, {}, no_record, no_offset,
        "r" + std::to_string(number) + " has no archived copy (not archived or evicted)");
  }
  entry& e = it->second;
  struct stat st {};
  if (::stat(e.info.path.c_str(), &st) != 0)
    return io_error(e.info.path, "cannot open the archived copy");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (e.reader && e.reader_size == size) return e.reader;
  // The copier may cut the copy back while it is parsed: guard the reads.
  result<dump_file> out = std::unexpected(error{});
  open_call c{&e.info.path, &out};
  if (!guarded_read(&run_open, &c) || !c.done) {
    return make_error(errc::io, e.info.path, no_record, no_offset,
                      "the archived copy shrank while its headers were read");
  }
  if (!out) return std::unexpected(out.error());
  auto tf = std::make_shared<tracked_file>();
  tf->path = e.info.path;
  tf->file = std::make_unique<dump_file>(std::move(*out));
  tf->run = number;
  tf->state = run_state::ended;
  tf->bytes = size;
  tf->parsed = tf->file->parser().resume_offset();
  e.reader = tf;
  e.reader_size = size;
  return tf;
}

std::optional<archive::copy_info> archive::find(std::uint64_t number) const {
  auto it = entries_.find(primary(number));
  if (it == entries_.end()) return std::nullopt;
  return it->second.info;
}

bool archive::idle() const noexcept {
  return std::none_of(entries_.begin(), entries_.end(), [](const auto& kv) {
    const entry& e = kv.second;
    return e.info.busy || (!e.done && e.io && e.target > e.info.bytes);
  });
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
    log(log_level::err, "sigdump: error: " + a.error().describe() + "; runs are not archived");
    return;
  }
  slot = std::move(*a);
  log(log_level::info,
      "archiving runs to " + slot->dir() +
          (config.max_bytes == 0 ? std::string(" (no byte budget)")
                                 : " (budget " + std::to_string(config.max_bytes) + " bytes)"));
}

}  // namespace sigdump::daemon
