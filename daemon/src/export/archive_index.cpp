// The archive's index, DIR/archive.json: read back when the archive opens
// (copies whose file is gone are dropped), and written after each change on
// the archive's index-writer thread (temp + fsync + rename, the newest body
// only), or on the loop once the archive is stopped.
#include <simdjson.h>
#include <sys/stat.h>

#include <mutex>

#include "export/archive.h"
#include "platform/log.h"
#include "sigdump/atomic_file.h"
#include "sigdump/json_util.h"

namespace sigdump::daemon {

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
    bool synced = false;
    if (!item["synced"].get_bool().get(synced)) e.info.synced = synced;
    bool short_copy = false;
    if (!item["short"].get_bool().get(short_copy)) e.info.short_copy = short_copy;
    std::uint64_t verified = 0;
    if (!item["verified_bytes"].get_uint64().get(verified)) e.info.verified = verified;
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
    w.field("synced", e.info.synced);
    w.field("verified_bytes", e.info.verified);
    w.field("short", e.info.short_copy);
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
  auto write = [path](const std::string& b) {
    auto written = write_file_atomically(path, b, mode_t{0600});
    return written ? std::string() : written.error().message;
  };
  if (stopped_) {
    index_written(write(body));
    return;
  }
  // Written (temp + fsync + rename) on a thread of its own, the newest
  // body only: a burst of changes is one write, and a slow disk does not
  // hold up the loop.
  {
    std::lock_guard lock(index_->m);
    const bool queued = index_->pending.has_value();
    index_->pending = std::move(body);
    if (queued) return;
    ++index_->writes;
  }
  indexer_.submit([this, write, pending = index_, loop = &loop_, alive = alive_] {
    std::string b;
    {
      std::lock_guard lock(pending->m);
      b = std::move(*pending->pending);
      pending->pending.reset();
    }
    loop->post([this, alive, pending, err = write(b)] {
      --pending->writes;
      if (*alive) index_written(err);
    });
  });
}

void archive::index_written(const std::string& err) {
  const std::string path = dir_ + "/archive.json";
  if (!err.empty()) {
    set_error(path + ": cannot write the archive index: " + err);
    if (!index_error_logged_) {
      log(log_level::err, path + ": cannot write the archive index: " + err +
                              " (copies made meanwhile may not be found after a restart)");
      index_error_logged_ = true;
    }
    return;
  }
  if (index_error_logged_) log(log_level::notice, path + ": archive index written again");
  index_error_logged_ = false;
}

}  // namespace sigdump::daemon
