#include "archive_line.h"

#include <cstdio>

#include "live_common.h"

namespace sigdump::cli::live {

std::string human_bytes(std::uint64_t bytes) {
  constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  auto v = static_cast<double>(bytes);
  std::size_t u = 0;
  while (v >= 1024.0 && u + 1 < std::size(units)) {
    v /= 1024.0;
    ++u;
  }
  char text[32];
  // One decimal below 10 ("1.2 GiB"), none above ("10 GiB", "512 MiB").
  if (v < 9.95) {
    std::snprintf(text, sizeof text, "%.1f", v);
  } else {
    std::snprintf(text, sizeof text, "%.0f", v);
  }
  std::string s = text;
  if (s.ends_with(".0")) s.resize(s.size() - 2);
  return s + " " + units[u];
}

std::string archive_line(simdjson::dom::element archive) {
  auto count = [&](const char* key) {
    auto v = integer(archive, key);
    return static_cast<std::uint64_t>(v && *v > 0 ? *v : 0);
  };
  const std::uint64_t budget = count("max_bytes");
  const std::uint64_t copies = count("copies"), copying = count("copying");
  const std::uint64_t failed = count("failed");
  std::string out = "archive: " + str(archive, "dir", "?") + " " + human_bytes(count("bytes"));
  out += budget == 0 ? " (no budget)" : " of " + human_bytes(budget);
  out += ", " + std::to_string(copies) + (copies == 1 ? " copy" : " copies");
  if (copying > 0) out += " (" + std::to_string(copying) + " copying)";
  if (failed > 0) out += ", " + std::to_string(failed) + " failed";
  return out;
}

}  // namespace sigdump::cli::live
