#include "compare_inputs.h"

#include "command.h"
#include "sigdump/channel_metrics.h"
#include "sigdump/name_map.h"
#include "sigdump/record_index.h"

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

std::string compare_channels(const dump_file& sample, std::uint32_t chosen,
                             const std::string& bench_path, layer_result& out) {
  auto b = dump_file::open(bench_path);
  if (!b) return b.error().describe();
  const auto& recs = b->records();
  const std::string& name = sample.records()[chosen].name;
  auto ids = b->index().find(recs, name);
  if (ids.empty()) ids = b->index().find_sanitized(recs, name);
  if (ids.empty()) return bench_path + ": no record named '" + name + "'";
  std::uint32_t bi = ids.back();
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    if (recs[*it].kind == record_kind::out) {
      bi = *it;
      break;
    }
  }
  compare_options o;
  o.threads = 1;
  out = compare_layer(sample, chosen, *b, bi, o);
  if (out.error.empty()) {
    auto sv = sample.view(chosen);
    auto bv = b->view(bi);
    if (!sv || !bv) return (sv ? bv.error() : sv.error()).describe();
    auto ev = compute_channel_evidence(*sv, *bv, out.layout);
    if (!ev) return ev.error().describe();
    out.channels = std::move(*ev);
  }
  return {};
}

}  // namespace sigdump::cli
