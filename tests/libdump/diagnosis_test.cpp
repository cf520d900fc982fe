// summarize() on synthetic layer lists: each diagnosis rule of
// docs/diagnosis.md, the first bad layer, and the INT16 advice.
#include <gtest/gtest.h>

#include <cstdlib>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "sigdump/compare.h"
#include "sigdump/dump_file.h"
#include "sigdump/dump_writer.h"
#include "sigdump/report/html_report.h"
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
  // The jump is at 2) conv1: its input comes first, then dw2's (a guess).
  EXPECT_EQ(r.diagnosis.at, 2);
  ASSERT_EQ(r.advice.ranked.size(), 2u);
  EXPECT_TRUE(r.advice.ranked[0].root);
  EXPECT_FALSE(r.advice.ranked[1].root);
  EXPECT_TRUE(r.advice.ranked[1].guess);
  EXPECT_NE(t.find("skipped 0) conv0: the network's first convolution"), std::string::npos) << t;
  EXPECT_NE(t.find("2. relu1  (input of 4) dw2, suspect"), std::string::npos) << t;
  EXPECT_NE(t.find("a guess: previous layer's output"), std::string::npos) << t;
  EXPECT_NE(t.find("1. x1  (root cause: input of 2) conv1, where precision breaks"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("8-bit with a min/max range over 20: a prime candidate"), std::string::npos)
      << t;
  EXPECT_EQ(t.find("add"), std::string::npos);  // not a convolution
  EXPECT_NE(report_text(r, false).find("[CONV_CONFIG]\ntensor_arrays='x1,relu1';\n"),
            std::string::npos);
}

// The worked examples of docs/diagnosis.md, read from the table there: the
// documentation and the test hold the same data.
TEST_F(Diagnosis, TheWorkedExamplesOfTheDocs) {
  const std::string doc = testing::read_file(testing::source_path("docs/diagnosis.md"));
  const std::string marker = "<!-- diagnosis examples:";
  std::size_t pos = doc.find(marker);
  ASSERT_NE(pos, std::string::npos);
  pos = doc.find('\n', pos) + 1;
  int rows = 0;
  for (std::size_t line_no = 0; pos < doc.size(); ++line_no) {
    const std::size_t nl = doc.find('\n', pos);
    const std::string line = doc.substr(pos, nl - pos);
    pos = nl == std::string::npos ? doc.size() : nl + 1;
    if (line.empty() || line[0] != '|') break;
    if (line_no < 2) continue;  // header and separator
    std::vector<std::string> cells;
    for (std::size_t a = 1, b; (b = line.find('|', a)) != std::string::npos; a = b + 1) {
      std::string c = line.substr(a, b - a);
      c.erase(0, c.find_first_not_of(' '));
      c.erase(c.find_last_not_of(' ') + 1);
      cells.push_back(c);
    }
    ASSERT_EQ(cells.size(), 4u) << line;
    std::vector<std::pair<double, double>> cr;
    std::istringstream in(cells[0]);
    for (std::string tok; in >> tok;) {
      const auto slash = tok.find('/');
      ASSERT_NE(slash, std::string::npos) << tok;
      cr.emplace_back(std::strtod(tok.substr(0, slash).c_str(), nullptr),
                      std::strtod(tok.substr(slash + 1).c_str(), nullptr));
    }
    compare_report r = report(cr);
    summarize(r, *file_);
    EXPECT_STREQ(diagnosis_kind_name(r.diagnosis.what), cells[1].c_str()) << line << "\n"
                                                                          << r.diagnosis.text;
    EXPECT_EQ(r.diagnosis.at, cells[2] == "-" ? -1 : std::stoll(cells[2])) << line << "\n"
                                                                           << r.diagnosis.text;
    ++rows;
  }
  EXPECT_GE(rows, 12);
}

TEST_F(Diagnosis, JumpTextSaysHowManyLayersFollowAndNamesTheFirstBadLayer) {
  compare_report r = report({{0.999, 0.02},
                             {0.988, 0.05},
                             {0.992, 0.05},
                             {0.986, 0.06},
                             {0.991, 0.05},
                             {0.5, 0.9},
                             {0.45, 0.95},
                             {0.48, 0.93}});
  summarize(r, *file_);
  EXPECT_EQ(r.diagnosis.what, diagnosis::kind::jump);
  EXPECT_EQ(r.diagnosis.following, 2);
  EXPECT_FALSE(r.diagnosis.preprocessing);
  const std::string& t = r.diagnosis.text;
  EXPECT_NE(t.find("abruptly at 5) L5 and stay changed"), std::string::npos) << t;
  EXPECT_NE(t.find("2 of the 2 following layer(s) stay there (only 2 layer(s) follow it: little "
                   "evidence that it lasts)"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("first layer past a threshold is 1) L1"), std::string::npos) << t;
}

TEST_F(Diagnosis, ADipIsNamedInTheDriftText) {
  compare_report r = report({{0.999, 0.02},
                             {0.998, 0.03},
                             {0.999, 0.02},
                             {0.975, 0.06},
                             {0.998, 0.03},
                             {0.999, 0.03},
                             {0.997, 0.04},
                             {0.998, 0.03}});
  summarize(r, *file_);
  EXPECT_EQ(r.diagnosis.what, diagnosis::kind::drift);
  EXPECT_EQ(r.diagnosis.following, -1);
  EXPECT_NE(r.diagnosis.text.find("3) L3 changes abruptly (COS 0.975000, RMSE 0.060000) but 4 of "
                                  "the 4 following layer(s) are back"),
            std::string::npos)
      << r.diagnosis.text;
  // A step at the last layer: nothing follows.
  r = report({{0.999, 0.02}, {0.998, 0.02}, {0.997, 0.03}, {0.90, 0.30}});
  summarize(r, *file_);
  EXPECT_NE(r.diagnosis.text.find("3) L3 changes abruptly but is the last compared layer"),
            std::string::npos)
      << r.diagnosis.text;
}

// Generated series: realistic shapes at scale, from fixed seeds.
namespace gen {

// A 228-layer smooth drift: COS falls from ~0.999 to ~0.95, RMSE grows; in
// each block of three convolutions the last one has no ReLU and sits up to
// 0.02 lower (the zigzag of real dumps); plus noise.
std::vector<std::pair<double, double>> zigzag_drift(std::mt19937& rng) {
  std::uniform_real_distribution<double> depth(0.005, 0.02), noise(-0.0015, 0.0015);
  const double z = depth(rng);
  const std::size_t n = 228;
  std::vector<std::pair<double, double>> out;
  for (std::size_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(i) / n;
    const bool low = i % 3 == 2 || (i % 7 == 4);  // irregular: at most two low in a row
    double cos = 0.999 - 0.05 * x * x + noise(rng) - (low ? z : 0);
    double rmse = 0.02 + 0.25 * x * x + noise(rng) + (low ? 3 * z : 0);
    out.emplace_back(std::min(cos, 1.0), std::max(rmse, 0.0));
  }
  return out;
}

// Noise around a good level with a zigzag, then a step of 0.04-0.1 at
// `at` that stays, with the same noise after it and one layer that looks
// fine again.
std::vector<std::pair<double, double>> noisy_step(std::mt19937& rng, std::size_t& at) {
  std::uniform_real_distribution<double> size(0.04, 0.1), noise(-0.002, 0.002), zig(0, 0.008);
  std::uniform_int_distribution<std::size_t> where(20, 100);
  const double s = size(rng), z = zig(rng);
  at = where(rng);
  const std::size_t n = 120;
  const std::size_t lucky = at + 3;
  std::vector<std::pair<double, double>> out;
  for (std::size_t i = 0; i < n; ++i) {
    const bool low = i % 2 == 1;
    double cos = 0.997 + noise(rng) - (low ? z : 0), rmse = 0.04 + noise(rng) + (low ? z : 0);
    if (i >= at && i != lucky) {
      cos -= s + 0.0002 * static_cast<double>(i - at);
      rmse += 3 * s;
    }
    out.emplace_back(std::min(cos, 1.0), rmse);
  }
  return out;
}

// Hovering in the oscillation band: COS 0.9865-0.9965, RMSE 0.04-0.13.
std::vector<std::pair<double, double>> hovering(std::mt19937& rng) {
  std::uniform_real_distribution<double> c(0.9865, 0.9965), e(0.04, 0.13);
  std::vector<std::pair<double, double>> out;
  for (int i = 0; i < 60; ++i) out.emplace_back(c(rng), e(rng));
  return out;
}

}  // namespace gen

TEST_F(Diagnosis, GeneratedZigzagDriftIsNeverAJump) {
  for (unsigned seed = 1; seed <= 200; ++seed) {
    std::mt19937 rng(seed);
    compare_report r = report(gen::zigzag_drift(rng));
    summarize(r, *file_);
    ASSERT_EQ(r.diagnosis.what, diagnosis::kind::drift)
        << "seed " << seed << ": " << r.diagnosis.text;
    ASSERT_TRUE(r.first_bad.has_value());
    EXPECT_EQ(r.diagnosis.at, r.first_bad->index) << "seed " << seed;
  }
}

TEST_F(Diagnosis, GeneratedNoisyStepIsFoundAtItsLayer) {
  for (unsigned seed = 1; seed <= 200; ++seed) {
    std::mt19937 rng(seed);
    std::size_t at = 0;
    compare_report r = report(gen::noisy_step(rng, at));
    summarize(r, *file_);
    ASSERT_EQ(r.diagnosis.what, diagnosis::kind::jump)
        << "seed " << seed << ": " << r.diagnosis.text;
    ASSERT_EQ(r.diagnosis.at, static_cast<std::int64_t>(at))
        << "seed " << seed << ": " << r.diagnosis.text;
    EXPECT_EQ(r.diagnosis.following, 5);
  }
}

TEST_F(Diagnosis, GeneratedHoveringOscillates) {
  for (unsigned seed = 1; seed <= 200; ++seed) {
    std::mt19937 rng(seed);
    compare_report r = report(gen::hovering(rng));
    summarize(r, *file_);
    ASSERT_EQ(r.diagnosis.what, diagnosis::kind::oscillation)
        << "seed " << seed << ": " << r.diagnosis.text;
  }
}

// A sample written from (name, kind, op index, op type, constant) rows, and
// a report whose layers are some of its output records with given metrics.
struct graph_rec {
  const char* name;
  record_kind kind;
  std::int64_t op_index;
  const char* op;
  bool constant = false;
  std::uint32_t port = 0;
};

dump_file write_graph(const std::string& path, const std::vector<graph_rec>& recs) {
  auto w = dump_writer::create(path);
  EXPECT_TRUE(w.has_value());
  const std::vector<float> v{1, 2};
  for (const graph_rec& r : recs) {
    tensor_spec s;
    s.name = r.name;
    s.kind = r.kind;
    s.op_index = r.op_index;
    s.op_type = r.op;
    s.constant = r.constant;
    s.port = r.port;
    s.shape = {2};
    EXPECT_TRUE(w->write(s, v).has_value());
  }
  EXPECT_TRUE(w->close().has_value());
  auto f = dump_file::open(path);
  if (!f.has_value()) throw std::runtime_error(f.error().describe());
  return std::move(f).value();
}

struct graph_layer {
  std::uint32_t record;
  double cos, rmse;
};

compare_report graph_report(const dump_file& f, const std::vector<graph_layer>& ls) {
  compare_report r;
  for (std::size_t i = 0; i < ls.size(); ++i) {
    const record& rec = f.records()[ls[i].record];
    layer_result l;
    l.index = static_cast<std::uint32_t>(i);
    l.name = rec.name;
    l.op = rec.op_type;
    l.sample_record = ls[i].record;
    l.metrics.n = 2;
    l.metrics.cos = ls[i].cos;
    l.metrics.rmse = ls[i].rmse;
    l.suspect = is_suspect(l.metrics, r.thresholds);
    r.layers.push_back(l);
  }
  return r;
}

// conv0 -> conv1 -> conv2 -> relu2; add = conv1 + relu2; add -> conv3 -> conv4.
const std::vector<graph_rec> add_graph = {
    {"data", record_kind::in, 0, "CONV_2D"},         // 0
    {"w0", record_kind::in, 0, "CONV_2D", true, 1},  // 1
    {"conv0", record_kind::out, 0, "CONV_2D"},       // 2
    {"conv0", record_kind::in, 1, "CONV_2D"},        // 3
    {"w1", record_kind::in, 1, "CONV_2D", true, 1},  // 4
    {"conv1", record_kind::out, 1, "CONV_2D"},       // 5
    {"conv1", record_kind::in, 2, "CONV_2D"},        // 6
    {"conv2", record_kind::out, 2, "CONV_2D"},       // 7
    {"conv2", record_kind::in, 3, "RELU"},           // 8
    {"relu2", record_kind::out, 3, "RELU"},          // 9
    {"conv1", record_kind::in, 4, "ADD"},            // 10
    {"relu2", record_kind::in, 4, "ADD", false, 1},  // 11
    {"add", record_kind::out, 4, "ADD"},             // 12
    {"add", record_kind::in, 5, "CONV_2D"},          // 13
    {"conv3", record_kind::out, 5, "CONV_2D"},       // 14
    {"conv3", record_kind::in, 6, "CONV_2D"},        // 15
    {"conv4", record_kind::out, 6, "CONV_2D"},       // 16
};

const std::vector<graph_layer> add_layers = {{2, 0.9999, 0.01}, {5, 0.999, 0.02}, {7, 0.995, 0.05},
                                             {9, 0.996, 0.05},  {12, 0.90, 0.30}, {14, 0.91, 0.28},
                                             {16, 0.895, 0.33}};

TEST_F(Diagnosis, AnAddFirstIsFollowedBackToTheConvolutionsFeedingIt) {
  const dump_file f = write_graph(dir_.file("add.bin"), add_graph);
  compare_report r = graph_report(f, add_layers);
  summarize(r, f);
  ASSERT_EQ(r.diagnosis.what, diagnosis::kind::jump) << r.diagnosis.text;
  EXPECT_EQ(r.diagnosis.at, 4);
  const advice& a = r.advice;
  EXPECT_EQ(a.what, advice::kind::int16);
  EXPECT_EQ(a.root_layer, 4);
  // conv2 (COS 0.995, through relu2) before conv1 (0.999); then conv4,
  // which loses more itself than conv3 (which is better than its input).
  ASSERT_EQ(a.ranked.size(), 4u) << a.text;
  EXPECT_EQ(a.tensor_arrays, (std::vector<std::string>{"conv1", "conv0", "conv3", "add"}));
  EXPECT_TRUE(a.ranked[0].root);
  EXPECT_TRUE(a.ranked[1].root);
  EXPECT_FALSE(a.ranked[2].root);
  EXPECT_EQ(a.ranked[0].layer, 2);
  EXPECT_EQ(a.ranked[0].conv, "conv2");
  EXPECT_NE(a.root.find("precision breaks at 4) add (jump), a ADD, not a convolution: its inputs "
                        "come from the convolutions 2) conv2 (COS 0.995000, RMSE 0.050000), 1) "
                        "conv1 (COS 0.999000, RMSE 0.020000) (followed back through the //in "
                        "records)"),
            std::string::npos)
      << a.root;
  EXPECT_NE(a.ranked[0].why.find("root cause: input of 2) conv2, which feeds 4) add"),
            std::string::npos)
      << a.ranked[0].why;
  EXPECT_NE(a.ranked[3].why.find("loses nothing itself"), std::string::npos) << a.ranked[3].why;
  EXPECT_EQ(a.more(), 0u);
  EXPECT_TRUE(a.all_int16);  // every convolution but the first is listed
}

TEST_F(Diagnosis, TheHtmlReportListsTheRankingRootCauseFirst) {
  const dump_file f = write_graph(dir_.file("add.bin"), add_graph);
  compare_report r = graph_report(f, add_layers);
  summarize(r, f);
  limit_advice(r.advice, 1);  // the two root entries and one more
  const std::string html = render_html_report(r);
  const auto ol = html.find("<ol id=\"advice-ranked\">");
  ASSERT_NE(ol, std::string::npos);
  EXPECT_NE(html.find("<li class=\"root\"><code>conv1</code> root cause: input of 2) conv2", ol),
            std::string::npos)
      << html.substr(ol, 600);
  EXPECT_NE(html.find("<p id=\"advice-root\">precision breaks at 4) add (jump)"),
            std::string::npos);
  EXPECT_NE(html.find("id=\"advice-more\">1 more suspect convolution(s)"), std::string::npos);
  EXPECT_NE(html.find("id=\"advice-all-int16\""), std::string::npos);
  EXPECT_NE(html.find("tensor_arrays=&#39;conv1,conv0,conv3&#39;;"), std::string::npos);
}

TEST_F(Diagnosis, WithoutInRecordsTheExecutionOrderIsFollowedAndMarkedAGuess) {
  std::vector<graph_rec> recs;
  for (const graph_rec& r : add_graph) {
    if (r.kind == record_kind::out) recs.push_back(r);
  }
  const dump_file f = write_graph(dir_.file("order.bin"), recs);
  // Output records are now 0 conv0, 1 conv1, 2 conv2, 3 relu2, 4 add, 5 conv3, 6 conv4.
  std::vector<graph_layer> ls = add_layers;
  for (std::size_t i = 0; i < ls.size(); ++i) ls[i].record = static_cast<std::uint32_t>(i);
  compare_report r = graph_report(f, ls);
  summarize(r, f);
  const advice& a = r.advice;
  ASSERT_FALSE(a.ranked.empty());
  EXPECT_EQ(a.ranked[0].conv, "conv2");
  EXPECT_EQ(a.ranked[0].tensor, "conv1");  // the previous output: a guess
  EXPECT_TRUE(a.ranked[0].guess);
  EXPECT_NE(a.root.find("no //in records: the nearest earlier convolution in execution order, a "
                        "guess"),
            std::string::npos)
      << a.root;
}

TEST_F(Diagnosis, AdviceShowsAHandfulSaysHowManyMoreAndWarnsNearlyEveryConvolution) {
  // A chain of 12 convolutions drifting: 11 suspect ones after the first.
  std::vector<graph_rec> recs;
  std::vector<std::string> names;
  for (int i = 0; i < 12; ++i) names.push_back("c" + std::to_string(i));
  recs.push_back({"data", record_kind::in, 0, "CONV_2D"});
  for (int i = 0; i < 12; ++i) {
    if (i > 0) recs.push_back({names[i - 1].c_str(), record_kind::in, i, "CONV_2D"});
    recs.push_back({names[i].c_str(), record_kind::out, i, "CONV_2D"});
  }
  const dump_file f = write_graph(dir_.file("chain.bin"), recs);
  std::vector<graph_layer> ls;
  for (std::uint32_t k = 0; k < f.records().size(); ++k) {
    if (f.records()[k].kind != record_kind::out) continue;
    const double i = static_cast<double>(ls.size());
    ls.push_back({k, ls.empty() ? 0.999 : 0.989 - 0.002 * i, 0.05 + 0.01 * i});
  }
  compare_report r = graph_report(f, ls);
  summarize(r, f);
  advice& a = r.advice;
  EXPECT_EQ(r.diagnosis.what, diagnosis::kind::drift) << r.diagnosis.text;
  EXPECT_EQ(a.convolutions, 12u);
  ASSERT_EQ(a.ranked.size(), 11u);  // c0 is the first convolution: skipped
  EXPECT_EQ(a.shown, 1 + advice_more_default);
  EXPECT_EQ(a.tensor_arrays.size(), a.shown);
  EXPECT_EQ(a.more(), 11u - a.shown);
  EXPECT_TRUE(a.all_int16);
  EXPECT_NE(a.text.find("6 more suspect convolution(s) not listed: '--advice all' lists them"),
            std::string::npos)
      << a.text;
  EXPECT_NE(a.text.find("input_format=ALL_INT16; (every convolution) is the honest advice"),
            std::string::npos)
      << a.text;
  limit_advice(a, advice_more_all);
  EXPECT_EQ(a.shown, 11u);
  EXPECT_EQ(a.more(), 0u);
  EXPECT_EQ(a.tensor_arrays.size(), 11u);
  EXPECT_EQ(a.text.find("more suspect convolution"), std::string::npos);
}

TEST_F(Diagnosis, WhenTheInputAlreadyDiffersTheAdviceIsThePreprocessing) {
  compare_report r = report({{0.95, 0.45}, {0.96, 0.40}, {0.95, 0.42}, {0.96, 0.41}});
  for (auto& l : r.layers) {
    l.op = "CONV_2D";
    l.sample_record = 4;
  }
  summarize(r, *file_);
  EXPECT_TRUE(r.diagnosis.preprocessing);
  EXPECT_NE(r.diagnosis.text.find("check the preprocessing"), std::string::npos);
  const advice& a = r.advice;
  EXPECT_EQ(a.what, advice::kind::preprocessing);
  EXPECT_TRUE(a.tensor_arrays.empty());
  EXPECT_TRUE(a.ranked.empty());
  EXPECT_EQ(a.input_config, "");
  for (const char* w : {"no INT16 advice", "mean/std", "[INPUT_CONFIG]", "input_formats"}) {
    EXPECT_NE(a.text.find(w), std::string::npos) << w << "\n" << a.text;
  }
  EXPECT_EQ(report_text(r, false).find("[CONV_CONFIG]"), std::string::npos);
}

TEST(InputConfig, MergeCreatesAddsAndKeepsTheRest) {
  std::vector<std::string> added;
  EXPECT_EQ(merge_conv_config("", {"a", "b"}, &added), "[CONV_CONFIG]\ntensor_arrays='a,b';\n");
  EXPECT_EQ(added, (std::vector<std::string>{"a", "b"}));

  const std::string ini =
      "[INPUT_CONFIG]\ninputs=data;\nmean_red=127.5;\n\n[CONV_CONFIG]\n"
      "input_format=ALL_INT16;\ntensor_arrays = 'x, a' ;\n\n[OUTPUT_CONFIG]\noutputs=prob;\n";
  added.clear();
  EXPECT_EQ(merge_conv_config(ini, {"a", "b"}, &added),
            "[INPUT_CONFIG]\ninputs=data;\nmean_red=127.5;\n\n[CONV_CONFIG]\n"
            "input_format=ALL_INT16;\ntensor_arrays='x,a,b';\n\n[OUTPUT_CONFIG]\noutputs=prob;\n");
  EXPECT_EQ(added, (std::vector<std::string>{"b"}));

  // A section without the key gets it after its last line; none: appended.
  EXPECT_EQ(merge_conv_config("[CONV_CONFIG]\ninput_format=X;\n\n[OUTPUT_CONFIG]\n", {"a"}),
            "[CONV_CONFIG]\ninput_format=X;\ntensor_arrays='a';\n\n[OUTPUT_CONFIG]\n");
  EXPECT_EQ(merge_conv_config("[INPUT_CONFIG]\ninputs=data;\n\n", {"a"}),
            "[INPUT_CONFIG]\ninputs=data;\n\n[CONV_CONFIG]\ntensor_arrays='a';\n");
  // CRLF files stay CRLF; merging twice changes nothing.
  EXPECT_EQ(merge_conv_config("[CONV_CONFIG]\r\ntensor_arrays='a';\r\n", {"b"}),
            "[CONV_CONFIG]\r\ntensor_arrays='a,b';\r\n");
  const std::string once = merge_conv_config(ini, {"a", "b"});
  added.clear();
  EXPECT_EQ(merge_conv_config(once, {"b", "a"}, &added), once);
  EXPECT_TRUE(added.empty());
}

}  // namespace
}  // namespace sigdump
