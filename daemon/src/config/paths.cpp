#include "config/paths.h"

#include <cstdlib>
#include <filesystem>

#include "config/daemon_options.h"

namespace sigdump::daemon {

namespace fs = std::filesystem;

std::string current_dir() {
  std::error_code ec;
  auto p = fs::current_path(ec);
  return ec ? std::string("/") : p.string();
}

std::string normalize_path(const std::string& path) {
  fs::path p(path);
  if (!p.is_absolute()) p = fs::path(current_dir()) / p;
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

std::string resolve_against(const std::string& base_dir, const std::string& p) {
  if (p.empty()) return p;
  if (p[0] == '/') return normalize_path(p);
  if (p.size() >= 2 && p[0] == '~' && p[1] == '/') {
    const char* home = std::getenv("HOME");
    if (home != nullptr) return normalize_path(std::string(home) + p.substr(1));
  }
  return normalize_path((fs::path(base_dir) / p).string());
}

}  // namespace sigdump::daemon
