// Writes one of bench_pairs.h's dump pairs to files, for whole-process
// timings of `sigdump compare` against read_and_sum:
//   make_bench_pair f32|quant|nchw LAYERS SAMPLE BENCHMARK
// (f32 with 64 layers is a 1.07 GB pair).
#include <charconv>
#include <cstdio>
#include <string_view>

#include "bench_pairs.h"

int main(int argc, char** argv) {
  using namespace sigdump::bench;
  pair_kind kind{};
  int layers = 0;
  const std::string_view n = argc == 5 ? argv[2] : "";
  const auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), layers);
  if (argc != 5 || !parse_pair_kind(argv[1], kind) || ec != std::errc{} ||
      end != n.data() + n.size() || layers < 1) {
    std::fprintf(stderr, "usage: make_bench_pair f32|quant|nchw LAYERS SAMPLE BENCHMARK\n");
    return 2;
  }
  if (!write_pair_side(kind, layers, argv[3], true) ||
      !write_pair_side(kind, layers, argv[4], false)) {
    std::fprintf(stderr, "make_bench_pair: cannot write %s or %s\n", argv[3], argv[4]);
    return 1;
  }
  return 0;
}
