#include "sigdump/ipc/status_board.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

namespace sigdump::ipc {

std::string board_name_for_socket(const std::string& socket_path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(socket_path, ec);
  if (ec) p = socket_path;
  std::string norm = p.lexically_normal().string();
  std::uint64_t h = 14695981039346656037ull;  // FNV-1a 64
  for (unsigned char c : norm) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return "/sigdump-board-" + std::to_string(::getuid()) + "-" + hex;
}

const char* board_state_name(board_state s) noexcept {
  switch (s) {
    case board_state::free: return "free";
    case board_state::idle: return "idle";
    case board_state::live: return "live";
    case board_state::ended: return "ended";
    case board_state::reset: return "reset";
  }
  return "unknown";
}

}  // namespace sigdump::ipc
