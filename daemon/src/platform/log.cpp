#include "platform/log.h"

#include <unistd.h>

#include <atomic>
#include <string>

namespace sigdump::daemon {

namespace {
std::atomic<int> max_level{static_cast<int>(log_level::info)};
}

void set_log_level(log_level level) noexcept { max_level.store(static_cast<int>(level)); }

void log(log_level level, std::string_view message) noexcept {
  if (static_cast<int>(level) > max_level.load(std::memory_order_relaxed)) return;
  try {
    std::string line;
    line.reserve(message.size() + 16);
    line += '<';
    line += static_cast<char>('0' + static_cast<int>(level));
    line += ">sigdumpd: ";
    line += message;
    line += '\n';
    // One write so concurrent lines do not interleave; a short write to a
    // closed stderr is not worth reporting.
    [[maybe_unused]] auto n = ::write(STDERR_FILENO, line.data(), line.size());
  } catch (...) {
  }
}

}  // namespace sigdump::daemon
