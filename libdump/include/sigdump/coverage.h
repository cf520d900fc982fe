// Coverage and verdict of a comparison: how many of the sample's layers were
// really compared, and the rule that turns that and the suspect layers into
// one verdict and an exit status (docs/compare.md, "Coverage and verdict").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sigdump {

/* A sample layer that no benchmark layer matched. */
struct sample_only_layer {
  std::uint32_t record = 0;  // record index in the sample file
  std::string name;
};

/* What a comparison covered. The counts are of sample records that take
   part (is_compared), so compared + not_comparable + sample_only + lost +
   pending == sample_layers. */
struct coverage {
  std::uint64_t sample_layers = 0;   // sample layers that take part
  std::uint64_t compared = 0;        // matched and compared (metrics set)
  std::uint64_t not_comparable = 0;  // matched, but could not be compared (error set)
  std::uint64_t sample_only = 0;     // no benchmark layer matched
  std::uint64_t benchmark_only = 0;  // benchmark layers no sample layer matched
  std::uint64_t pending = 0;         // live comparison: not settled yet (no benchmark so far)
  /* Live comparison: layers never compared because their file started over
     (truncated, written over, replaced) before they were read: their bytes
     are gone. Set by whoever builds the report (the daemon); 0 offline. */
  std::uint64_t lost = 0;
  /* The sample-only layers in sample order (sample_only of them). */
  std::vector<sample_only_layer> sample_only_layers;
  /* When every sample-only layer comes after the last matched one (a
     benchmark cut short): that last matched layer's report index and name;
     -1 otherwise. */
  std::int64_t benchmark_ends_at = -1;
  std::string benchmark_ends_name;
};

/* The verdict of a comparison, in order of precedence:
   fail: a layer is suspect or could not be compared;
   nothing_compared: no sample layer was compared (none to compare, or none
   matched, or the benchmark never came);
   incomplete: some sample layers have no benchmark layer (or are still
   pending, or were lost), the compared ones pass;
   pass: every sample layer was compared and none is suspect. */
enum class verdict : std::uint8_t { pass, incomplete, nothing_compared, fail };

/* "pass", "incomplete", "nothing_compared", "fail" */
const char* verdict_name(verdict v) noexcept;

/* The rule above, from a coverage and the number of suspect layers. */
verdict judge(const coverage& c, std::uint64_t suspect) noexcept;

/* Whether a verdict is success: pass, and incomplete when partial
   comparisons are accepted (--allow-partial). */
bool verdict_ok(verdict v, bool allow_partial) noexcept;

/* Why a verdict is what it is, in a few words: "every sample layer compared,
   none suspect", "2 suspect, 1 not comparable", ... */
std::string verdict_reason(verdict v, const coverage& c, std::uint64_t suspect);

/* One line: "30 of 30 sample layers compared", "6 of 30 sample layers
   compared, 24 have no benchmark layer (benchmark ends at 5) conv2_1)". */
std::string coverage_text(const coverage& c);

}  // namespace sigdump
