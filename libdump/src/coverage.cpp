// The verdict rule and the coverage line (docs/compare.md, "Coverage and
// verdict").
#include "sigdump/coverage.h"

#include "sigdump/compare.h"

namespace sigdump {

const char* verdict_name(verdict v) noexcept {
  switch (v) {
    case verdict::pass: return "pass";
    case verdict::incomplete: return "incomplete";
    case verdict::nothing_compared: return "nothing_compared";
    case verdict::fail: return "fail";
  }
  return "fail";
}

verdict judge(const coverage& c, std::uint64_t suspect) noexcept {
  if (suspect > 0 || c.not_comparable > 0) return verdict::fail;
  if (c.compared == 0) return verdict::nothing_compared;
  if (c.sample_only > 0 || c.pending > 0 || c.lost > 0 || c.compared < c.sample_layers) {
    return verdict::incomplete;
  }
  return verdict::pass;
}

bool verdict_ok(verdict v, bool allow_partial) noexcept {
  return v == verdict::pass || (v == verdict::incomplete && allow_partial);
}

namespace {

constexpr std::size_t names_shown = 3;

std::string plural(std::uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + ' ' + (n == 1 ? one : many);
}

}  // namespace

std::string verdict_reason(verdict v, const coverage& c, std::uint64_t suspect) {
  switch (v) {
    case verdict::pass: return "every sample layer compared, none suspect";
    case verdict::fail: {
      std::string out;
      if (suspect > 0) out = std::to_string(suspect) + " suspect";
      if (c.not_comparable > 0) {
        if (!out.empty()) out += ", ";
        out += std::to_string(c.not_comparable) + " not comparable";
      }
      return out;
    }
    case verdict::incomplete:
      return std::to_string(c.sample_layers - c.compared) + " of " +
             std::to_string(c.sample_layers) +
             " sample layers not compared; not a pass unless partial comparisons are allowed "
             "(--allow-partial)";
    case verdict::nothing_compared:
      return c.sample_layers == 0 ? "the sample has no layer to compare"
                                  : "no sample layer was compared";
  }
  return {};
}

std::string coverage_text(const coverage& c) {
  if (c.sample_layers == 0) return "the sample has no layer to compare";
  std::string out = std::to_string(c.compared) + " of " +
                    plural(c.sample_layers, "sample layer", "sample layers") + " compared";
  if (c.not_comparable > 0) out += ", " + std::to_string(c.not_comparable) + " not comparable";
  if (c.sample_only > 0) {
    out += ", " + std::to_string(c.sample_only) +
           (c.sample_only == 1 ? " has no benchmark layer" : " have no benchmark layer");
    if (c.benchmark_ends_at >= 0) {
      out += " (benchmark ends at " + std::to_string(c.benchmark_ends_at) + ") " +
             c.benchmark_ends_name + ")";
    } else if (!c.sample_only_layers.empty()) {
      out += " (";
      for (std::size_t i = 0; i < c.sample_only_layers.size() && i < names_shown; ++i) {
        if (i) out += ", ";
        out += c.sample_only_layers[i].name;
      }
      if (c.sample_only_layers.size() > names_shown) out += ", ...";
      out += ')';
    }
  }
  if (c.lost > 0) {
    out += ", " + std::to_string(c.lost) + " lost: the file was started over before " +
           (c.lost == 1 ? "it was" : "they were") + " compared";
  }
  if (c.pending > 0) {
    out += ", " + std::to_string(c.pending) + " waiting for a benchmark layer";
  }
  if (c.benchmark_only > 0) {
    out += "; " + plural(c.benchmark_only, "benchmark layer has", "benchmark layers have") +
           " no sample layer";
  }
  return out;
}

void count_coverage(compare_report& report) {
  coverage& c = report.coverage;
  c.compared = 0;
  c.not_comparable = 0;
  for (const layer_result& l : report.layers) ++(l.error.empty() ? c.compared : c.not_comparable);
  c.sample_only = c.sample_only_layers.size();
  const std::uint64_t settled = c.compared + c.not_comparable + c.sample_only + c.lost;
  // A report read back without its layer count: what it holds is all there is.
  if (c.sample_layers < settled) c.sample_layers = settled;
  c.pending = c.sample_layers - settled;
  c.benchmark_ends_at = -1;
  c.benchmark_ends_name.clear();
  if (c.sample_only_layers.empty() || report.layers.empty()) return;
  const layer_result& last = report.layers.back();
  for (const sample_only_layer& s : c.sample_only_layers) {
    if (s.record < last.sample_record) return;
  }
  c.benchmark_ends_at = last.index;
  c.benchmark_ends_name = last.name;
}

}  // namespace sigdump
