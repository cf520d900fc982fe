// What `sigdump compare` and `sigdump report` both need before comparing:
// the name map and quantization parameters loaded, both dumps opened, and a
// warning for a dump whose tail is cut.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sigdump/compare.h"
#include "sigdump/compare_options.h"
#include "sigdump/dump_file.h"
#include "sigdump/error.h"
#include "sigdump/quant_params.h"

namespace sigdump::cli {

struct compare_inputs {
  dump_file sample, bench;
  std::optional<std::vector<quant_param>> quant_params;  // set when a file was given

  const std::vector<quant_param>* quant_params_or_null() const noexcept {
    return quant_params ? &*quant_params : nullptr;
  }
};

/* Loads name_map_path (if not empty) into options.name_map and
   quant_params_path (if not empty), opens both dumps, and warns on stderr
   about a cut tail ("compared the complete records only"). The first
   failure is returned as it is. */
result<compare_inputs> load_compare_inputs(const std::string& sample_path,
                                           const parse_options& sample_format,
                                           const std::string& bench_path,
                                           const parse_options& bench_format,
                                           const std::string& name_map_path,
                                           const std::string& quant_params_path,
                                           compare_options& options);

/* Prints each of the report's input warnings (a float sample against a
   fixed-point benchmark, a zero scale, identical files) on stderr, one
   line each. */
void warn_inputs(const compare_report& report);

/* Record `chosen` of sample against the record of the same name in the
   benchmark at bench_path (exact, then sanitized; its last output record),
   compared as `sigdump compare` would, with per-channel evidence (`sigdump
   show --channels`, the demo). An error message, or empty with `out` set. */
std::string compare_channels(const dump_file& sample, std::uint32_t chosen,
                             const std::string& bench_path, layer_result& out);

}  // namespace sigdump::cli
