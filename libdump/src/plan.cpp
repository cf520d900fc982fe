// The plan of an offline comparison: every compared sample record paired
// with its benchmark record, and the names found on one side only.
#include "sigdump/plan.h"

#include <map>
#include <set>
#include <string>
#include <tuple>

namespace sigdump {

layer_plan plan_layers(const dump_file& sample, const dump_file& bench,
                       const compare_options& options) {
  layer_plan plan;
  using key = std::tuple<std::string, record_kind, std::uint32_t>;
  std::map<key, std::uint32_t> seen;
  std::set<key> matched_bench;
  std::set<std::string> listed;
  for (const record& r : sample.records()) {
    if (!is_compared(r, options)) continue;
    ++plan.sample_layers;
    const std::uint32_t ordinal = seen[key{r.name, r.kind, r.port}]++;
    match_rule rule = match_rule::exact;
    const std::int64_t b = match_record(bench, r, ordinal, options, &rule);
    if (b < 0) {
      plan.sample_only.push_back({r.index, r.name});
      if (listed.insert(r.name).second) plan.unmatched_sample.push_back(r.name);
      continue;
    }
    const record& br = bench.records()[static_cast<std::size_t>(b)];
    matched_bench.insert(key{br.name, br.kind, br.port});
    plan.pairs.push_back({r.index, static_cast<std::uint32_t>(b), rule});
  }
  // A repeated-run occurrence of a matched name is not "a layer on one side
  // only": list benchmark names no sample record matched at all.
  listed.clear();
  for (const record& r : bench.records()) {
    if (!is_compared(r, options)) continue;
    if (matched_bench.contains(key{r.name, r.kind, r.port})) continue;
    ++plan.benchmark_only;
    if (listed.insert(r.name).second) plan.unmatched_benchmark.push_back(r.name);
  }
  return plan;
}

}  // namespace sigdump
