// `sigdump simulate`, the built-in miniature IPU simulator, driven as a real
// process; its dumps are read back with libdump and judged with the vendor's
// formulas computed here from the dumps' real values.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "sigdump/dump_file.h"
#include "sigdump/record.h"
#include "test_support.h"

namespace {

using sigdump::dtype;
using sigdump::dump_file;
using sigdump::record_kind;
using sigdump::testing::bin_path;
using sigdump::testing::read_file;
using sigdump::testing::run;
using sigdump::testing::temp_dir;
using sigdump::testing::write_file;

constexpr const char* breaking_layer = "conv3_1/linear/bn_xx";
constexpr const char* breaking_input = "conv3_1/expand/bn_xx_xx";
constexpr std::size_t layer_count = 13;

void simulate(const std::vector<std::string>& args) {
  std::vector<std::string> argv{bin_path("sigdump"), "simulate"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto r = run(argv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

dump_file open_dump(const std::string& path) {
  auto f = dump_file::open(path);
  if (!f) throw std::runtime_error(f.error().describe());
  return std::move(*f);
}

std::vector<double> values(const dump_file& f, std::uint32_t i) {
  auto v = f.view(i);
  if (!v) throw std::runtime_error(v.error().describe());
  std::vector<double> out(v->elements);
  v->read(0, out);
  return out;
}

struct metrics {
  double cos = 0, rmse = 0;
};

// docs/format.md, "How the vendor compares": COS = sum(a*b)/(|a||b|),
// RMSE = sum|a-b|/sum|b| (b = benchmark).
metrics vendor_metrics(const std::vector<double>& a, const std::vector<double>& b) {
  double ab = 0, aa = 0, bb = 0, diff = 0, abs_b = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
    diff += std::fabs(a[i] - b[i]);
    abs_b += std::fabs(b[i]);
  }
  return {aa > 0 && bb > 0 ? ab / (std::sqrt(aa) * std::sqrt(bb)) : 0,
          abs_b > 0 ? diff / abs_b : 0};
}

// Layer name -> metrics of every layer output of `sample` against `bench`.
std::map<std::string, metrics> compare(const dump_file& sample, const dump_file& bench) {
  std::map<std::string, std::uint32_t> bench_out;
  for (const auto& r : bench.records())
    if (r.is_layer_output()) bench_out[r.name] = r.index;
  std::map<std::string, metrics> out;
  for (const auto& r : sample.records()) {
    if (!r.is_layer_output()) continue;
    auto it = bench_out.find(r.name);
    if (it == bench_out.end()) throw std::runtime_error("no benchmark layer " + r.name);
    out[r.name] = vendor_metrics(values(sample, r.index), values(bench, it->second));
  }
  return out;
}

std::vector<std::string> layer_order(const dump_file& f) {
  std::vector<std::string> names;
  for (const auto& r : f.records())
    if (r.is_layer_output()) names.push_back(r.name);
  return names;
}

TEST(Simulate, FloatDumpHasTheSimulatorsRecordStructure) {
  temp_dir dir;
  const auto path = dir.file("float.bin");
  simulate({"--mode", "float", "--out", path});
  const auto f = open_dump(path);
  const std::string bytes = read_file(path);
  ASSERT_TRUE(bytes.starts_with("isFloat: 1\n"));
  EXPECT_TRUE(f.is_float());
  EXPECT_FALSE(f.pending().has_value());

  std::int64_t last_out_op = -1;
  std::int64_t current_op = -1;
  std::size_t outs = 0, constants = 0;
  for (const auto& r : f.records()) {
    ASSERT_TRUE(r.ok()) << r.name << ": " << r.problem;
    EXPECT_EQ(r.type, dtype::f32) << r.name;
    EXPECT_EQ(r.payload_bytes, r.elements * 4) << r.name;
    // Every record ends with the simulator's trailer.
    ASSERT_EQ(bytes.substr(r.payload_offset + r.payload_bytes, 4), "\n};\n") << r.name;
    // Records of one op stay together: inputs first, then its one output.
    if (r.op_index != current_op) {
      EXPECT_EQ(current_op, last_out_op)
          << "op " << current_op << " had no //out before " << r.name;
      EXPECT_GT(r.op_index, current_op) << r.name;
      current_op = r.op_index;
    }
    if (r.kind == record_kind::out) {
      EXPECT_FALSE(r.constant) << r.name;
      EXPECT_EQ(r.port, 0u);
      EXPECT_GT(r.op_index, last_out_op);
      last_out_op = r.op_index;
      ++outs;
    } else if (r.constant) {
      ++constants;
      EXPECT_TRUE(r.name.ends_with("/weights") || r.name.ends_with("/bias")) << r.name;
      EXPECT_TRUE(r.op_type == "CONV_2D" || r.op_type == "DEPTHWISE_CONV_2D" ||
                  r.op_type == "FULLY_CONNECTED")
          << r.op_type;
    }
  }
  EXPECT_EQ(outs, layer_count);
  EXPECT_EQ(constants, 2 * 7u);  // 6 convolutions and fc6, weights and bias each
  EXPECT_EQ(f.records().back().name, "prob");
  EXPECT_EQ(f.records().back().op_type, "SOFTMAX");

  // The breaking convolution's first input names the tensor to put in INT16.
  bool found = false;
  for (std::size_t i = 0; i + 1 < f.records().size(); ++i) {
    const auto& r = f.records()[i];
    if (r.kind == record_kind::in && r.port == 0 && r.op_type == "CONV_2D" &&
        r.name == breaking_input) {
      found = true;
    }
  }
  EXPECT_TRUE(found);
  const auto order = layer_order(f);
  ASSERT_EQ(order.size(), layer_count);
  EXPECT_EQ(order.front(), "data");
}

TEST(Simulate, FixedDumpHoldsRawUint8WithScaleAndZeroPoint) {
  temp_dir dir;
  const auto path = dir.file("fixed.bin");
  simulate({"--mode", "fixed", "--out", path});
  const auto f = open_dump(path);
  ASSERT_TRUE(read_file(path).starts_with("isFloat: 0\n"));
  EXPECT_FALSE(f.is_float());
  for (const auto& r : f.records()) {
    ASSERT_TRUE(r.ok()) << r.name << ": " << r.problem;
    EXPECT_GT(r.scale, 0.0) << r.name;
    if (!r.constant) {
      EXPECT_EQ(r.type, dtype::u8) << r.name;
      EXPECT_EQ(r.storage, dtype::u8) << r.name;
      EXPECT_EQ(r.payload_bytes, r.elements) << r.name;
      EXPECT_GE(r.zero_point, 0) << r.name;
      EXPECT_LE(r.zero_point, 255) << r.name;
      EXPECT_LT(r.scale, 10.0) << r.name;
    } else {
      EXPECT_EQ(r.zero_point, 0) << r.name;
      EXPECT_EQ(r.type, r.name.ends_with("/bias") ? dtype::s32 : dtype::s8) << r.name;
    }
  }
  // Relu outputs are calibrated from 0: zero point 0.
  for (const auto& r : f.records()) {
    if (r.is_layer_output() && r.name == "conv1/bn_xx_xx") {
      EXPECT_EQ(r.zero_point, 0);
    }
  }
}

TEST(Simulate, DesignedLayerBreaksIn8BitsAndRecoversInInt16) {
  temp_dir dir;
  const auto float_path = dir.file("float.bin");
  const auto fixed_path = dir.file("fixed.bin");
  const auto int16_path = dir.file("fixed_int16.bin");
  const auto ini_path = dir.file("fixed_ini.bin");
  const auto ini = dir.file("input_config.ini");
  write_file(ini,
             "[INPUT_CONFIG]\n"
             "inputs=data;\n"
             "\n"
             "[CONV_CONFIG]\n"
             "tensor_arrays='" +
                 std::string(breaking_input) + "';\n");
  simulate({"--mode", "float", "--out", float_path});
  simulate({"--mode", "fixed", "--out", fixed_path});
  simulate({"--mode", "fixed", "--int16", breaking_input, "--out", int16_path});
  simulate({"--mode", "fixed", "--input-config", ini, "--out", ini_path});

  const auto bench = open_dump(float_path);
  const auto order = layer_order(bench);
  const auto breaking = std::find(order.begin(), order.end(), breaking_layer) - order.begin();
  ASSERT_LT(static_cast<std::size_t>(breaking), order.size());

  const auto plain = compare(open_dump(fixed_path), bench);
  for (std::size_t i = 0; i < static_cast<std::size_t>(breaking); ++i) {
    EXPECT_GT(plain.at(order[i]).cos, 0.999) << order[i];
    EXPECT_LT(plain.at(order[i]).rmse, 0.1) << order[i];
  }
  EXPECT_LT(plain.at(breaking_layer).cos, 0.99);
  EXPECT_GT(plain.at(breaking_layer).cos, 0.8);
  EXPECT_GT(plain.at(breaking_layer).rmse, 0.1);

  for (const auto* path : {&int16_path, &ini_path}) {
    const auto fixed16 = open_dump(*path);
    for (const auto& r : fixed16.records()) {
      if (r.name == breaking_input) {
        EXPECT_EQ(r.type, dtype::s16) << *path;
      }
    }
    const auto m = compare(fixed16, bench);
    EXPECT_GT(m.at(breaking_layer).cos, 0.99) << *path;
    EXPECT_LT(m.at(breaking_layer).rmse, 0.1) << *path;
    for (std::size_t i = static_cast<std::size_t>(breaking); i < order.size(); ++i)
      EXPECT_GT(m.at(order[i]).cos, 0.99) << *path << ": " << order[i];
  }
}

TEST(Simulate, AllInt16FromInputConfig) {
  temp_dir dir;
  const auto ini = dir.file("input_config.ini");
  write_file(ini, "[CONV_CONFIG]\ninput_format=ALL_INT16;\n");
  const auto path = dir.file("fixed.bin");
  simulate({"--mode", "fixed", "--input-config", ini, "--out", path});
  const auto f = open_dump(path);
  std::map<std::string, dtype> types;
  for (const auto& r : f.records())
    if (r.is_layer_output()) types[r.name] = r.type;
  EXPECT_EQ(types.at("data"), dtype::u8);  // the first convolution's input stays 8-bit
  EXPECT_EQ(types.at("conv1/bn_xx_xx"), dtype::s16);
  EXPECT_EQ(types.at(breaking_input), dtype::s16);
  EXPECT_EQ(types.at("block_2_1"), dtype::u8);  // feeds no convolution
  EXPECT_EQ(types.at("prob"), dtype::u8);
}

TEST(Simulate, DequantWritesFloatPayloadsOfTheFixedModel) {
  temp_dir dir;
  const auto raw_path = dir.file("fixed.bin");
  const auto deq_path = dir.file("dequant.bin");
  simulate({"--mode", "fixed", "--out", raw_path});
  simulate({"--mode", "fixed", "--dequant", "--out", deq_path});
  const auto raw = open_dump(raw_path);
  const auto deq = open_dump(deq_path);
  EXPECT_TRUE(deq.is_float());
  ASSERT_EQ(raw.records().size(), deq.records().size());
  for (std::uint32_t i = 0; i < raw.records().size(); ++i) {
    const auto& r = deq.records()[i];
    EXPECT_EQ(r.storage, dtype::f32);
    EXPECT_EQ(r.type, raw.records()[i].type) << r.name;  // the header keeps the fixed type
    if (!r.is_layer_output()) continue;
    const auto a = values(deq, i), b = values(raw, i);
    ASSERT_EQ(a.size(), b.size());
    // The raw dump is read back through the scale printed with %f.
    for (std::size_t k = 0; k < a.size(); ++k)
      ASSERT_NEAR(a[k], b[k], 1e-3 + 1e-3 * std::fabs(b[k])) << r.name << " [" << k << "]";
  }
}

TEST(Simulate, OutputIsDeterministic) {
  temp_dir dir;
  for (const char* mode : {"float", "fixed"}) {
    simulate({"--mode", mode, "--out", dir.file("a.bin")});
    simulate({"--mode", mode, "--out", dir.file("b.bin")});
    EXPECT_EQ(read_file(dir.file("a.bin")), read_file(dir.file("b.bin"))) << mode;
  }
}

TEST(Simulate, CutAfterLeavesAPendingRecord) {
  temp_dir dir;
  const auto full_path = dir.file("full.bin");
  const auto cut_path = dir.file("cut.bin");
  simulate({"--mode", "fixed", "--out", full_path});
  simulate({"--mode", "fixed", "--cut-after", "5", "--out", cut_path});
  const std::string full = read_file(full_path), cut = read_file(cut_path);
  ASSERT_LT(cut.size(), full.size());
  EXPECT_EQ(full.substr(0, cut.size()), cut);  // a prefix of the real run
  const auto f = open_dump(cut_path);
  EXPECT_EQ(f.records().size(), 5u);
  ASSERT_TRUE(f.pending().has_value());
  EXPECT_EQ(f.pending()->record, 5);
  EXPECT_GE(f.pending()->offset, f.records().back().end_offset);
  EXPECT_EQ(f.pending()->name, "conv1/bn_xx_xx");  // "//in 0" of conv2_1/dwise, header complete
}

TEST(Simulate, RepeatWritesRunsBackToBack) {
  temp_dir dir;
  const auto one = dir.file("one.bin");
  const auto two = dir.file("two.bin");
  simulate({"--mode", "float", "--out", one});
  simulate({"--mode", "float", "--repeat", "2", "--out", two});
  const auto a = open_dump(one);
  const auto b = open_dump(two);
  ASSERT_EQ(b.records().size(), 2 * a.records().size());
  const std::size_t n = a.records().size();
  EXPECT_EQ(b.records()[n].op_index, 0);
  EXPECT_EQ(b.records()[n].name, "data");
  const auto order = layer_order(b);
  EXPECT_EQ(std::count(order.begin(), order.end(), "prob"), 2);
}

TEST(Simulate, PacedRunIsReadableWhileBeingWritten) {
  temp_dir dir;
  const auto path = dir.file("live.bin");
  // A long pace: the second layer cannot appear before we look.
  sigdump::testing::child writer(
      {bin_path("sigdump"), "simulate", "--mode", "fixed", "--pace-ms", "30000", "--out", path});
  std::size_t seen = 0;
  ASSERT_TRUE(sigdump::testing::wait_until([&] {
    auto f = dump_file::open(path);
    if (!f) return false;
    seen = f->records().size();
    return seen >= 1;
  }));
  EXPECT_EQ(seen, 1u);  // "data" only: the run goes on layer by layer
  EXPECT_TRUE(writer.signal(SIGTERM));
  writer.wait();
}

TEST(Simulate, BadUsageExitsTwoWithOneLine) {
  temp_dir dir;
  const auto sig = bin_path("sigdump");
  const std::vector<std::vector<std::string>> cases = {
      {sig, "simulate", "--bogus", "--out", dir.file("x.bin")},
      {sig, "simulate", "--mode", "half", "--out", dir.file("x.bin")},
      {sig, "simulate", "--mode", "fixed"},
      {sig, "simulate", "--out", dir.file("no/such/dir/x.bin")},
      {sig, "simulate", "--mode", "fixed", "--int16", "no_such_tensor", "--out", dir.file("x.bin")},
      {sig, "simulate", "--pace-ms", "-3", "--out", dir.file("x.bin")},
      {sig, "simulate", "--input-config", dir.file("missing.ini"), "--out", dir.file("x.bin")},
  };
  for (const auto& argv : cases) {
    const auto r = run(argv);
    EXPECT_EQ(r.exit_code, 2) << argv[2];
    EXPECT_TRUE(r.err.starts_with("sigdump: error: ")) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

TEST(Simulate, HelpDescribesEveryOption) {
  const auto r = run({bin_path("sigdump"), "simulate", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* opt : {"--mode", "--out", "--int16", "--input-config", "--pace-ms", "--dequant",
                          "--cut-after", "--repeat", "--check"})
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
}

}  // namespace
