// Renderings of a compare_report for people: a self-contained HTML report
// (charts, sortable table, per-layer histograms, advice) and a standalone
// SVG chart of the metrics per layer. No network access is needed to view
// either: everything is inline SVG, CSS and a few lines of JS.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sigdump/compare.h"
#include "sigdump/dump_file.h"
#include "sigdump/error.h"

namespace sigdump {

struct chart_options {
  /* true: a standalone document (XML declaration, xmlns); false: an
     element to embed in HTML. */
  bool standalone = true;
  /* Horizontal room per layer in pixels; long nets get a wide chart. */
  double px_per_layer = 4.0;
  /* Plot area width never below this (short nets), never above max. */
  double min_plot_width = 860.0;
  double max_plot_width = 30000.0;
  /* Height of each of the three panels (COS, RMSE, MSE). */
  double panel_height = 170.0;
  /* In HTML: each layer's hover area links to the table row #layer-N. */
  bool link_rows = false;
};

struct html_options {
  /* Histograms are drawn for at most this many suspect layers (in order);
     the report says how many were left out. */
  std::uint32_t max_histograms = 32;
  /* Bins of each histogram. */
  std::uint32_t histogram_bins = 64;
};

/* The metric chart: COS and RMSE (linear) and MSE (log10) per layer in
   execution order, threshold lines, the first bad layer and the diagnosis
   marked, one <title> tooltip per layer. Element ids: metric-chart,
   cos-panel, rmse-panel, mse-panel, cos-threshold, rmse-threshold,
   first-bad-marker, diagnosis-marker. Never fails; an empty report gives a
   chart that says so. */
std::string render_metric_chart_svg(const compare_report& report,
                                    const chart_options& options = {});

/* The whole HTML report. Histograms read values of both dumps through
   dump_file::view (records named by layer_result::sample_record and
   bench_record, benchmark read through layer.layout); a record that cannot
   be read gets a note instead of a histogram. */
std::string render_html_report(const compare_report& report, const dump_file& sample,
                               const dump_file& bench, const html_options& options = {});

/* Same without access to the values: no histograms, a note says why. */
std::string render_html_report(const compare_report& report, const html_options& options = {});

/* Writes render_html_report() to path atomically (temp file in the same
   folder, fsync, rename); on error no partial file is left behind. */
result<void> write_html_report(const std::string& path, const compare_report& report,
                               const dump_file& sample, const dump_file& bench,
                               const html_options& options = {});

/* Writes render_metric_chart_svg() (standalone) to path atomically. */
result<void> write_plot_svg(const std::string& path, const compare_report& report,
                            const chart_options& options = {});

}  // namespace sigdump
