// `sigdump simulate`: the built-in miniature IPU simulator as a real writer
// process (docs/demo.md).
#include <charconv>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "command.h"
#include "sigdump/sim/input_config.h"
#include "sigdump/sim/network.h"
#include "sigdump/sim/vendor_metrics.h"
#include "sigdump/sim/writer.h"

namespace sigdump::cli {
namespace {

constexpr const char* simulate_help =
    R"(usage: sigdump simulate --out FILE [--mode float|fixed] [options]

Runs the built-in miniature IPU simulator: a small convolutional network on a
compiled-in 32x32 picture, as a float32 reference (float) or as an emulated
fixed-point model (fixed: UINT8 activations, INT8 weights, INT32 biases,
integer MACs and requantization). Writes every layer to FILE in the binary
format of the IPU simulator's sigma_outtensor_dump.bin ("isFloat: 1|0" line,
per op its "//in K" records, constants flagged bConstant:1, then "//out 0",
each followed by "\n};\n"), one write(2) per record, layer by layer, so a
watcher sees layers complete one by one. FILE is created or overwritten.

The layer conv3_1/linear/bn_xx is built to lose precision in 8 bits: its
input conv3_1/expand/bn_xx_xx has a few channels ~100x larger than the rest.
Put that tensor in INT16 (--int16 or an input_config.ini) to recover it.

options:
  --out FILE            dump file to write (required)
  --mode float|fixed    float reference or fixed-point model (default: float)
  --int16 NAME[,NAME]   fixed: quantize these tensors as SGS_S16; each names the
                        first input of a convolution, like tensor_arrays (repeatable)
  --input-config FILE   fixed: read INT16 tensors from the [CONV_CONFIG] section of
                        a vendor input_config.ini: tensor_arrays='a,b'; and
                        input_format=ALL_INT16;
  --dequant             fixed: write dequantized float32 payloads (isFloat: 1), as
                        DebugConfig.txt's dequantFixed does
  --pace-ms N           sleep N milliseconds between layers (default: 0)
  --cut-after K         write K records, then half of the next one, and exit 0
                        (a file cut mid-record, as while the simulator runs)
  --repeat N            write the run N times into the same file (default: 1)
  --check               also print each layer's MSE/COS/RMSE against the float
                        reference, in the vendor's report format, on stdout
  -h, --help            show this help

exit status: 0 written, 2 bad usage or FILE not writable.

examples:
  sigdump simulate --mode float --out float.bin
  sigdump simulate --mode fixed --out fixed.bin --check
  sigdump simulate --mode fixed --int16 conv3_1/expand/bn_xx_xx --out fixed16.bin
  sigdump simulate --mode fixed --input-config input_config.ini --pace-ms 200 --out live.bin
)";

bool parse_int(std::string_view s, long long lo, long long hi, long long& out) {
  long long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || v < lo || v > hi) return false;
  out = v;
  return true;
}

void split_names(std::string_view list, std::vector<std::string>& out) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    std::string_view name = list.substr(0, comma);
    if (!name.empty()) out.emplace_back(name);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

void print_check(const std::vector<sim::sim_layer>& fixed) {
  const auto ref = sim::run_network(sim::sim_config{});
  for (std::size_t i = 0; i < fixed.size() && i < ref.size(); ++i) {
    const auto m = sim::vendor_metrics(fixed[i].output.real, ref[i].output.real);
    std::printf("%zu) %s MSE: %f COS: %f RMSE: %f\n", i, fixed[i].output.name.c_str(), m.mse, m.cos,
                m.rmse);
  }
}

int run_simulate(const std::vector<std::string>& args) {
  std::string out, mode = "float", input_config;
  std::vector<std::string> int16_names;
  sim::sim_config config;
  sim::sim_write_options options;
  bool check = false, int16_given = false;

  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string opt = args[i], value;
    bool has_inline = false;
    if (opt.starts_with("--")) {
      if (const auto eq = opt.find('='); eq != std::string::npos) {
        value = opt.substr(eq + 1);
        opt.resize(eq);
        has_inline = true;
      }
    }
    const auto take = [&](std::string& dst) {
      if (has_inline) {
        dst = value;
        return true;
      }
      if (i + 1 >= args.size()) return false;
      dst = args[++i];
      return true;
    };
    const auto missing = [&] { return fail("simulate: option " + opt + " needs a value"); };
    long long n = 0;
    if (opt == "--out") {
      if (!take(out) || out.empty()) return missing();
    } else if (opt == "--mode") {
      if (!take(mode)) return missing();
      if (mode != "float" && mode != "fixed")
        return fail("simulate: --mode must be 'float' or 'fixed', not '" + mode + "'");
    } else if (opt == "--int16") {
      std::string list;
      if (!take(list)) return missing();
      split_names(list, int16_names);
      int16_given = true;
    } else if (opt == "--input-config") {
      if (!take(input_config) || input_config.empty()) return missing();
    } else if (opt == "--pace-ms") {
      if (!take(value)) return missing();
      if (!parse_int(value, 0, 3'600'000, n))
        return fail("simulate: --pace-ms wants milliseconds from 0 to 3600000, not '" + value +
                    "'");
      options.pace = std::chrono::milliseconds(n);
    } else if (opt == "--cut-after") {
      if (!take(value)) return missing();
      if (!parse_int(value, 0, 1'000'000'000, n))
        return fail("simulate: --cut-after wants a record count >= 0, not '" + value + "'");
      options.cut_after = n;
    } else if (opt == "--repeat") {
      if (!take(value)) return missing();
      if (!parse_int(value, 1, 100'000, n))
        return fail("simulate: --repeat wants a count from 1 to 100000, not '" + value + "'");
      options.repeat = static_cast<int>(n);
    } else if (opt == "--dequant" && !has_inline) {
      config.dequant = true;
    } else if (opt == "--check" && !has_inline) {
      check = true;
    } else {
      return fail("simulate: unknown option '" + args[i] + "'; see 'sigdump simulate --help'");
    }
  }
  if (out.empty()) return fail("simulate: --out FILE is required; see 'sigdump simulate --help'");
  config.fixed = mode == "fixed";

  bool all_int16 = false;
  if (!input_config.empty()) {
    auto cfg = sim::read_input_config(input_config);
    if (!cfg) return fail(cfg.error().describe());
    if (!cfg->has_section) warn(input_config + ": no [CONV_CONFIG] section; nothing set to INT16");
    int16_names.insert(int16_names.end(), cfg->tensor_arrays.begin(), cfg->tensor_arrays.end());
    all_int16 = cfg->all_int16;
  }
  auto choice = sim::resolve_int16(int16_names, all_int16);
  if (!choice) return fail("simulate: " + choice.error().describe());
  for (const auto& w : choice->warnings) warn(w);
  if (!config.fixed) {
    if (int16_given || !input_config.empty())
      warn("INT16 settings apply to --mode fixed only; ignored for the float model");
    if (config.dequant) warn("--dequant applies to --mode fixed only; ignored");
    config.dequant = false;
  } else {
    config.int16 = choice->applied;
  }

  const auto layers = sim::run_network(config);
  auto writer = dump_writer::create(out, sim::simulator_writer_options(config));
  if (!writer) return fail(writer.error().describe());
  auto written = sim::write_layers(*writer, layers, config, options);
  if (!written) return fail(written.error().describe());
  if (auto c = writer->close(); !c) return fail(c.error().describe());
  if (check) print_check(layers);
  return exit_ok;
}

const command_registrar reg{command{
    "simulate",
    "run the built-in miniature IPU simulator and write its tensor dump",
    simulate_help,
    run_simulate,
    true,
}};

}  // namespace
}  // namespace sigdump::cli
