#include "state/run_log_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "platform/log.h"
#include "sigdump/atomic_file.h"
#include "sigdump/ipc/unique_fd.h"

namespace sigdump::daemon {

// What the loop and the thread share. The mutex guards the queues and
// counters only: no disk operation runs under it, so an append never waits
// for a slow write. The descriptors are the writing thread's alone (the
// caller's before attach()).
struct run_log_writer::shared {
  std::string dir;
  std::string test_fail;

  // A line, or what renders it on the writing thread.
  struct piece {
    std::string text;
    std::function<std::string()> render;
  };

  mutable std::mutex mutex;
  std::map<std::uint64_t, std::vector<piece>> backlog;  // lines not written yet, by run
  std::map<std::uint64_t, std::uint64_t> unwritten;     // pieces queued and not in the log, by run
  std::set<std::uint64_t> queued;   // runs with a write job waiting on the thread
  std::set<std::uint64_t> closing;  // ended: sync and close once written
  bool retry_queued = false;
  bool stuck = false;  // a write was refused and lines wait (logged once)
  std::uint64_t failures = 0;
  std::string last_error;
  bool threaded = false;  // attached once: the thread owns the descriptors from then on
  poster post;            // null after detach(): no more reports
  written_fn written;

  std::map<std::uint64_t, ipc::unique_fd> open;  // the writing thread's

  std::string log_path(std::uint64_t run) const {
    return dir + "/runs/r" + std::to_string(run) + ".ndjson";
  }

  // Under mutex.
  void failed(const std::string& what, int err) {
    ++failures;
    last_error = what + ": " + std::strerror(err);
    // Logged when lines start to wait, not for every line that joins them.
    if (stuck) return;
    stuck = true;
    log(log_level::err, last_error + "; run log lines are kept in memory and written once " +
                            "the state folder takes them again");
  }

  // Writes run's waiting lines in one go; on failure the log is cut back
  // to where it was (no torn line) and they wait again, in front of any
  // queued meanwhile. The writing thread.
  bool flush(std::uint64_t run) {
    std::vector<piece> taken;
    {
      std::lock_guard lock(mutex);
      queued.erase(run);
      auto b = backlog.find(run);
      if (b == backlog.end()) return true;
      taken = std::move(b->second);
      backlog.erase(b);
    }
    std::string lines;
    for (piece& p : taken) lines += p.render ? p.render() : std::move(p.text);
    const int err = write_lines(run, lines);
    bool ended = false;
    {
      std::lock_guard lock(mutex);
      if (err != 0) {
        // Rendered, they wait as one piece, in front of any queued meanwhile.
        auto& waiting = backlog[run];
        waiting.insert(waiting.begin(), piece{std::move(lines), {}});
        if (auto u = unwritten.find(run); u != unwritten.end() && u->second >= taken.size()) {
          u->second -= taken.size() - 1;
        }
        failed(log_path(run) + (open.contains(run) ? ": cannot append to the run log"
                                                   : ": cannot open the run log"),
               err);
        return false;
      }
      if (auto u = unwritten.find(run); u != unwritten.end()) {
        u->second -= std::min<std::uint64_t>(u->second, taken.size());
        if (u->second == 0) unwritten.erase(u);
      }
      ended = !backlog.contains(run) && closing.erase(run) > 0;
      if (stuck && backlog.empty()) {
        stuck = false;
        log(log_level::notice, "the state folder " + dir +
                                   " takes writes again: every run log line kept in memory is "
                                   "written");
      }
      if (post) post([w = written, run] { w(run); });
    }
    if (auto fd = open.find(run); ended && fd != open.end()) {
      // An ended run's log, every line of it written: synced and closed.
      ::fdatasync(fd->second.get());
      open.erase(fd);
    }
    return true;
  }

  // 0 or the errno of the failed open or write.
  int write_lines(std::uint64_t run, const std::string& lines) {
    auto it = open.find(run);
    if (it == open.end()) {
      int fd = ::open(log_path(run).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
                      0600);
      if (fd < 0) return errno;
      it = open.emplace(run, ipc::unique_fd(fd)).first;
    }
    struct stat st {};
    const bool sized = ::fstat(it->second.get(), &st) == 0;
    struct stat flag {};
    const bool refused = !test_fail.empty() && ::stat(test_fail.c_str(), &flag) == 0;
    if (!refused && write_all(it->second.get(), lines)) return 0;
    const int err = refused ? ENOSPC : errno;
    if (sized) [[maybe_unused]]
      auto cut = ::ftruncate(it->second.get(), st.st_size);
    return err;
  }

  std::vector<std::uint64_t> waiting() const {
    std::lock_guard lock(mutex);
    std::vector<std::uint64_t> runs;
    for (const auto& [run, b] : backlog) runs.push_back(run);
    return runs;
  }

  // Oldest run first, until a write is refused. The writing thread.
  void flush_all() {
    for (std::uint64_t run : waiting()) {
      if (!flush(run)) return;
    }
  }
};

run_log_writer::run_log_writer(std::string dir, std::string test_fail)
    : s_(std::make_unique<shared>()) {
  s_->dir = std::move(dir);
  s_->test_fail = std::move(test_fail);
}

run_log_writer::~run_log_writer() {
  if (thread_) thread_->shutdown();
}

worker_pool* run_log_writer::thread() {
  // Started at its first job: after the daemon blocked the signals that
  // only its signalfd may take.
  if (!thread_) {
    thread_ = std::make_unique<worker_pool>(1, "run-log-writer");
  }
  return thread_->size() > 0 ? thread_.get() : nullptr;
}

void run_log_writer::later(std::function<void()> job) {
  if (auto* t = thread()) {
    t->submit(std::move(job));  // FIFO on one thread: in order
  } else {
    job();
  }
}

void run_log_writer::now(const std::function<void()>& job) {
  if (thread() == nullptr) {
    job();
    return;
  }
  std::promise<void> done;
  auto finished = done.get_future();
  thread_->submit([&] {
    job();
    done.set_value();
  });
  finished.wait();
}

void run_log_writer::attach(poster post, written_fn written) {
  std::lock_guard lock(s_->mutex);
  s_->threaded = true;
  s_->post = std::move(post);
  s_->written = std::move(written);
}

void run_log_writer::detach() {
  std::lock_guard lock(s_->mutex);
  s_->post = nullptr;
  s_->written = nullptr;
}

bool run_log_writer::append(std::uint64_t run, std::string line, bool ends) {
  return add(run, std::move(line), {}, ends);
}

bool run_log_writer::append_rendered(std::uint64_t run, std::function<std::string()> render,
                                     bool ends) {
  return add(run, {}, std::move(render), ends);
}

bool run_log_writer::add(std::uint64_t run, std::string text, std::function<std::string()> render,
                         bool ends) {
  bool submit = false;
  {
    std::lock_guard lock(s_->mutex);
    s_->unwritten[run] += 1;
    s_->backlog[run].push_back({std::move(text), std::move(render)});
    if (ends) s_->closing.insert(run);
    if (s_->threaded) {
      submit = s_->queued.insert(run).second;
      if (!submit) return false;
    }
    // Else nobody to report to: written here, now.
  }
  if (submit) {
    if (auto* t = thread()) {
      t->submit([s = s_.get(), run] { s->flush(run); });
      return false;
    }
  }
  return s_->flush(run) && all_written(run);
}

bool run_log_writer::all_written(std::uint64_t run) const {
  std::lock_guard lock(s_->mutex);
  return !s_->unwritten.contains(run);
}

void run_log_writer::retry() {
  {
    std::lock_guard lock(s_->mutex);
    if (!s_->stuck || s_->retry_queued) return;
    s_->retry_queued = true;
  }
  if (!attached()) {
    s_->retry_queued = false;
    s_->flush_all();
    return;
  }
  later([s = s_.get()] {
    {
      std::lock_guard lock(s->mutex);
      s->retry_queued = false;
    }
    s->flush_all();
  });
}

bool run_log_writer::attached() const {
  std::lock_guard lock(s_->mutex);
  return s_->threaded;
}

void run_log_writer::remove(std::uint64_t run) {
  auto drop = [s = s_.get(), run] {
    {
      std::lock_guard lock(s->mutex);
      s->backlog.erase(run);
      s->unwritten.erase(run);
      s->closing.erase(run);
      if (s->stuck && s->backlog.empty()) s->stuck = false;
    }
    s->open.erase(run);
    ::unlink(s->log_path(run).c_str());
  };
  {
    // Not written from here on, even by a write queued before.
    std::lock_guard lock(s_->mutex);
    s_->backlog.erase(run);
    s_->unwritten.erase(run);
  }
  if (attached()) {
    later(std::move(drop));
  } else {
    drop();  // the descriptors are this thread's
  }
}

void run_log_writer::sync_all() {
  auto sync = [s = s_.get()] {
    s->flush_all();
    for (auto& [n, fd] : s->open) ::fdatasync(fd.get());
  };
  if (attached()) {
    now(sync);
  } else {
    sync();
  }
  if (const auto n = unsaved_bytes(); n > 0) {
    log(log_level::err, std::to_string(n) + " bytes of run logs could not be written to " +
                            s_->dir + " (" + last_error() + ")");
  }
}

std::uint64_t run_log_writer::unsaved_bytes() const {
  std::lock_guard lock(s_->mutex);
  std::uint64_t n = 0;
  if (s_->stuck) {
    for (const auto& [run, lines] : s_->backlog) {
      for (const auto& p : lines) n += p.text.size();
    }
  }
  return n;
}

std::uint64_t run_log_writer::failures() const {
  std::lock_guard lock(s_->mutex);
  return s_->failures;
}

std::string run_log_writer::last_error() const {
  std::lock_guard lock(s_->mutex);
  return s_->last_error;
}

}  // namespace sigdump::daemon
