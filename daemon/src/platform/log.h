// Logging to stderr with sd-daemon priority prefixes ("<3>"), which journald
// turns into priorities and a terminal shows as-is.
#pragma once

#include <string_view>

namespace sigdump::daemon {

enum class log_level { err = 3, warning = 4, notice = 5, info = 6, debug = 7 };

/* Writes one line "<N>sigdumpd: MESSAGE" to stderr in a single write(2). */
void log(log_level level, std::string_view message) noexcept;

/* Sets the most verbose level printed (default info). */
void set_log_level(log_level level) noexcept;

}  // namespace sigdump::daemon
