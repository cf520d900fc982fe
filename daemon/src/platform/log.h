// Logging to stderr: "sigdumpd: " and the message, errors and warnings
// saying so ("sigdumpd: error: ..."). When stderr is the journal
// (JOURNAL_STREAM names it), each line starts with its sd-daemon priority
// ("<3>"), which journald turns into the entry's priority; a terminal or a
// file never sees those.
#pragma once

#include <string_view>

namespace sigdump::daemon {

enum class log_level { err = 3, warning = 4, notice = 5, info = 6, debug = 7 };

/* Writes one line to stderr in a single write(2):
   "[<N>]sigdumpd: [error: |warning: ]MESSAGE". */
void log(log_level level, std::string_view message) noexcept;

/* Sets the most verbose level printed (default info). */
void set_log_level(log_level level) noexcept;

/* Whether stderr is the journal: JOURNAL_STREAM ("DEV:INO") is stderr's
   device and inode (systemd sets it for a unit's stdout/stderr). */
bool stderr_is_journal() noexcept;

}  // namespace sigdump::daemon
