// Picking the kernels' instruction-set variant: what the CPU offers, what
// SIGDUMP_ISA asks for, and what use_isa() forced.
#include "sigdump/isa.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>

#include "metrics_kernel.h"

namespace sigdump {

namespace {

constexpr const char* variable = "SIGDUMP_ISA";

constexpr kernel_isa fastest_first[] = {kernel_isa::avx512, kernel_isa::avx2, kernel_isa::sse2,
                                        kernel_isa::scalar};

// What the CPU needs to run a variant, as its cpuid flags say it.
const char* feature_name(kernel_isa v) noexcept {
  switch (v) {
    case kernel_isa::avx512: return "AVX-512F";
    case kernel_isa::avx2: return "AVX2 or FMA";
    case kernel_isa::sse2: return "SSE2 (x86-64)";
    case kernel_isa::scalar: break;
  }
  return "nothing";
}

bool cpu_runs(kernel_isa v) noexcept {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  switch (v) {
    // __builtin_cpu_supports also checks that the OS saves the wide registers.
    case kernel_isa::avx512: return __builtin_cpu_supports("avx512f");
    case kernel_isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case kernel_isa::sse2:
    case kernel_isa::scalar: return true;
  }
  return false;
#else
  return v == kernel_isa::scalar;
#endif
}

// -1: none forced; otherwise the forced variant.
std::atomic<int> forced{-1};

const result<kernel_isa>& from_environment() {
  static const result<kernel_isa> chosen = [] {
    const std::vector<kernel_isa> supported = supported_isas();
    return choose_isa(std::getenv(variable), supported);
  }();
  return chosen;
}

}  // namespace

const char* isa_name(kernel_isa v) noexcept {
  switch (v) {
    case kernel_isa::avx512: return "avx512";
    case kernel_isa::avx2: return "avx2";
    case kernel_isa::sse2: return "sse2";
    case kernel_isa::scalar: break;
  }
  return "scalar";
}

std::optional<kernel_isa> parse_isa_name(std::string_view name) noexcept {
  for (kernel_isa v : fastest_first) {
    if (name == isa_name(v)) return v;
  }
  return std::nullopt;
}

std::vector<kernel_isa> supported_isas() {
  std::vector<kernel_isa> out;
  for (kernel_isa v : fastest_first) {
    if (cpu_runs(v)) out.push_back(v);
  }
  return out;
}

bool isa_supported(kernel_isa v) noexcept { return cpu_runs(v); }

result<kernel_isa> choose_isa(const char* value, std::span<const kernel_isa> supported) {
  if (supported.empty()) {
    return make_error(errc::usage, {}, no_record, no_offset, "no kernel variant to run");
  }
  if (value == nullptr || *value == '\0') return supported.front();
  std::string runs;
  for (kernel_isa v : supported) runs += std::string(runs.empty() ? "" : ", ") + isa_name(v);
  const auto v = parse_isa_name(value);
  if (!v) {
    return make_error(errc::usage, {}, no_record, no_offset,
                      std::string(variable) + "=" + value +
                          ": unknown kernel variant; expected avx512, avx2, sse2 or scalar (this "
                          "CPU runs: " +
                          runs + ")");
  }
  if (std::find(supported.begin(), supported.end(), *v) == supported.end()) {
    return make_error(errc::usage, {}, no_record, no_offset,
                      std::string(variable) + "=" + value + ": this CPU lacks " + feature_name(*v) +
                          ", which the " + isa_name(*v) + " kernels need (it runs: " + runs + ")");
  }
  return *v;
}

result<kernel_isa> active_isa() {
  const int f = forced.load(std::memory_order_relaxed);
  if (f >= 0) return static_cast<kernel_isa>(f);
  return from_environment();
}

result<void> use_isa(kernel_isa v) {
  if (!cpu_runs(v)) {
    return make_error(errc::usage, {}, no_record, no_offset,
                      std::string("this CPU lacks ") + feature_name(v) + ", which the " +
                          isa_name(v) + " kernels need");
  }
  forced.store(static_cast<int>(v), std::memory_order_relaxed);
  return {};
}

const detail::kernel_set& detail::active_kernels() noexcept {
  const int f = forced.load(std::memory_order_relaxed);
  if (f >= 0) return kernels_for(static_cast<kernel_isa>(f));
  const result<kernel_isa>& env = from_environment();
  return kernels_for(env ? *env : kernel_isa::scalar);
}

std::optional<error> detail::kernel_error() {
  auto v = active_isa();
  if (v) return std::nullopt;
  return v.error();
}

}  // namespace sigdump
