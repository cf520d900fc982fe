// Whole-file writes that readers never see half done: the HTML report and
// plot, the daemon's state index, the archive index and the Prometheus
// textfile all go through write_file_atomically.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "sigdump/error.h"

namespace sigdump {

/* Writes all of data to fd, retrying short writes and EINTR; false (errno
   set) on the first error. */
bool write_all(int fd, std::string_view data) noexcept;

/* Writes bytes to path atomically: a temporary file beside it
   (PATH.tmp-XXXXXX, a name no reader of *.prom or *.json picks up), fsync,
   rename, then fsync of the folder so the rename survives a crash. mode is
   forced whatever the umask; nullopt keeps the mode of the file being
   replaced, else 0644. Errors name path; the temporary file is removed. */
result<void> write_file_atomically(const std::string& path, std::string_view bytes,
                                   std::optional<mode_t> mode = std::nullopt);

}  // namespace sigdump
