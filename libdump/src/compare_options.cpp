// Range checks of the thresholds, shared by the CLI and the daemon.
#include "sigdump/compare_options.h"

#include <cmath>
#include <cstdio>

namespace sigdump {

namespace {

std::string shown(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

std::string cos_min_problem(std::string_view option, double v) {
  if (std::isfinite(v) && v >= -1.0 && v <= 1.0) return {};
  return std::string(option) + ": " + shown(v) + " is out of range: COS lies in [-1, 1]";
}

std::string rmse_max_problem(std::string_view option, double v) {
  if (std::isfinite(v) && v >= 0.0) return {};
  return std::string(option) + ": " + shown(v) + " is out of range: RMSE is 0 or more";
}

}  // namespace sigdump
