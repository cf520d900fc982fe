// Fuzz target for the JSON files a user hands to `compare`: the vendor's
// quant-param list (--quant-params) and a name map (--name-map). The bytes
// are written to a temporary file and loaded both ways. Invariants: no
// crash and no undefined behaviour (huge or fractional numbers included);
// an error names the file; every loaded entry has a bit width in range.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_input.h"
#include "sigdump/name_map.h"
#include "sigdump/quant_params.h"

namespace {

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "quant_params_fuzz: invariant broken: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const sigdump::fuzz::input_file file(data, size);
  if (file.path().empty()) return 0;
  const std::string& path = file.path();
  auto q = sigdump::load_quant_params(path);
  if (!q && q.error().file != path) broken("a quant-param error that does not name the file");
  if (q) {
    for (const auto& p : *q) {
      if (p.bit < 1 || p.bit > 64) broken("a bit width out of range was accepted");
    }
  }
  auto m = sigdump::load_name_map(path);
  if (!m && m.error().file != path) broken("a name-map error that does not name the file");
  return 0;
}
