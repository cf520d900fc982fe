// Watching: watch specs, inotify on their folders, the stat timer, the
// DebugConfig.txt folders, and sniffing whether a file is a dump. Loop
// thread only.
#include "core/watcher.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string_view>

#include "platform/log.h"
#include "sigdump/path_util.h"
#include "sigdump/trim.h"

namespace sigdump::daemon {

namespace {

namespace fs = std::filesystem;

constexpr std::uint32_t dir_mask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_MODIFY |
                                   IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB |
                                   IN_ONLYDIR;

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

}  // namespace

watcher::watcher(event_loop& loop, daemon_state& state, calls owner)
    : loop_(loop), state_(state), owner_(std::move(owner)) {}

watcher::~watcher() {
  if (inotify_watch_ != 0) loop_.unwatch(inotify_watch_);
  if (timer_ != 0) loop_.cancel_timer(timer_);
}

void watcher::configure(const daemon_options& options) {
  if (timer_ != 0 && options.poll != poll_) {
    loop_.cancel_timer(timer_);
    timer_ = loop_.add_timer(options.poll, true, [this] { on_timer(); });
  }
  poll_ = options.poll;
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
  // A pair side is a dump file or a folder holding one (pair_sides::resolve).
  for (const auto& p : options.pairs) {
    add(p.sample, kind_of(p.sample), "pair");
    add(p.benchmark, kind_of(p.benchmark), "pair");
  }
  // DebugConfig.txt-added folders are re-discovered by the scan.
  specs_ = base_specs_;
}

result<void> watcher::start() {
  inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_) {
    return make_error(errc::io, {}, no_record, no_offset,
                      std::string("inotify_init1 failed: ") + std::strerror(errno));
  }
  inotify_watch_ =
      loop_.watch_fd(inotify_.get(), true, false, [this](bool, bool, bool) { on_inotify(); });
  timer_ = loop_.add_timer(poll_, true, [this] { on_timer(); });
  return {};
}

void watcher::stop() {
  if (inotify_watch_ != 0) loop_.unwatch(inotify_watch_);
  inotify_watch_ = 0;
  if (timer_ != 0) loop_.cancel_timer(timer_);
  timer_ = 0;
  inotify_.reset();
}

bool watcher::is_watched_dir(const std::string& dir) const {
  return std::any_of(specs_.begin(), specs_.end(), [&](const spec& s) {
    return s.kind == watched_path::kind::dir && s.path == dir;
  });
}

bool watcher::is_file_spec(const std::string& path) const {
  return std::any_of(specs_.begin(), specs_.end(), [&](const spec& s) {
    return s.kind == watched_path::kind::file && s.path == path;
  });
}

void watcher::add_dir_watch(const std::string& dir, std::set<int>& keep) {
  int wd = ::inotify_add_watch(inotify_.get(), dir.c_str(), dir_mask);
  if (wd < 0) {
    log(log_level::warning, "cannot watch " + dir + ": " + std::strerror(errno));
    return;
  }
  wd_dirs_[wd] = dir;
  keep.insert(wd);
}

// Watches the nearest existing folder at or above dir, again as long as a
// deeper one appeared meanwhile; returns the folder watched.
std::string watcher::watch_nearest(const std::string& dir, std::set<int>& keep) {
  std::string at = nearest_existing(dir);
  for (;;) {
    add_dir_watch(at, keep);
    std::string now = nearest_existing(dir);
    if (now == at) return at;
    at = std::move(now);
  }
}

// The stat timer: a folder that inotify did not report (created on a
// mount, or in a race with a watch) is found here.
void watcher::on_timer() {
  if (!missing_.empty()) {
    for (const auto& p : missing_) {
      const bool there = is_dir(p) || (is_dir(parent_of(p)) && is_file_spec(p));
      if (there) {
        log(log_level::info, p + " appeared without an inotify event: watching it");
        resolve();
        break;
      }
    }
  }
  owner_.poll();
}

void watcher::resolve() {
  if (!inotify_) return;
  std::set<int> keep;
  missing_.clear();
  // Scanning a folder can add DebugConfig.txt folders: loop until stable.
  for (std::size_t done = 0; done < specs_.size(); ++done) {
    spec s = specs_[done];
    if (s.kind == watched_path::kind::dir && is_dir(s.path)) {
      add_dir_watch(s.path, keep);
      scan_dir(s.path);
    } else if (s.kind == watched_path::kind::dir) {
      // Created while its parent's watch was being added: no event will
      // say so; watch the deeper folder (and scan it, if it is the one).
      const std::string found = watch_nearest(s.path, keep);
      if (found == s.path) {
        scan_dir(s.path);
      } else {
        missing_.push_back(s.path);
      }
    } else {
      if (watch_nearest(parent_of(s.path), keep) != parent_of(s.path)) missing_.push_back(s.path);
      owner_.look(s.path, {});
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
  for (const auto& s : specs_) state_.watched.push_back({s.path, s.kind, s.origin});
}

void watcher::scan_dir(const std::string& dir) {
  std::error_code ec;
  // The non-throwing increment: a folder changing under the walk ends it
  // (the stat timer and inotify see the rest), never the daemon.
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::directory_entry& entry = *it;
    std::string name = entry.path().filename().string();
    std::string full = dir + "/" + name;
    if (name == "DebugConfig.txt") {
      read_debug_config(full);
      continue;
    }
    std::error_code ec2;
    if (entry.is_regular_file(ec2)) owner_.look(full, {});
  }
}

void watcher::read_debug_config(const std::string& file) {
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

void watcher::on_inotify() {
  alignas(inotify_event) char buf[16384];
  bool overflow = false;
  bool structure = false;
  std::vector<std::pair<std::string, std::uint32_t>> cues;
  // The clock file times come from, before any event is read (a write
  // before it has an mtime no later).
  timespec before{};
  ::clock_gettime(CLOCK_REALTIME, &before);
  const std::int64_t read_ns =
      static_cast<std::int64_t>(before.tv_sec) * 1'000'000'000 + before.tv_nsec;
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
    owner_.rescan("inotify_overflow");
    return;
  }
  if (structure) resolve();
  // A write after a close in the same batch: the file may have been
  // rewritten in place before we looked (file_runs' "rewritten" rule).
  std::set<std::string> closed_paths, after_close;
  for (const auto& [path, mask] : cues) {
    if ((mask & IN_MODIFY) && closed_paths.contains(path)) after_close.insert(path);
    if (mask & IN_CLOSE_WRITE) closed_paths.insert(path);
  }
  // IN_MODIFY is only a cue to look again; merged events carry no count.
  for (std::size_t i = 0; i < cues.size(); ++i) {
    const auto& [path, mask] = cues[i];
    if (!is_watched_dir(parent_of(path)) && !is_file_spec(path) && !state_.files.contains(path))
      continue;
    cue why;
    why.created = (mask & (IN_CREATE | IN_MOVED_TO)) != 0;
    why.closed = (mask & IN_CLOSE_WRITE) != 0;
    why.written_after_close = after_close.contains(path);
    why.read_ns = read_ns;
    if (why.closed) {
      for (std::size_t j = i + 1; j < cues.size() && !why.reopened; ++j) {
        why.reopened = cues[j].first == path && (cues[j].second & IN_MODIFY) != 0;
      }
    }
    owner_.look(path, why);
  }
}

bool watcher::looks_like_dump(const std::string& path, const struct stat& st) {
  if (is_dump_name(base_name(path)) || is_file_spec(path)) return true;
  auto nd = not_dumps_.find(path);
  if (nd != not_dumps_.end() && nd->second.first == st.st_ino && nd->second.second == st.st_size)
    return false;
  // Any other file may turn out to be a dump: sniff its first bytes.
  char head[16] = {};
  ssize_t n = -1;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd >= 0) {
    n = ::pread(fd, head, sizeof head, 0);
    ::close(fd);
  }
  std::string_view h(head, n > 0 ? static_cast<std::size_t>(n) : 0);
  bool yes = h.starts_with("isFloat:") || h.starts_with("//out ") || h.starts_with("//in ");
  if (!yes) not_dumps_[path] = {st.st_ino, st.st_size};
  return yes;
}

void watcher::open_failed(const std::string& path, const struct stat& st, const error& why) {
  if (why.code == errc::not_a_dump && !is_dump_name(base_name(path)) && !is_file_spec(path)) {
    not_dumps_[path] = {st.st_ino, st.st_size};
    return;
  }
  // A dump-named file that cannot be parsed yet: remember the identity and
  // size so it is retried only once it changes.
  auto nd = not_dumps_.find(path);
  if (nd == not_dumps_.end() || nd->second.first != st.st_ino || nd->second.second != st.st_size) {
    log(log_level::warning, why.describe());
  }
  not_dumps_[path] = {st.st_ino, st.st_size};
}

void watcher::opened(const std::string& path) { not_dumps_.erase(path); }

}  // namespace sigdump::daemon
