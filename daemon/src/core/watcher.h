// Watching: which paths are watched (the configured ones, every pair side,
// the folders a DebugConfig.txt names), inotify on their folders, the stat
// timer, and whether a file looks like a dump. Turns all of it into calls
// to its owner: look at this path, look at every tracked file, look at
// everything again. Loop thread only.
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "config/daemon_options.h"
#include "platform/event_loop.h"
#include "sigdump/error.h"
#include "sigdump/ipc/unique_fd.h"
#include "state/daemon_state.h"

namespace sigdump::daemon {

class watcher {
 public:
  /* What the inotify events of one batch say about a file. */
  struct cue {
    bool created = false;              // IN_CREATE or IN_MOVED_TO
    bool closed = false;               // IN_CLOSE_WRITE
    bool written_after_close = false;  // IN_MODIFY after IN_CLOSE_WRITE: maybe rewritten in place
    bool reopened = false;     // closed, then written again later in the same batch: the close
                               // was of earlier content, not of what the file holds now
    std::int64_t read_ns = 0;  // CLOCK_REALTIME before the batch was read: a file
                               // modified later was written after its close
  };
  /* What the watcher asks of its owner. */
  struct calls {
    std::function<void(const std::string& path, const cue& why)> look;  // look at a path now
    std::function<void()> poll;  // the stat timer fired: look at every tracked file
    std::function<void(const std::string& reason)> rescan;  // events were lost
  };

  watcher(event_loop& loop, daemon_state& state, calls owner);
  ~watcher();
  watcher(const watcher&) = delete;
  watcher& operator=(const watcher&) = delete;

  /* The configured watch list (options.watch and every pair side) and the
     stat timer's period (a running timer takes a new one at once). Folders
     a DebugConfig.txt added are found again by the next resolve(). */
  void configure(const daemon_options& options);
  /* Starts inotify and the stat timer. */
  result<void> start();
  /* Watches every watched folder (or the nearest existing folder above
     one that does not exist yet, or above a watched file), scans the
     folders (reading their DebugConfig.txt) and looks at the watched
     files, drops the watches no longer needed, and lists the watched
     paths in state.watched. */
  void resolve();
  /* Stops inotify and the stat timer. */
  void stop();

  /* Whether a file not tracked yet may be a dump: named like one, a
     watched file, or its first bytes say so (a "no" is remembered for its
     identity and size). */
  bool looks_like_dump(const std::string& path, const struct stat& st);
  /* A file that looked like a dump did not open as one (`why`): it is not
     retried until its identity or size changes. Logged once per identity
     and size, unless it is just not a dump (and neither named like one nor
     a watched file). */
  void open_failed(const std::string& path, const struct stat& st, const error& why);
  /* The file opened as a dump. */
  void opened(const std::string& path);

 private:
  struct spec {
    std::string path;
    watched_path::kind kind = watched_path::kind::dir;
    std::string origin;
  };

  void add_dir_watch(const std::string& dir, std::set<int>& keep);
  std::string watch_nearest(const std::string& dir, std::set<int>& keep);
  void on_timer();
  void on_inotify();
  void scan_dir(const std::string& dir);
  void read_debug_config(const std::string& file);
  bool is_watched_dir(const std::string& dir) const;
  bool is_file_spec(const std::string& path) const;

  event_loop& loop_;
  daemon_state& state_;
  calls owner_;
  std::vector<spec> specs_;       // configured + DebugConfig.txt-added
  std::vector<spec> base_specs_;  // configured only
  std::chrono::milliseconds poll_{200};
  ipc::unique_fd inotify_;
  watch_id inotify_watch_ = 0;
  timer_id timer_ = 0;
  std::map<int, std::string> wd_dirs_;  // inotify wd -> folder
  std::vector<std::string> missing_;    // watched paths (or a file's folder) not there at resolve()
  std::map<std::string, std::pair<ino_t, off_t>> not_dumps_;  // sniffed negative, by identity+size
};

}  // namespace sigdump::daemon
