// --events-log: every published event appended to a file as one JSON line.
#pragma once

#include <string>

#include "sigdump/error.h"
#include "sigdump/ipc/unique_fd.h"
#include "state/daemon_event.h"

namespace sigdump::daemon {

class events_log final : public event_sink {
 public:
  /* Opens (creates, appends to) path. */
  static result<events_log> open(const std::string& path);
  events_log(events_log&&) noexcept = default;
  /* Appends event_json(e) and a newline in one write(2). */
  void publish(const daemon_event& e) override;

 private:
  events_log(std::string path, ipc::unique_fd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  std::string path_;
  ipc::unique_fd fd_;
  bool failed_ = false;
};

}  // namespace sigdump::daemon
