// compare_dumps and friends on real files written with dump_writer: every
// matching rule, layouts, errors per layer, determinism, the renderings and
// the export folders.
#include "sigdump/compare.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "sigdump/dump_file.h"
#include "sigdump/dump_writer.h"
#include "sigdump/name_map.h"
#include "sigdump/report/export_layers.h"
#include "sigdump/report/report_csv.h"
#include "sigdump/report/report_json.h"
#include "sigdump/report/report_text.h"
#include "test_support.h"

namespace sigdump {
namespace {

using testing::temp_dir;

struct layer_def {
  layer_def(std::string n, std::vector<std::int64_t> s, std::vector<float> v,
            std::string o = "CONV_2D", std::int64_t oi = 0, record_kind k = record_kind::out,
            std::uint32_t p = 0, bool c = false)
      : name(std::move(n)),
        shape(std::move(s)),
        values(std::move(v)),
        op(std::move(o)),
        op_index(oi),
        kind(k),
        port(p),
        constant(c) {}
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<float> values;
  std::string op = "CONV_2D";
  std::int64_t op_index = 0;
  record_kind kind = record_kind::out;
  std::uint32_t port = 0;
  bool constant = false;
  dtype type = dtype::f32;
  double scale = 1.0;
  std::int64_t zero = 0;
  std::string type_name;
};

std::vector<float> wave(std::size_t n, double phase = 0, double noise = 0) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(i);
    v[i] = static_cast<float>(std::sin(x * 0.37 + phase) + noise * std::cos(x * 1.91));
  }
  return v;
}

void write_dump(const std::string& path, const std::vector<layer_def>& defs,
                writer_options o = {}) {
  auto w = dump_writer::create(path, o);
  ASSERT_TRUE(w.has_value()) << w.error().describe();
  for (const auto& d : defs) {
    tensor_spec s;
    s.name = d.name;
    s.shape = d.shape;
    s.op_type = d.op;
    s.op_index = d.op_index;
    s.kind = d.kind;
    s.port = d.port;
    s.constant = d.constant;
    s.type = d.type;
    s.scale = d.scale;
    s.zero_point = d.zero;
    s.type_name = d.type_name;
    auto r = w->write(s, d.values);
    ASSERT_TRUE(r.has_value()) << r.error().describe();
  }
  ASSERT_TRUE(w->close().has_value());
}

dump_file open_dump(const std::string& path) {
  auto f = dump_file::open(path);
  if (!f.has_value()) throw std::runtime_error(f.error().describe());
  return std::move(f).value();
}

compare_report compare(const std::string& a, const std::string& b, compare_options o = {}) {
  const dump_file fa = open_dump(a), fb = open_dump(b);
  auto r = compare_dumps(fa, fb, o);
  EXPECT_TRUE(r.has_value());
  return std::move(*r);
}

TEST(Compare, ExactNameKindAndPort) {
  temp_dir t;
  const auto a0 = wave(12), a1 = wave(12, 1.0);
  write_dump(t.file("s.bin"), {{"split", {12}, a0, "SPLIT", 0, record_kind::out, 0},
                               {"split", {12}, a1, "SPLIT", 0, record_kind::out, 1}});
  // Benchmark holds the ports in the other order: matching must use the port.
  write_dump(t.file("b.bin"), {{"split", {12}, a1, "SPLIT", 0, record_kind::out, 1},
                               {"split", {12}, a0, "SPLIT", 0, record_kind::out, 0}});
  const compare_report r = compare(t.file("s.bin"), t.file("b.bin"));
  ASSERT_EQ(r.layers.size(), 2u);
  for (const auto& l : r.layers) {
    EXPECT_TRUE(l.error.empty()) << l.error;
    EXPECT_EQ(l.rule, match_rule::exact);
    EXPECT_EQ(l.metrics.mse, 0.0);
    EXPECT_FALSE(l.suspect);
  }
  EXPECT_EQ(r.layers[0].bench_record, 1);
  EXPECT_EQ(r.layers[1].bench_record, 0);
  EXPECT_FALSE(r.any_suspect_or_error());
}

TEST(Compare, SanitizedNamesMatchCaffeBenchmarks) {
  temp_dir t;
  const auto v = wave(10);
  write_dump(t.file("s.bin"), {{"conv1/bn_xx:0", {10}, v}});
  write_dump(t.file("b.bin"), {{"conv1_bn_xx0", {10}, v}});
  const compare_report r = compare(t.file("s.bin"), t.file("b.bin"));
  ASSERT_EQ(r.layers.size(), 1u);
  EXPECT_EQ(r.layers[0].rule, match_rule::sanitized);
  EXPECT_EQ(r.layers[0].benchmark_name, "conv1_bn_xx0");
  EXPECT_TRUE(r.unmatched_sample.empty());
  EXPECT_TRUE(r.unmatched_benchmark.empty());
}

TEST(Compare, NameMapAndUnmatchedOnBothSides) {
  temp_dir t;
  const auto v = wave(8);
  write_dump(t.file("s.bin"), {{"fc7", {8}, v}, {"only_sample", {8}, v}});
  write_dump(t.file("b.bin"), {{"InnerProduct_7", {8}, v}, {"only_bench", {8}, v}});
  compare_options o;
  o.name_map = {{"fc7", "InnerProduct_7"}};
  const compare_report r = compare(t.file("s.bin"), t.file("b.bin"), o);
  ASSERT_EQ(r.layers.size(), 1u);
  EXPECT_EQ(r.layers[0].rule, match_rule::name_map);
  EXPECT_EQ(r.unmatched_sample, std::vector<std::string>{"only_sample"});
  EXPECT_EQ(r.unmatched_benchmark, std::vector<std::string>{"only_bench"});
  EXPECT_FALSE(r.any_suspect_or_error());  // unmatched layers are not errors
}

TEST(Compare, ConstantsAndInputsSkippedUnlessAsked) {
  temp_dir t;
  const auto v = wave(6);
  std::vector<layer_def> defs = {
      {"data", {6}, v, "CONV_2D", 1, record_kind::in, 0},
      {"w", {6}, v, "CONV_2D", 1, record_kind::in, 1, true},
      {"conv", {6}, v, "CONV_2D", 1},
  };
  write_dump(t.file("s.bin"), defs);
  write_dump(t.file("b.bin"), defs);
  EXPECT_EQ(compare(t.file("s.bin"), t.file("b.bin")).layers.size(), 1u);
  compare_options o;
  o.include_inputs = true;
  EXPECT_EQ(compare(t.file("s.bin"), t.file("b.bin"), o).layers.size(), 2u);
  o.include_constants = true;
  const compare_report r = compare(t.file("s.bin"), t.file("b.bin"), o);
  ASSERT_EQ(r.layers.size(), 3u);
  EXPECT_EQ(r.layers[0].name, "data");
  EXPECT_EQ(r.layers[1].name, "w");
}

TEST(Compare, RepeatedRunsMatchByOrdinalElseLast) {
  temp_dir t;
  const auto r1 = wave(16, 0.0), r2 = wave(16, 2.0), r3 = wave(16, 4.0);
  // Benchmark: three runs of one layer; sample: two runs equal to runs 1 and 2.
  write_dump(t.file("b.bin"), {{"x", {16}, r1}, {"x", {16}, r2}, {"x", {16}, r3}});
  write_dump(t.file("s.bin"), {{"x", {16}, r1}, {"x", {16}, r2}});
  compare_report r = compare(t.file("s.bin"), t.file("b.bin"));
  ASSERT_EQ(r.layers.size(), 2u);
  EXPECT_EQ(r.layers[0].bench_record, 0);
  EXPECT_EQ(r.layers[1].bench_record, 1);
  EXPECT_EQ(r.layers[1].metrics.mse, 0.0);
  EXPECT_TRUE(r.unmatched_benchmark.empty());  // run 3 of a matched name is not "only in bench"
  // Sample with more runs than the benchmark: the extra ones use the last.
  write_dump(t.file("b1.bin"), {{"x", {16}, r1}, {"x", {16}, r2}});
  write_dump(t.file("s3.bin"), {{"x", {16}, r1}, {"x", {16}, r2}, {"x", {16}, r3}});
  r = compare(t.file("s3.bin"), t.file("b1.bin"));
  ASSERT_EQ(r.layers.size(), 3u);
  EXPECT_EQ(r.layers[2].bench_record, 1);
  // The daemon's entry points agree.
  const dump_file s = open_dump(t.file("s3.bin")), b = open_dump(t.file("b1.bin"));
  EXPECT_EQ(occurrence_ordinal(s, 2), 2u);
  EXPECT_EQ(match_record(b, s.records()[0], occurrence_ordinal(s, 0), {}), 0);
  EXPECT_EQ(match_record(b, s.records()[0], {}), 1);  // no ordinal: the last
}

TEST(Compare, BenchmarkTransposedBothDirections) {
  temp_dir t;
  constexpr int N = 1, C = 3, H = 4, W = 5;
  std::vector<float> nchw(N * C * H * W), nhwc(nchw.size());
  for (int c = 0; c < C; ++c)
    for (int h = 0; h < H; ++h)
      for (int w = 0; w < W; ++w) {
        const float v = static_cast<float>(std::cos(c * 7.0 + h * 1.3 + w * 0.7));
        nchw[(c * H + h) * W + w] = v;
        nhwc[(h * W + w) * C + c] = v;
      }
  write_dump(t.file("nhwc.bin"), {{"t", {N, H, W, C}, nhwc}});
  write_dump(t.file("nchw.bin"), {{"t", {N, C, H, W}, nchw}});
  compare_report r = compare(t.file("nhwc.bin"), t.file("nchw.bin"));
  ASSERT_EQ(r.layers.size(), 1u);
  EXPECT_EQ(r.layers[0].layout, layout_choice::benchmark_nchw_to_nhwc);
  EXPECT_EQ(r.layers[0].metrics.mse, 0.0);
  r = compare(t.file("nchw.bin"), t.file("nhwc.bin"));
  EXPECT_EQ(r.layers[0].layout, layout_choice::benchmark_nhwc_to_nchw);
  EXPECT_EQ(r.layers[0].metrics.mse, 0.0);
  EXPECT_NE(report_text(r, false).find("NHWC -> NCHW for layer(s) 0"), std::string::npos);
}

TEST(Compare, EqualShapeRetriesTransposesBelowCos098) {
  temp_dir t;
  constexpr int S = 6;  // [1, 6, 6, 6]: both transposes fit the shape
  std::vector<float> nchw(S * S * S), nhwc(nchw.size());
  for (int c = 0; c < S; ++c)
    for (int h = 0; h < S; ++h)
      for (int w = 0; w < S; ++w) {
        const float v = static_cast<float>(std::sin(c * 3.1 + h * 0.9 + w * 0.2) + 0.1 * c);
        nchw[(c * S + h) * S + w] = v;
        nhwc[(h * S + w) * S + c] = v;
      }
  write_dump(t.file("s.bin"), {{"t", {1, S, S, S}, nhwc}});
  write_dump(t.file("b.bin"), {{"t", {1, S, S, S}, nchw}});
  const compare_report r = compare(t.file("s.bin"), t.file("b.bin"));
  ASSERT_EQ(r.layers.size(), 1u);
  EXPECT_EQ(r.layers[0].layout, layout_choice::benchmark_nchw_to_nhwc);
  EXPECT_EQ(r.layers[0].metrics.mse, 0.0);
  const compare_report back = compare(t.file("b.bin"), t.file("s.bin"));
  EXPECT_EQ(back.layers[0].layout, layout_choice::benchmark_nhwc_to_nchw);
  // Equal data stays "same" (COS 1 is not below 0.98).
  const compare_report same = compare(t.file("s.bin"), t.file("s.bin"));
  EXPECT_EQ(same.layers[0].layout, layout_choice::same);
}

TEST(Compare, BadLayersAreErrorsOthersStillCompared) {
  temp_dir t;
  const auto v = wave(12);
  write_dump(t.file("s.bin"), {{"ok1", {12}, v}, {"size", {12}, v}, {"ok2", {12}, v}});
  write_dump(t.file("b.bin"), {{"ok1", {12}, v}, {"size", {10}, wave(10)}, {"ok2", {12}, v}});
  const compare_report r = compare(t.file("s.bin"), t.file("b.bin"));
  ASSERT_EQ(r.layers.size(), 3u);
  EXPECT_TRUE(r.layers[0].error.empty());
  EXPECT_NE(r.layers[1].error.find("element count differs"), std::string::npos)
      << r.layers[1].error;
  EXPECT_TRUE(r.layers[2].error.empty());
  EXPECT_TRUE(r.any_suspect_or_error());
  ASSERT_TRUE(r.first_bad.has_value());  // nothing suspect: the first not comparable
  EXPECT_EQ(r.first_bad->index, 1u);
  EXPECT_EQ(r.first_bad->reason.rfind("not comparable: ", 0), 0u);
  EXPECT_NE(report_text(r, false).find("1) size ERROR: element count differs"), std::string::npos);
}

TEST(Compare, ProblemRecordAndUnknownTypeAreLayerErrors) {
  temp_dir t;
  const auto v = wave(4);
  {
    auto w = dump_writer::create(t.file("s.bin"));
    ASSERT_TRUE(w.has_value());
    tensor_spec s;
    s.name = "short";
    s.shape = {4};
    std::vector<std::byte> payload(8);  // 2 floats for a shape of 4
    ASSERT_TRUE(w->write_raw(s, payload).has_value());
    s.name = "weird";
    s.type_name = "SGS_F64";
    std::vector<std::byte> p16(16);
    ASSERT_TRUE(w->write_raw(s, p16).has_value());
    s.name = "fine";
    s.type_name.clear();
    ASSERT_TRUE(w->write(s, v).has_value());
    ASSERT_TRUE(w->close().has_value());
  }
  write_dump(t.file("b.bin"), {{"short", {4}, v}, {"weird", {4}, v}, {"fine", {4}, v}});
  const compare_report r = compare(t.file("s.bin"), t.file("b.bin"));
  ASSERT_EQ(r.layers.size(), 3u);
  EXPECT_FALSE(r.layers[0].error.empty());
  EXPECT_FALSE(r.layers[1].error.empty());
  EXPECT_TRUE(r.layers[2].error.empty()) << r.layers[2].error;
  EXPECT_EQ(r.layers[2].metrics.mse, 0.0);
}

TEST(Compare, FixedIntegerDumpsAgainstFloat) {
  for (dtype type : {dtype::u8, dtype::s8, dtype::u16, dtype::s16, dtype::s32}) {
    SCOPED_TRACE(dtype_vendor_name(type));
    temp_dir t;
    std::vector<float> v(64);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 17) * 0.5f + 1.0f;
    writer_options fixed;
    fixed.is_float = false;
    layer_def d{"q", {64}, v};
    d.type = type;
    d.scale = 0.5;  // every value is exactly representable: the round trip is exact
    d.zero = type == dtype::u8 || type == dtype::u16 ? 2 : -1;
    write_dump(t.file("s.bin"), {d}, fixed);
    write_dump(t.file("b.bin"), {{"q", {64}, v}});
    const compare_report r = compare(t.file("s.bin"), t.file("b.bin"));
    ASSERT_EQ(r.layers.size(), 1u);
    EXPECT_TRUE(r.layers[0].error.empty()) << r.layers[0].error;
    EXPECT_EQ(r.layers[0].metrics.mse, 0.0);
    EXPECT_DOUBLE_EQ(r.layers[0].metrics.cos, 1.0);
  }
}

TEST(Compare, TextAgainstBinary) {
  temp_dir t;
  const auto v = wave(40);
  writer_options text;
  text.variant = dump_variant::text;
  write_dump(t.file("s.txt"), {{"a", {2, 20}, v}}, text);
  write_dump(t.file("b.bin"), {{"a", {2, 20}, v}});
  const compare_report r = compare(t.file("s.txt"), t.file("b.bin"));
  ASSERT_EQ(r.layers.size(), 1u);
  EXPECT_TRUE(r.layers[0].error.empty()) << r.layers[0].error;
  EXPECT_LT(r.layers[0].metrics.max_abs, 1e-6);  // text holds 6 decimals
}

TEST(Compare, CompareLayerMatchesCompareDumps) {
  temp_dir t;
  write_dump(t.file("s.bin"), {{"a", {100}, wave(100, 0, 0.01)}, {"b", {50}, wave(50, 1, 0.2)}});
  write_dump(t.file("b.bin"), {{"a", {100}, wave(100)}, {"b", {50}, wave(50, 1)}});
  const dump_file s = open_dump(t.file("s.bin")), b = open_dump(t.file("b.bin"));
  auto full = compare_dumps(s, b, {});
  ASSERT_TRUE(full.has_value());
  compare_report live;
  live.thresholds = {};
  for (const record& rec : s.records()) {
    match_rule rule{};
    const std::int64_t bi = match_record(b, rec, occurrence_ordinal(s, rec.index), {}, &rule);
    ASSERT_GE(bi, 0);
    layer_result l = compare_layer(s, rec.index, b, static_cast<std::uint32_t>(bi), {});
    l.index = static_cast<std::uint32_t>(live.layers.size());
    live.layers.push_back(std::move(l));
    summarize(live, s);
  }
  live.sample_path = full->sample_path;
  live.benchmark_path = full->benchmark_path;
  live.bytes_compared = full->bytes_compared;
  EXPECT_EQ(report_json(live), report_json(*full));
}

TEST(Compare, ThreadCountDoesNotChangeTheAnswer) {
  temp_dir t;
  const std::size_t big = (std::size_t{1} << 20) + 999;
  write_dump(t.file("s.bin"), {{"big", {static_cast<std::int64_t>(big)}, wave(big, 0, 0.03)},
                               {"small", {33}, wave(33, 0, 0.1)},
                               {"big2", {static_cast<std::int64_t>(big)}, wave(big, 1, 0.3)}});
  write_dump(t.file("b.bin"), {{"big", {static_cast<std::int64_t>(big)}, wave(big)},
                               {"small", {33}, wave(33)},
                               {"big2", {static_cast<std::int64_t>(big)}, wave(big, 1)}});
  compare_options o1, o2;
  o1.threads = 1;
  o2.threads = 2;
  std::atomic<std::uint64_t> last{0};
  o2.progress = [&](std::uint64_t done, std::uint64_t total) {
    EXPECT_LE(done, total);
    std::uint64_t prev = last.load();
    while (done > prev && !last.compare_exchange_weak(prev, done)) {
    }
  };
  const std::string j1 = report_json(compare(t.file("s.bin"), t.file("b.bin"), o1));
  const compare_report r2 = compare(t.file("s.bin"), t.file("b.bin"), o2);
  EXPECT_EQ(j1, report_json(r2));
  EXPECT_EQ(last.load(), r2.bytes_compared);
}

// ---- renderings ---------------------------------------------------------

compare_report small_report(temp_dir& t) {
  write_dump(t.file("s.bin"), {{"data", {4}, {1, 2, 3, 4}, "INPUT", 0},
                               {"conv1/bn_xx_xx", {4}, {1, 2, 3, 5}, "CONV_2D", 1},
                               {"odd,\"name\"", {2}, {0, 0}, "ADD", 2},
                               {"gone", {3}, {1, 2, 3}, "ADD", 3}});
  write_dump(t.file("b.bin"), {{"data", {4}, {1, 2, 3, 4}, "INPUT", 0},
                               {"conv1/bn_xx_xx", {4}, {1, 2, 3, 4}, "CONV_2D", 1},
                               {"odd,\"name\"", {2}, {1, 0}, "ADD", 2},
                               {"gone", {2}, {1, 2}, "ADD", 3},
                               {"extra", {1}, {1}, "ADD", 4}});
  return compare(t.file("s.bin"), t.file("b.bin"));
}

TEST(CompareReport, TextIsTheGuideFormByteForByte) {
  temp_dir t;
  const compare_report r = small_report(t);
  const std::string text = report_text(r, false);
  const std::string expected_lines =
      "0) data MSE: 0.000000 COS: 1.000000 RMSE: 0.000000\n"
      "1) conv1/bn_xx_xx MSE: 0.250000 COS: 0.993999 RMSE: 0.100000\n"
      "2) odd,\"name\" MSE: 0.500000 COS: 0.000000 RMSE: 1.000000\n"
      "3) gone ERROR: element count differs: sample [3] has 3, benchmark [2] has 2\n"
      "\n";
  ASSERT_EQ(text.substr(0, expected_lines.size()), expected_lines);
  EXPECT_NE(text.find("summary: 3 layer(s) compared, 1 not comparable; suspect when COS < 0.99 "
                      "or RMSE > 0.1\n"),
            std::string::npos);
  EXPECT_NE(text.find("  benchmark only: extra\n"), std::string::npos);
  EXPECT_NE(text.find("first bad layer: 2) odd,\"name\": COS 0.000000 < 0.99, RMSE 1.000000 > "
                      "0.1\n"),
            std::string::npos);
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  EXPECT_NE(report_text(r, true).find("\x1b[31m2) odd"), std::string::npos);
}

TEST(CompareReport, JsonHasEveryContractKey) {
  temp_dir t;
  const compare_report r = small_report(t);
  const std::string json = report_json(r);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_EQ(p.parse(json).get(doc), simdjson::SUCCESS) << json;
  for (const char* k : {"sample", "benchmark", "thresholds", "layers", "first_bad", "diagnosis",
                        "unmatched", "advice"}) {
    EXPECT_EQ(doc[k].error(), simdjson::SUCCESS) << k;
  }
  EXPECT_DOUBLE_EQ(double(doc["thresholds"]["cos_min"]), 0.99);
  EXPECT_DOUBLE_EQ(double(doc["thresholds"]["rmse_max"]), 0.1);
  simdjson::dom::array layers = doc["layers"];
  ASSERT_EQ(layers.size(), 4u);
  for (simdjson::dom::element l : layers) {
    for (const char* k : {"index", "name", "benchmark_name", "op", "shape", "mse", "cos", "rmse",
                          "max_abs", "sqnr_db", "rel_l2", "layout", "suspect", "error"}) {
      EXPECT_EQ(l[k].error(), simdjson::SUCCESS) << k;
    }
  }
  simdjson::dom::element l2 = layers.at(2);
  EXPECT_EQ(std::string_view(l2["name"]), "odd,\"name\"");
  EXPECT_TRUE(l2["sqnr_db"].is_number());
  EXPECT_EQ(std::string_view(l2["layout"]), "same");
  EXPECT_TRUE(bool(l2["suspect"]));
  EXPECT_TRUE(l2["error"].is_null());
  simdjson::dom::element l3 = layers.at(3);
  EXPECT_TRUE(l3["mse"].is_null());
  EXPECT_TRUE(l3["error"].is_string());
  EXPECT_EQ(int64_t(doc["first_bad"]["index"]), 2);
  // The last comparable layer: no layer follows to show that its step stays.
  EXPECT_EQ(std::string_view(doc["diagnosis"]["kind"]), "drift");
  EXPECT_EQ(simdjson::dom::array(doc["unmatched"]["benchmark"]).size(), 1u);
  EXPECT_TRUE(doc["advice"]["tensor_arrays"].is_array());
  EXPECT_TRUE(doc["advice"]["input_config"].is_string());
  // Non-finite numbers become null: an all-zero benchmark gives RMSE inf.
  layer_result inf_layer;
  inf_layer.metrics.rmse = std::numeric_limits<double>::infinity();
  inf_layer.metrics.sqnr_db = -std::numeric_limits<double>::infinity();
  inf_layer.metrics.mse = std::numeric_limits<double>::quiet_NaN();
  const std::string lj = layer_json(inf_layer);
  ASSERT_EQ(p.parse(lj).get(doc), simdjson::SUCCESS) << lj;
  EXPECT_TRUE(doc["rmse"].is_null());
  EXPECT_TRUE(doc["sqnr_db"].is_null());
  EXPECT_TRUE(doc["mse"].is_null());
}

TEST(CompareReport, CsvHeaderRowsAndQuoting) {
  temp_dir t;
  const std::string csv = report_csv(small_report(t));
  EXPECT_EQ(csv.rfind("index,name,benchmark_name,op,shape,n,match,mse,cos,rmse,max_abs,sqnr_db,"
                      "rel_l2,sample_nan,sample_inf,benchmark_nan,benchmark_inf,layout,suspect,"
                      "error\n",
                      0),
            0u);
  EXPECT_NE(csv.find("\n0,data,data,INPUT,[4],4,exact,0,1,0,0,inf,0,0,0,0,0,same,false,\n"),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find("\n2,\"odd,\"\"name\"\"\",\"odd,\"\"name\"\"\",ADD,[2],2,exact,"),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find("\n3,gone,gone,ADD,[3],,exact,,,,,,,,,,,same,false,\"element count differs: "
                     "sample [3] has 3, benchmark [2] has 2\"\n"),
            std::string::npos)
      << csv;  // the error holds a comma: quoted
}

TEST(CompareExport, WritesVendorFoldersAtomically) {
  temp_dir t;
  write_dump(t.file("s.bin"), {{"a", {18}, wave(18)}, {"b", {3}, {1, 2, 3}}});
  write_dump(t.file("b.bin"), {{"a", {18}, wave(18)}, {"b", {3}, {1, 2, 4}}});
  const dump_file s = open_dump(t.file("s.bin")), b = open_dump(t.file("b.bin"));
  auto r = compare_dumps(s, b, {});
  ASSERT_TRUE(r.has_value());
  const std::string dir = t.file("out");
  ASSERT_TRUE(export_layers(*r, s, b, dir, false).has_value());
  EXPECT_EQ(testing::read_file(dir + "/1/sample.txt"), "b [3]\n1.000000, 2.000000, 3.000000\n");
  EXPECT_EQ(testing::read_file(dir + "/1/benchmark.txt"), "b [3]\n1.000000, 2.000000, 4.000000\n");
  const std::string a = testing::read_file(dir + "/0/sample.txt");
  EXPECT_EQ(std::count(a.begin(), a.end(), '\n'), 3);  // title + 16 + 2
  // Again, one per row: the earlier export is replaced, nothing else left.
  ASSERT_TRUE(export_layers(*r, s, b, dir, true).has_value());
  EXPECT_EQ(testing::read_file(dir + "/1/benchmark.txt"), "b [3]\n1.000000\n2.000000\n4.000000\n");
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(t.path())) ++entries;
  EXPECT_EQ(entries, 3u);  // s.bin, b.bin, out
  // A folder that is not an earlier export is never replaced.
  testing::write_file(t.file("precious"), "x");
  std::filesystem::create_directory(t.file("keep"));
  testing::write_file(t.file("keep/notes.txt"), "mine");
  EXPECT_FALSE(export_layers(*r, s, b, t.file("keep"), false).has_value());
  EXPECT_EQ(testing::read_file(t.file("keep/notes.txt")), "mine");
}

TEST(CompareInputs, NameMapAndQuantParamsFiles) {
  temp_dir t;
  testing::write_file(t.file("map.json"), R"({"a/b:0": "a_b", "c": "d"})");
  auto m = load_name_map(t.file("map.json"));
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->at("a/b:0"), "a_b");
  testing::write_file(t.file("bad.json"), R"({"a": 3})");
  auto bad = load_name_map(t.file("bad.json"));
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().describe().find("bad.json"), std::string::npos);
  EXPECT_FALSE(load_name_map(t.file("missing.json")).has_value());
  testing::write_file(t.file("q.json"),
                      R"([{"name":"x","min":[-1.5,-30],"max":[2,1],"bit":8},
                          {"name":"y","min":0,"max":4,"bit":16}])");
  auto q = load_quant_params(t.file("q.json"));
  ASSERT_TRUE(q.has_value());
  ASSERT_EQ(q->size(), 2u);
  EXPECT_EQ((*q)[0].min, (std::vector<double>{-1.5, -30}));
  EXPECT_EQ((*q)[1].bit, 16);
  testing::write_file(t.file("q2.json"), R"([{"name":"x","max":[2],"bit":8}])");
  auto q2 = load_quant_params(t.file("q2.json"));
  ASSERT_FALSE(q2.has_value());
  EXPECT_NE(q2.error().message.find("element 0: missing \"min\""), std::string::npos);
}

}  // namespace
}  // namespace sigdump
