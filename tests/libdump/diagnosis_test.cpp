// summarize() on synthetic layer lists: each diagnosis rule of
// docs/diagnosis.md, the first bad layer, and the INT16 advice.
#include <gtest/gtest.h>

#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "sigdump/compare.h"
#include "sigdump/dump_file.h"
#include "sigdump/dump_writer.h"
#include "sigdump/report/report_text.h"
#include "test_support.h"

namespace sigdump {
namespace {

struct rec {
  const char* name;
  record_kind kind;
  std::int64_t op_index;
  const char* op;
};

// A small sample dump: what advise() reads (ops, //in 0 records).
class Diagnosis : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::vector<rec> recs = {
        {"input", record_kind::in, 0, "CONV_2D"},           // 0
        {"conv0", record_kind::out, 0, "CONV_2D"},          // 1: the first convolution
        {"x1", record_kind::out, 1, "RELU"},                // 2
        {"x1", record_kind::in, 2, "CONV_2D"},              // 3
        {"conv1", record_kind::out, 2, "CONV_2D"},          // 4
        {"relu1", record_kind::out, 3, "RELU"},             // 5
        {"dw2", record_kind::out, 4, "DEPTHWISE_CONV_2D"},  // 6: no //in 0 record
        {"add", record_kind::out, 5, "ADD"},                // 7
    };
    auto w = dump_writer::create(dir_.file("s.bin"));
    ASSERT_TRUE(w.has_value());
    const std::vector<float> v{1, 2};
    for (const rec& r : recs) {
      tensor_spec s;
      s.name = r.name;
      s.kind = r.kind;
      s.op_index = r.op_index;
      s.op_type = r.op;
      s.shape = {2};
      ASSERT_TRUE(w->write(s, v).has_value());
    }
    ASSERT_TRUE(w->close().has_value());
    auto f = dump_file::open(dir_.file("s.bin"));
    if (!f.has_value()) throw std::runtime_error(f.error().describe());
    file_.emplace(std::move(f).value());
  }

  // One layer per (cos, rmse), all "ADD" ops unless set later.
  compare_report report(const std::vector<std::pair<double, double>>& cr) {
    compare_report r;
    for (std::size_t i = 0; i < cr.size(); ++i) {
      layer_result l;
      l.index = static_cast<std::uint32_t>(i);
      l.name = "L" + std::to_string(i);
      l.op = "ADD";
      l.sample_record = 7;
      l.metrics.n = 2;
      l.metrics.cos = cr[i].first;
      l.metrics.rmse = cr[i].second;
      l.suspect = is_suspect(l.metrics, r.thresholds);
      r.layers.push_back(l);
    }
    return r;
  }

  testing::temp_dir dir_;
  std::optional<dump_file> file_;
};

TEST_F(Diagnosis, NoneWhenNothingIsPastTheThresholds) {
  compare_report r = report({{0.9999, 0.01}, {0.995, 0.05}, {0.99, 0.1}});
  summarize(r, *file_);
  EXPECT_EQ(r.diagnosis.what, diagnosis::kind::none);
  EXPECT_FALSE(r.first_bad.has_value());
  EXPECT_TRUE(r.advice.tensor_arrays.empty());
  EXPECT_EQ(r.advice.input_config, "");
}

TEST_F(Diagnosis, JumpByCos) {
  compare_report r =
      report({{0.999, 0.01}, {0.998, 0.02}, {0.997, 0.03}, {0.90, 0.05}, {0.89, 0.06}});
  summarize(r, *file_);
  EXPECT_EQ(r.diagnosis.what, diagnosis::kind::jump);
  EXPECT_EQ(r.diagnosis.at, 3);
  ASSERT_TRUE(r.first_bad.has_value());
  EXPECT_EQ(r.first_bad->index, 3u);
  EXPECT_EQ(r.first_bad->reason, "COS 0.900000 < 0.99");
  EXPECT_NE(r.diagnosis.text.find("abruptly at 3) L3"), std::string::npos) << r.diagnosis.text;
}

TEST_F(Diagnosis, JumpByRmse) {
  compare_report r = report({{0.999, 0.02}, {0.998, 0.03}, {0.995, 0.35}, {0.995, 0.36}});
  summarize(r, *file_);
  EXPECT_EQ(r.diagnosis.what, diagnosis::kind::jump);
  EXPECT_EQ(r.diagnosis.at, 2);
  EXPECT_EQ(r.first_bad->reason, "RMSE 0.350000 > 0.1");
}

TEST_F(Diagnosis, JumpAtTheFirstLayerPointsAtPreprocessing) {
  compare_report r = report({{0.95, 0.45}, {0.999969, 0.007786}, {0.999922, 0.0106}});
  summarize(r, *file_);
  EXPECT_EQ(r.diagnosis.what, diagnosis::kind::jump);
  EXPECT_EQ(r.diagnosis.at, 0);
  EXPECT_NE(r.diagnosis.text.find("preprocessing"), std::string::npos);
}

TEST_F(Diagnosis, JumpLaterThanTheFirstBadLayerNamesBoth) {
  compare_report r = report(
      {{0.999, 0.02}, {0.988, 0.05}, {0.992, 0.05}, {0.986, 0.06}, {0.991, 0.05}, {0.5, 0.9}});
  summarize(r, *file_);
  EXPECT_EQ(r.diagnosis.what, diagnosis::kind::jump);
  EXPECT_EQ(r.diagnosis.at, 5);
  EXPECT_EQ(r.first_bad->index, 1u);
  EXPECT_NE(r.diagnosis.text.find("first layer past a threshold is 1) L1"), std::string::npos);
}

TEST_F(Diagnosis, NonFiniteMetricsAreAJump) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  compare_report r = report({{0.999, 0.02}, {0.998, 0.03}, {nan, nan}});
  summarize(r, *file_);
  EXPECT_EQ(r.diagnosis.what, diagnosis::kind::jump);
  EXPECT_EQ(r.diagnosis.at, 2);
}

TEST_F(Diagnosis, DriftWhenMetricsDegradeGradually) {
  compare_report r = report({{0.999, 0.02},
                             {0.997, 0.04},
                             {0.995, 0.06},
                             {0.993, 0.07},
                             {0.991, 0.08},
                             {0.989, 0.09},
                             {0.986, 0.10},
                             {0.983, 0.11},
                             {0.979, 0.12},
                             {0.975, 0.14}});
  summarize(r, *file_);
  EXPECT_EQ(r.diagnosis.what, diagnosis::kind::drift);
  EXPECT_EQ(r.diagnosis.at, 5);
  EXPECT_EQ(r.first_bad->index, 5u);
  EXPECT_NE(r.diagnosis.text.find("5) L5"), std::string::npos);
}

TEST_F(Diagnosis, OscillationWhenHoveringWithoutABreak) {
  compare_report r = report({{0.996, 0.03},
                             {0.985, 0.08},
                             {0.991, 0.05},
                             {0.984, 0.09},
                             {0.993, 0.04},
                             {0.986, 0.07},
                             {0.989, 0.06},
                             {0.992, 0.05}});
  summarize(r, *file_);
  EXPECT_EQ(r.diagnosis.what, diagnosis::kind::oscillation);
  EXPECT_EQ(r.diagnosis.at, 1);
  EXPECT_NE(r.diagnosis.text.find("torch_calibrator.py"), std::string::npos);
}

// The 57 layers the vendor guide prints for Fixed.sim vs Float.sim
// (disableDomainFuseOps off): a mildly off input, then COS 0.99-0.999 with
// RMSE crossing 0.1 again and again: the guide's oscillation case.
TEST_F(Diagnosis, TheGuidesOwnExampleOscillates) {
  compare_report r = report(
      {{0.990174, 0.191048}, {0.999969, 0.007786}, {0.999922, 0.010600}, {0.999604, 0.026628},
       {0.997960, 0.077780}, {0.999145, 0.034236}, {0.998491, 0.054812}, {0.995695, 0.100490},
       {0.997401, 0.067148}, {0.993593, 0.096485}, {0.992504, 0.127393}, {0.995493, 0.076465},
       {0.997917, 0.058834}, {0.995008, 0.099188}, {0.998078, 0.053329}, {0.995249, 0.085869},
       {0.993904, 0.108148}, {0.997298, 0.064804}, {0.994016, 0.094983}, {0.992955, 0.115523},
       {0.997816, 0.054641}, {0.996268, 0.078860}, {0.992479, 0.122014}, {0.996980, 0.070730},
       {0.993290, 0.109461}, {0.992266, 0.123066}, {0.995815, 0.085172}, {0.993433, 0.106439},
       {0.991963, 0.125202}, {0.995696, 0.087078}, {0.994223, 0.098243}, {0.991830, 0.125977},
       {0.994616, 0.095454}, {0.996565, 0.072931}, {0.992815, 0.117115}, {0.997619, 0.061338},
       {0.995496, 0.087281}, {0.993252, 0.114678}, {0.996605, 0.078887}, {0.995946, 0.079409},
       {0.993276, 0.115544}, {0.995792, 0.085456}, {0.997871, 0.053695}, {0.994394, 0.104836},
       {0.997728, 0.062928}, {0.996774, 0.072542}, {0.995122, 0.098212}, {0.997588, 0.068856},
       {0.996954, 0.066177}, {0.994592, 0.103677}, {0.995374, 0.095421}, {0.998021, 0.047618},
       {0.991614, 0.128396}, {0.991828, 0.135669}, {0.995849, 0.094941}, {0.995249, 0.104243},
       {1.000000, 0.000914}});
  summarize(r, *file_);
  EXPECT_EQ(r.diagnosis.what, diagnosis::kind::oscillation) << r.diagnosis.text;
  EXPECT_EQ(r.diagnosis.at, 0);
  EXPECT_EQ(r.first_bad->reason, "RMSE 0.191048 > 0.1");
}

TEST_F(Diagnosis, ASingleMildCrossingIsDriftNotOscillation) {
  compare_report r = report({{0.999, 0.02}, {0.995, 0.05}, {0.993, 0.06}, {0.988, 0.07}});
  summarize(r, *file_);
  EXPECT_EQ(r.diagnosis.what, diagnosis::kind::drift);
  EXPECT_EQ(r.diagnosis.at, 3);
}

TEST_F(Diagnosis, NotComparableLayersOnly) {
  compare_report r = report({{0.999, 0.02}, {0.998, 0.02}});
  r.layers[1].error = "element count differs";
  r.layers[1].suspect = false;
  summarize(r, *file_);
  EXPECT_EQ(r.diagnosis.what, diagnosis::kind::none);
  ASSERT_TRUE(r.first_bad.has_value());
  EXPECT_EQ(r.first_bad->index, 1u);
  EXPECT_EQ(r.first_bad->reason, "not comparable: element count differs");
  EXPECT_NE(r.diagnosis.text.find("1 layer(s) could not be compared"), std::string::npos);
}

TEST_F(Diagnosis, AllZeroLayersNeitherSuspectNorTrendBreaking) {
  compare_report r = report({{0.999, 0.02}, {0.0, 0.0}, {0.998, 0.02}});
  r.layers[1].metrics.all_zero = true;
  r.layers[1].suspect = is_suspect(r.layers[1].metrics, r.thresholds);
  summarize(r, *file_);
  EXPECT_FALSE(r.layers[1].suspect);
  EXPECT_EQ(r.diagnosis.what, diagnosis::kind::none);
}

TEST_F(Diagnosis, AdviceNamesFirstInputsOfSuspectConvolutions) {
  compare_report r =
      report({{0.90, 0.3}, {0.999, 0.01}, {0.90, 0.3}, {0.999, 0.01}, {0.90, 0.3}, {0.90, 0.3}});
  const std::uint32_t recs[] = {1, 2, 4, 5, 6, 7};
  const char* ops[] = {"CONV_2D", "RELU", "CONV_2D", "RELU", "DEPTHWISE_CONV_2D", "ADD"};
  for (std::size_t i = 0; i < r.layers.size(); ++i) {
    r.layers[i].sample_record = recs[i];
    r.layers[i].op = ops[i];
    r.layers[i].name = file_->records()[recs[i]].name;
  }
  std::vector<quant_param> qp = {{"x1", {-5, -1}, {20.5, 3}, 8},  // range 25.5, 8-bit
                                 {"relu1", {-30}, {30}, 16},      // 16-bit already
                                 {"other", {0}, {21}, 8}};
  summarize(r, *file_, &qp);
  EXPECT_EQ(r.advice.tensor_arrays, (std::vector<std::string>{"x1", "relu1"}));
  EXPECT_EQ(r.advice.input_config, "[CONV_CONFIG]\ntensor_arrays='x1,relu1';\n");
  EXPECT_EQ(r.advice.wide_range_8bit, (std::vector<std::string>{"x1", "other"}));
  const std::string& t = r.advice.text;
  EXPECT_NE(t.find("skipped 0) conv0: the network's first convolution"), std::string::npos) << t;
  EXPECT_NE(t.find("relu1  (input of 4) dw2; a guess"), std::string::npos) << t;
  EXPECT_NE(t.find("x1  (input of 2) conv1)  8-bit with a min/max range over 20"),
            std::string::npos)
      << t;
  EXPECT_EQ(t.find("add"), std::string::npos);  // not a convolution
  EXPECT_NE(report_text(r, false).find("[CONV_CONFIG]\ntensor_arrays='x1,relu1';\n"),
            std::string::npos);
}

}  // namespace
}  // namespace sigdump
