#include "compare_inputs.h"

#include "command.h"
#include "sigdump/name_map.h"

namespace sigdump::cli {

result<compare_inputs> load_compare_inputs(const std::string& sample_path,
                                           const parse_options& sample_format,
                                           const std::string& bench_path,
                                           const parse_options& bench_format,
                                           const std::string& name_map_path,
                                           const std::string& quant_params_path,
                                           compare_options& options) {
  if (!name_map_path.empty()) {
    auto m = load_name_map(name_map_path);
    if (!m) return std::unexpected(std::move(m.error()));
    options.name_map = std::move(*m);
  }
  std::optional<std::vector<quant_param>> qp;
  if (!quant_params_path.empty()) {
    auto q = load_quant_params(quant_params_path);
    if (!q) return std::unexpected(std::move(q.error()));
    qp = std::move(*q);
  }
  auto sample = dump_file::open(sample_path, sample_format);
  if (!sample) return std::unexpected(std::move(sample.error()));
  auto bench = dump_file::open(bench_path, bench_format);
  if (!bench) return std::unexpected(std::move(bench.error()));
  for (const dump_file* f : {&*sample, &*bench}) {
    if (auto tail = f->parser().tail_error()) {
      warn(tail->describe() + " (compared the complete records only)");
    }
  }
  return compare_inputs{std::move(*sample), std::move(*bench), std::move(qp)};
}

void warn_inputs(const compare_report& report) {
  for (const input_warning& w : report.warnings) warn(w.text());
}

}  // namespace sigdump::cli
