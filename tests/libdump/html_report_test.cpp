#include "sigdump/report/html_report.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "sigdump/compare.h"
#include "sigdump/dump_file.h"
#include "sigdump/dump_writer.h"
#include "sigdump/report/metric_chart.h"
#include "test_support.h"

namespace sigdump {
namespace {

using sigdump::testing::read_file;
using sigdump::testing::temp_dir;
using sigdump::testing::write_file;

std::size_t count(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + needle.size())) {
    ++n;
  }
  return n;
}

// The text of the element that opens with `open_tag_prefix` up to `close`.
std::string section(const std::string& hay, const std::string& start, const std::string& end) {
  auto a = hay.find(start);
  if (a == std::string::npos) return {};
  auto b = hay.find(end, a);
  return hay.substr(a, b == std::string::npos ? std::string::npos : b - a);
}

layer_result make_layer(std::uint32_t i, double cos, double rmse, double mse) {
  layer_result l;
  l.index = i;
  l.sample_record = i;
  l.bench_record = i;
  l.name = "conv" + std::to_string(i) + "/bn";
  l.benchmark_name = l.name;
  l.op = "CONV_2D";
  l.shape = {1, 4, 4, 8};
  l.metrics.n = 128;
  l.metrics.cos = cos;
  l.metrics.rmse = rmse;
  l.metrics.mse = mse;
  l.metrics.max_abs = mse * 10;
  l.metrics.sqnr_db = 40;
  l.metrics.rel_l2 = rmse;
  l.suspect = cos < 0.99 || rmse > 0.1;
  return l;
}

// n layers, good until `bad_from`, bad after it.
compare_report make_report(std::uint32_t n, std::uint32_t bad_from) {
  compare_report r;
  r.sample_path = "fixed.bin";
  r.benchmark_path = "float.bin";
  for (std::uint32_t i = 0; i < n; ++i) {
    bool bad = i >= bad_from;
    r.layers.push_back(make_layer(i, bad ? 0.95 - 0.0001 * i : 0.9995, bad ? 0.3 : 0.02,
                                  bad ? 0.01 : 1e-6 * (i + 1)));
  }
  if (bad_from < n) {
    r.first_bad = first_bad_layer{bad_from, r.layers[bad_from].name, "COS 0.95 < 0.99"};
    r.diagnosis.what = diagnosis::kind::jump;
    r.diagnosis.at = bad_from;
    r.diagnosis.text = "metrics jump at this layer";
  }
  return r;
}

TEST(HtmlReport, ChartHasPanelsThresholdsAndMarkers) {
  auto r = make_report(10, 4);
  auto svg = render_metric_chart_svg(r);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  for (const char* id : {"metric-chart", "cos-panel", "rmse-panel", "mse-panel", "cos-threshold",
                         "rmse-threshold", "first-bad-marker", "diagnosis-marker"}) {
    EXPECT_NE(svg.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  }
  EXPECT_NE(section(svg, "id=\"cos-threshold\"", "</g>").find("cos_min 0.99"), std::string::npos);
  EXPECT_NE(section(svg, "id=\"rmse-threshold\"", "</g>").find("rmse_max 0.1"), std::string::npos);
  EXPECT_NE(section(svg, "id=\"first-bad-marker\"", "</g>").find("first bad #4"),
            std::string::npos);
  EXPECT_NE(section(svg, "id=\"diagnosis-marker\"", "</g>").find("jump at #4"), std::string::npos);
  // One hover area with a tooltip per layer; suspect points drawn red.
  EXPECT_EQ(count(svg, "class=\"hit\""), 10u);
  EXPECT_EQ(count(svg, "<title>"), 10u);
  EXPECT_EQ(count(svg, "class=\"pt suspect\""), 3u * 6u);
  // Short net: names under the axis.
  EXPECT_NE(svg.find("conv3/bn"), std::string::npos);
  EXPECT_EQ(count(svg, "class=\"xtick xname\""), 10u);
  // The standalone chart links nowhere.
  EXPECT_EQ(svg.find("<a "), std::string::npos);
}

TEST(HtmlReport, NoMarkersWhenAllGood) {
  auto r = make_report(5, 5);
  auto svg = render_metric_chart_svg(r);
  EXPECT_EQ(svg.find("first-bad-marker"), std::string::npos);
  EXPECT_EQ(svg.find("diagnosis-marker"), std::string::npos);
  EXPECT_NE(svg.find("cos-threshold"), std::string::npos);
}

TEST(HtmlReport, EmptyReportSaysSo) {
  compare_report r;
  auto svg = render_metric_chart_svg(r);
  EXPECT_NE(svg.find("no layers were compared"), std::string::npos);
  auto html = render_html_report(r);
  EXPECT_EQ(count(html, "<tr id=\"layer-"), 0u);
  EXPECT_NE(html.find("</html>"), std::string::npos);
}

TEST(HtmlReport, LongNetThinsTickLabelsAndDropsNames) {
  auto r = make_report(1200, 700);
  auto svg = render_metric_chart_svg(r);
  std::size_t ticks = count(svg, "class=\"xtick\"");
  EXPECT_GE(ticks, 10u);
  EXPECT_LE(ticks, 120u);  // at 4 px per layer, labels are >= 48 px apart
  EXPECT_EQ(svg.find("xname"), std::string::npos);
  EXPECT_EQ(count(svg, "class=\"hit\""), 1200u);
  // Only suspect layers get points on long nets.
  EXPECT_EQ(count(svg, "class=\"pt\""), 0u);
  EXPECT_EQ(count(svg, "class=\"pt suspect\""), 3u * 500u);
  // The chart grows with the net rather than squeezing it.
  auto w = svg.find("width=\"");
  ASSERT_NE(w, std::string::npos);
  EXPECT_GE(std::stod(svg.substr(w + 7)), 4800.0);
  auto html = render_html_report(r);
  EXPECT_EQ(count(html, "<tr id=\"layer-"), 1200u);
  EXPECT_NE(html.find("class=\"scroll\""), std::string::npos);
}

TEST(HtmlReport, NonFiniteAndErrorLayersAreMarkedNotPlotted) {
  auto r = make_report(6, 6);
  r.layers[2].metrics.cos = std::nan("");
  r.layers[2].suspect = true;
  r.layers[3].error = "sample has 10 elements, benchmark 12";
  r.layers[3].metrics = {};
  auto svg = render_metric_chart_svg(r);
  EXPECT_EQ(svg.find("nan\""), std::string::npos);  // never a NaN coordinate
  EXPECT_GE(count(svg, "class=\"err-mark\""), 4u);  // 3 panels for the error, 1 for the NaN
  auto html = render_html_report(r);
  auto row = section(html, "<tr id=\"layer-3\"", "</tr>");
  EXPECT_NE(row.find("class=\"error\""), std::string::npos);
  EXPECT_NE(row.find("benchmark 12"), std::string::npos);
}

TEST(HtmlReport, TableHasOneRowPerLayerAndSortableHeaders) {
  auto r = make_report(25, 20);
  auto html = render_html_report(r);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(count(html, "<tr id=\"layer-"), 25u);
  EXPECT_EQ(count(html, "<tr id=\"layer-20\" class=\"suspect\""), 1u);
  for (const char* h : {"name", "benchmark name", "op", "shape", "MSE", "COS", "RMSE", "max_abs",
                        "SQNR dB", "rel_l2", "layout", "suspect", "error"}) {
    EXPECT_NE(html.find(std::string(">") + h + "</th>"), std::string::npos) << h;
  }
  EXPECT_NE(html.find("id=\"layer-table\""), std::string::npos);
  EXPECT_NE(html.find("<th data-type=\"num\">COS</th>"), std::string::npos);
  EXPECT_NE(html.find("<script>"), std::string::npos);
  // Self-contained: nothing fetched from anywhere.
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  // The chart inside the page links each layer to its row.
  EXPECT_NE(html.find("<a href=\"#layer-7\"><rect class=\"hit\""), std::string::npos);
  EXPECT_NE(html.find("id=\"first-bad\""), std::string::npos);
  // Without the dumps there are no histograms, and the page says why.
  EXPECT_NE(html.find("id=\"histograms-unavailable\""), std::string::npos);
}

TEST(HtmlReport, EscapesMaliciousNames) {
  auto r = make_report(3, 1);
  const std::string evil = "<script>alert(\"x&y\")</script>'\x01\xff";
  r.layers[1].name = evil;
  r.layers[1].benchmark_name = evil;
  r.layers[1].op = "<marquee>";
  r.layers[1].error.clear();
  r.first_bad->name = evil;
  r.sample_path = "/tmp/<a>.bin";
  r.diagnosis.text = "</p><img src=x>";
  r.advice.input_config = "[CONV_CONFIG]\ntensor_arrays='</pre><script>1</script>';\n";
  r.advice.text = "<i>";
  r.unmatched_sample = {"<u>"};
  auto html = render_html_report(r);
  auto svg = render_metric_chart_svg(r);
  for (const auto* doc : {&html, &svg}) {
    EXPECT_EQ(doc->find("<script>alert"), std::string::npos);
    EXPECT_EQ(doc->find("\x01"), std::string::npos);
    EXPECT_EQ(doc->find("\xff"), std::string::npos);
  }
  EXPECT_NE(html.find("&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;&#39;"),
            std::string::npos);
  EXPECT_NE(svg.find("&lt;script&gt;alert(&quot;x&amp;y&quot;)"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("<marquee>"), std::string::npos);
  EXPECT_EQ(html.find("<u>"), std::string::npos);
  EXPECT_EQ(html.find("<i>"), std::string::npos);
  EXPECT_EQ(html.find("<a>"), std::string::npos);
  EXPECT_NE(html.find("tensor_arrays=&#39;&lt;/pre&gt;&lt;script&gt;1&lt;/script&gt;&#39;;"),
            std::string::npos);
  EXPECT_EQ(count(html, "<script>"), 1u);  // only ours
}

TEST(HtmlReport, AdviceBlockHasCopyButton) {
  auto r = make_report(4, 2);
  r.advice.tensor_arrays = {"conv1-1", "conv2-1"};
  r.advice.input_config = "[CONV_CONFIG]\ntensor_arrays='conv1-1,conv2-1';\n";
  r.advice.text = "quantize these inputs as INT16";
  auto html = render_html_report(r);
  EXPECT_NE(html.find("<pre id=\"advice-config\">[CONV_CONFIG]\ntensor_arrays=&#39;conv1-1,"
                      "conv2-1&#39;;\n</pre>"),
            std::string::npos);
  EXPECT_NE(html.find("id=\"copy-advice\""), std::string::npos);
  r.advice = {};
  html = render_html_report(r);
  EXPECT_EQ(html.find("id=\"copy-advice\""), std::string::npos);
  EXPECT_NE(html.find("id=\"advice-none\""), std::string::npos);
}

// Real dumps: writes `layers` pairs of records (NHWC [1,2,3,4] in the
// sample) and returns the open files.
struct dump_pair {
  temp_dir dir;
  std::string sample_path = dir.file("fixed.bin"), bench_path = dir.file("float.bin");
};

std::vector<float> ramp(std::size_t n, float scale, float offset) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    v[i] = offset + scale * static_cast<float>((i * 7) % 23) - 5.0f * scale;
  }
  return v;
}

// Benchmark in NCHW holding exactly the sample's NHWC values.
std::vector<float> nhwc_to_nchw(const std::vector<float>& v, int n, int h, int w, int c) {
  std::vector<float> out(v.size());
  for (int in = 0; in < n; ++in)
    for (int ih = 0; ih < h; ++ih)
      for (int iw = 0; iw < w; ++iw)
        for (int ic = 0; ic < c; ++ic) {
          out[static_cast<std::size_t>(((in * c + ic) * h + ih) * w + iw)] =
              v[static_cast<std::size_t>(((in * h + ih) * w + iw) * c + ic)];
        }
  return out;
}

tensor_spec spec(const std::string& name, std::vector<std::int64_t> shape, std::int64_t op) {
  tensor_spec s;
  s.name = name;
  s.shape = std::move(shape);
  s.op_index = op;
  return s;
}

TEST(HtmlReport, HistogramsOnlyForSuspectLayers) {
  dump_pair p;
  {
    auto sw = dump_writer::create(p.sample_path);
    auto bw = dump_writer::create(p.bench_path);
    ASSERT_TRUE(sw && bw);
    for (int i = 0; i < 6; ++i) {
      auto b = ramp(24, 0.5f, static_cast<float>(i));
      auto s = b;
      if (i == 2 || i == 4) {  // far off: COS drops, RMSE grows
        for (std::size_t k = 0; k < s.size(); ++k) s[k] = (k % 2 ? 1.0f : -1.0f) * s[k] + 3.0f;
      }
      auto name = "layer" + std::to_string(i) + "/out";
      ASSERT_TRUE(sw->write(spec(name, {1, 2, 3, 4}, i), s));
      ASSERT_TRUE(bw->write(spec(name, {1, 2, 3, 4}, i), b));
    }
    ASSERT_TRUE(sw->close());
    ASSERT_TRUE(bw->close());
  }
  auto sample = dump_file::open(p.sample_path);
  auto bench = dump_file::open(p.bench_path);
  ASSERT_TRUE(sample) << sample.error().describe();
  ASSERT_TRUE(bench) << bench.error().describe();
  auto report = compare_dumps(*sample, *bench, compare_options{});
  ASSERT_TRUE(report) << report.error().describe();
  ASSERT_EQ(report->layers.size(), 6u);
  std::vector<std::uint32_t> suspects;
  for (const auto& l : report->layers) {
    if (l.suspect) suspects.push_back(l.index);
  }
  ASSERT_EQ(suspects, (std::vector<std::uint32_t>{2, 4}));

  auto html = render_html_report(*report, *sample, *bench);
  EXPECT_EQ(count(html, "class=\"layer-hist\""), 2u);
  EXPECT_NE(html.find("id=\"hist-2\""), std::string::npos);
  EXPECT_NE(html.find("id=\"hist-4\""), std::string::npos);
  EXPECT_NE(html.find("id=\"hist-values-2\""), std::string::npos);
  EXPECT_NE(html.find("id=\"hist-diff-4\""), std::string::npos);
  EXPECT_EQ(html.find("id=\"hist-0\""), std::string::npos);
  EXPECT_EQ(html.find("histograms-omitted"), std::string::npos);
  EXPECT_EQ(html.find("hist-error"), std::string::npos);
  // 64 bins per histogram, one hover area each.
  auto values = section(html, "id=\"hist-values-2\"", "</svg>");
  EXPECT_EQ(count(values, "class=\"bin\""), 64u);
  // Every element lands in a bin: the counts of one side add up to 24.
  auto diff = section(html, "id=\"hist-diff-2\"", "</svg>");
  std::uint64_t total = 0;
  for (auto pos = diff.find("sample - benchmark: "); pos != std::string::npos;
       pos = diff.find("sample - benchmark: ", pos + 1)) {
    total += std::stoull(diff.substr(pos + 20));
  }
  EXPECT_EQ(total, 24u);

  // Cap: one histogram, and the page says one was left out.
  html_options o;
  o.max_histograms = 1;
  html = render_html_report(*report, *sample, *bench, o);
  EXPECT_EQ(count(html, "class=\"layer-hist\""), 1u);
  EXPECT_NE(html.find("id=\"histograms-omitted\">1 more suspect layers omitted"),
            std::string::npos);
}

TEST(HtmlReport, ChannelChartPerSuspectLayer) {
  dump_pair p;
  {
    auto sw = dump_writer::create(p.sample_path);
    auto bw = dump_writer::create(p.bench_path);
    ASSERT_TRUE(sw && bw);
    auto b = ramp(48, 0.25f, 1.0f);
    auto s = b;
    for (std::size_t k = 0; k < s.size(); ++k) {
      if (k % 8 == 1 || k % 8 == 5) s[k] = -s[k];  // channels 1 and 5 of NHWC [1,2,3,8]
    }
    ASSERT_TRUE(sw->write(spec("ok/out", {1, 2, 3, 8}, 0), b));
    ASSERT_TRUE(bw->write(spec("ok/out", {1, 2, 3, 8}, 0), b));
    ASSERT_TRUE(sw->write(spec("bad/out", {1, 2, 3, 8}, 1), s));
    ASSERT_TRUE(bw->write(spec("bad/out", {1, 2, 3, 8}, 1), b));
    ASSERT_TRUE(sw->close());
    ASSERT_TRUE(bw->close());
  }
  auto sample = dump_file::open(p.sample_path);
  auto bench = dump_file::open(p.bench_path);
  ASSERT_TRUE(sample && bench);
  // Without evidence in the report the page makes it; with it, the same chart.
  auto report = compare_dumps(*sample, *bench, compare_options{});
  ASSERT_TRUE(report) << report.error().describe();
  ASSERT_TRUE(report->layers.at(1).suspect);
  const auto html = render_html_report(*report, *sample, *bench);
  EXPECT_EQ(count(html, "class=\"channel-chart\""), 1u);
  EXPECT_EQ(html.find("id=\"channel-chart-0\""), std::string::npos);
  const auto chart = section(html, "id=\"channel-chart-1\"", "</svg>");
  EXPECT_EQ(count(chart, "<g class=\"channel"), 8u);
  EXPECT_EQ(count(chart, "<g class=\"channel worst\"><title>c1: COS -1.000000"), 1u) << chart;
  EXPECT_EQ(count(chart, "<g class=\"channel worst\"><title>c5: COS -1.000000"), 1u) << chart;
  EXPECT_EQ(count(chart, "class=\"channel worst"), 2u) << chart;
  EXPECT_NE(html.find("Largest |a-b| at n,h,w,c:"), std::string::npos);

  compare_options on;
  on.channel_evidence = true;
  auto with = compare_dumps(*sample, *bench, on);
  ASSERT_TRUE(with && with->layers.at(1).channels);
  EXPECT_EQ(render_html_report(*with, *sample, *bench), html);
}

// The benchmark stored in the other layout holds the same values: the
// per-element difference must be exactly zero in both directions.
TEST(HtmlReport, TransposedLayoutsPairTheRightElements) {
  dump_pair p;
  const int n = 1, h = 2, w = 3, c = 5;
  auto nhwc = ramp(static_cast<std::size_t>(n * h * w * c), 1.0f, 0.25f);
  auto nchw = nhwc_to_nchw(nhwc, n, h, w, c);
  {
    auto sw = dump_writer::create(p.sample_path);
    auto bw = dump_writer::create(p.bench_path);
    ASSERT_TRUE(sw && bw);
    // Record 0: sample NHWC, benchmark NCHW. Record 1: the other way round.
    ASSERT_TRUE(sw->write(spec("a", {n, h, w, c}, 0), nhwc));
    ASSERT_TRUE(bw->write(spec("a", {n, c, h, w}, 0), nchw));
    ASSERT_TRUE(sw->write(spec("b", {n, c, h, w}, 1), nchw));
    ASSERT_TRUE(bw->write(spec("b", {n, h, w, c}, 1), nhwc));
    ASSERT_TRUE(sw->close());
    ASSERT_TRUE(bw->close());
  }
  auto sample = dump_file::open(p.sample_path);
  auto bench = dump_file::open(p.bench_path);
  ASSERT_TRUE(sample && bench);
  ASSERT_EQ(sample->records().size(), 2u);

  compare_report r;
  auto a = make_layer(0, 0.5, 0.5, 1);  // forced suspect so it gets histograms
  a.shape = {n, h, w, c};
  a.layout = layout_choice::benchmark_nchw_to_nhwc;
  auto b = make_layer(1, 0.5, 0.5, 1);
  b.shape = {n, c, h, w};
  b.layout = layout_choice::benchmark_nhwc_to_nchw;
  // And the same pair read with the wrong layout: differences are not zero.
  auto wrong = make_layer(2, 0.5, 0.5, 1);
  wrong.sample_record = 0;
  wrong.bench_record = 0;
  wrong.layout = layout_choice::same;
  r.layers = {a, b, wrong};
  auto html = render_html_report(r, *sample, *bench);
  for (const char* id : {"id=\"hist-0\"", "id=\"hist-1\""}) {
    auto s = section(html, id, "</section>");
    ASSERT_FALSE(s.empty()) << id;
    EXPECT_EQ(s.find("hist-error"), std::string::npos) << s;
    EXPECT_NE(s.find("sample - benchmark: min 0, max 0, mean 0"), std::string::npos) << s;
  }
  auto s = section(html, "id=\"hist-2\"", "</section>");
  EXPECT_EQ(s.find("sample - benchmark: min 0, max 0"), std::string::npos) << s;

  // Layouts the benchmark cannot have give a note, not a crash.
  r.layers[0].bench_record = 7;
  r.layers[1].layout = layout_choice::benchmark_nchw_to_nhwc;
  r.layers[1].bench_record = 0;
  r.layers[1].sample_record = 1;
  html = render_html_report(r, *sample, *bench);
  EXPECT_NE(section(html, "id=\"hist-0\"", "</section>").find("hist-error"), std::string::npos);
}

TEST(HtmlReport, WritesFilesAtomically) {
  temp_dir dir;
  auto r = make_report(12, 5);
  auto path = dir.file("report.html");
  write_file(path, "old content");
  namespace fs = std::filesystem;
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  // Values are not needed for writing the page itself; use real empty dumps.
  auto sp = dir.file("s.bin"), bp = dir.file("b.bin");
  {
    auto sw = dump_writer::create(sp);
    auto bw = dump_writer::create(bp);
    ASSERT_TRUE(sw && bw);
    ASSERT_TRUE(sw->close());
    ASSERT_TRUE(bw->close());
  }
  auto sample = dump_file::open(sp);
  auto bench = dump_file::open(bp);
  ASSERT_TRUE(sample && bench);
  auto ok = write_html_report(path, r, *sample, *bench);
  ASSERT_TRUE(ok) << ok.error().describe();
  EXPECT_EQ(read_file(path), render_html_report(r, *sample, *bench));
  // The replaced file keeps its mode; a new one is readable by all.
  EXPECT_EQ(fs::status(path).permissions(),
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  auto svg_path = dir.file("chart.svg");
  ASSERT_TRUE(write_plot_svg(svg_path, r));
  EXPECT_EQ(read_file(svg_path), render_metric_chart_svg(r));
  EXPECT_EQ(fs::status(svg_path).permissions() & fs::perms::others_read, fs::perms::others_read);

  // Failures leave nothing behind and name the file.
  auto missing = dir.file("no/such/dir/report.html");
  auto bad = write_plot_svg(missing, r);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, errc::io);
  EXPECT_EQ(bad.error().file, missing);
  auto as_dir = dir.file("taken");
  std::filesystem::create_directory(as_dir);
  auto bad2 = write_plot_svg(as_dir, r);
  ASSERT_FALSE(bad2);
  EXPECT_NE(bad2.error().describe().find("taken"), std::string::npos);

  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names,
            (std::vector<std::string>{"b.bin", "chart.svg", "report.html", "s.bin", "taken"}));
}

TEST(HtmlReport, CoverageAndVerdictInTheHeader) {
  auto r = make_report(6, 10);
  r.coverage.sample_layers = 10;
  r.coverage.compared = 6;
  r.coverage.sample_only = 4;
  r.coverage.benchmark_ends_at = 5;
  r.coverage.benchmark_ends_name = "conv5/bn";
  auto html = render_html_report(r);
  EXPECT_NE(html.find("<dd id=\"coverage\" class=\"bad\">6 of 10 sample layers compared, 4 have no "
                      "benchmark layer (benchmark ends at 5) conv5/bn)</dd>"),
            std::string::npos)
      << section(html, "<dl", "</dl>");
  EXPECT_NE(html.find("<dd id=\"verdict\" class=\"bad\">incomplete: 4 of 10 sample layers not "
                      "compared"),
            std::string::npos)
      << section(html, "<dl", "</dl>");
  r.coverage.sample_layers = 6;
  r.coverage.sample_only = 0;
  html = render_html_report(r);
  EXPECT_NE(html.find("<dd id=\"coverage\">6 of 6 sample layers compared</dd>"), std::string::npos)
      << section(html, "<dl", "</dl>");
  EXPECT_NE(html.find("<dd id=\"verdict\" class=\"good\">pass: "), std::string::npos)
      << section(html, "<dl", "</dl>");
}

}  // namespace
}  // namespace sigdump
