// Which instruction-set variant of the metric kernels runs. Every variant
// gives the same bits (docs/performance.md, "Kernel variants"); they differ
// only in speed. The best one the CPU offers is used unless SIGDUMP_ISA
// names another.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "sigdump/error.h"

namespace sigdump {

enum class kernel_isa : std::uint8_t {
  scalar,  // portable C++, any CPU
  sse2,    // x86-64 baseline
  avx2,
  avx512,  // AVX-512F
};

/* "scalar", "sse2", "avx2", "avx512": the names SIGDUMP_ISA takes. */
const char* isa_name(kernel_isa v) noexcept;
std::optional<kernel_isa> parse_isa_name(std::string_view name) noexcept;

/* The variants this build can run on this CPU, fastest first. */
std::vector<kernel_isa> supported_isas();
bool isa_supported(kernel_isa v) noexcept;

/* What SIGDUMP_ISA=value selects on a CPU offering `supported`: the first
   (fastest) of `supported` for a null or empty value, else the named
   variant. errc::usage, naming the variable, for an unknown name or a
   variant not in `supported` (saying what the CPU lacks). */
result<kernel_isa> choose_isa(const char* value, std::span<const kernel_isa> supported);

/* The variant the kernels run: the one set by use_isa(), else
   choose_isa(getenv("SIGDUMP_ISA"), supported_isas()), decided at the first
   call and kept. compute_metrics, compute_chunk and compare_dumps return
   its error (compare_layer puts it in the layer's error). */
result<kernel_isa> active_isa();

/* Runs variant v from now on in this process, whatever SIGDUMP_ISA says
   (tests and benchmarks compare variants this way). errc::usage when this
   CPU cannot run it. Not meant to be called while a comparison runs. */
result<void> use_isa(kernel_isa v);

}  // namespace sigdump
