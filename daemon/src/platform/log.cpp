#include "platform/log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdlib>
#include <string>

namespace sigdump::daemon {

namespace {
std::atomic<int> max_level{static_cast<int>(log_level::info)};

bool parse_u64(std::string_view s, unsigned long long& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}
}  // namespace

void set_log_level(log_level level) noexcept { max_level.store(static_cast<int>(level)); }

bool stderr_is_journal() noexcept {
  const char* env = std::getenv("JOURNAL_STREAM");
  if (env == nullptr) return false;
  const std::string_view js(env);
  const auto colon = js.find(':');
  unsigned long long dev = 0, ino = 0;
  if (colon == std::string_view::npos || !parse_u64(js.substr(0, colon), dev) ||
      !parse_u64(js.substr(colon + 1), ino)) {
    return false;
  }
  struct stat st {};
  return ::fstat(STDERR_FILENO, &st) == 0 && static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

void log(log_level level, std::string_view message) noexcept {
  if (static_cast<int>(level) > max_level.load(std::memory_order_relaxed)) return;
  // Decided once: stderr does not change under a running daemon.
  static const bool journal = stderr_is_journal();
  try {
    std::string line;
    line.reserve(message.size() + 32);
    if (journal) {
      line += '<';
      line += static_cast<char>('0' + static_cast<int>(level));
      line += '>';
    }
    line += "sigdumpd: ";
    if (level == log_level::err) line += "error: ";
    if (level == log_level::warning) line += "warning: ";
    line += message;
    line += '\n';
    // One write so concurrent lines do not interleave; a short write to a
    // closed stderr is not worth reporting.
    [[maybe_unused]] auto n = ::write(STDERR_FILENO, line.data(), line.size());
  } catch (...) {
  }
}

}  // namespace sigdump::daemon
