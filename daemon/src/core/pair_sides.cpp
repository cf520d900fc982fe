// The configured pairs and the dump file each side names now. Loop thread
// only.
#include "core/pair_sides.h"

#include <sys/stat.h>

#include "platform/log.h"
#include "sigdump/path_util.h"

namespace sigdump::daemon {

namespace {

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

void pair_sides::configure(const std::vector<pair_config>& pairs) {
  std::vector<pair_info> out;
  for (const auto& p : pairs) {
    pair_info info;
    info.name = p.name;
    info.sample = p.sample;
    info.benchmark = p.benchmark;
    if (p.cos_min || p.rmse_max || p.name_map) {
      auto own = std::make_shared<compare_options>(state_.compare);
      if (p.cos_min) own->thresholds.cos_min = *p.cos_min;
      if (p.rmse_max) own->thresholds.rmse_max = *p.rmse_max;
      if (p.name_map) own->name_map = *p.name_map;
      info.compare = std::move(own);
    }
    bool known = false;
    for (const auto& old : state_.pairs) {
      if (old.name != p.name || old.sample != p.sample) continue;
      known = true;
      info.run = old.run;
      info.sample_file = old.sample_file;
      if (old.benchmark == p.benchmark) info.benchmark_file = old.benchmark_file;
    }
    // New to this daemon (its start, or a reload): the pair's newest run
    // read back from the state folder, so status shows its outcome even
    // when its sample is gone (a run of the file on disk replaces it).
    if (!known) info.run = newest_run_of(p.name);
    out.push_back(std::move(info));
  }
  state_.pairs = std::move(out);
}

std::uint64_t pair_sides::newest_run_of(const std::string& pair) const {
  for (auto it = state_.runs.rbegin(); it != state_.runs.rend(); ++it) {
    if (it->second->pair == pair) return it->first;
  }
  return 0;
}

std::string pair_sides::resolve(const std::string& side) {
  if (state_.files.contains(side)) return side;
  if (!is_dir(side)) return {};
  const std::string preferred = side + "/sigma_outtensor_dump.bin";
  if (state_.files.contains(preferred)) return preferred;
  std::string only;
  std::size_t n = 0;
  for (const auto& [path, tf] : state_.files) {
    if (parent_of(path) != side) continue;
    only = path;
    ++n;
  }
  if (n == 1) {
    ambiguous_.erase(side);
    return only;
  }
  if (n > 1 && ambiguous_.insert(side).second) {
    log(log_level::warning, "pair side " + side + " holds " + std::to_string(n) +
                                " dump files and no sigma_outtensor_dump.bin: name the file "
                                "in the pair; this side is not compared");
  }
  return {};
}

std::vector<pair_info*> pair_sides::pairs_of_sample(const std::string& path) {
  std::vector<pair_info*> out;
  for (auto& p : state_.pairs) {
    if (resolve(p.sample) == path) out.push_back(&p);
  }
  return out;
}

}  // namespace sigdump::daemon
