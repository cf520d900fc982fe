// The metric chart: COS, RMSE and MSE per layer as SVG, standalone
// (`sigdump compare --plot`) or embedded in the HTML report. Everything is
// inline SVG text; nothing is fetched to view it.
#pragma once

#include <string>

#include "sigdump/compare.h"
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

/* COS and RMSE (linear) and MSE (log10) per layer in execution order,
   threshold lines, the first bad layer and the diagnosis marked, one
   <title> tooltip per layer. Element ids: metric-chart, cos-panel,
   rmse-panel, mse-panel, cos-threshold, rmse-threshold, first-bad-marker,
   diagnosis-marker. Never fails; an empty report gives a chart that says
   so. */
std::string render_metric_chart_svg(const compare_report& report,
                                    const chart_options& options = {});

/* Writes render_metric_chart_svg() (standalone) to path atomically (temp
   file in the same folder, fsync, rename). */
result<void> write_plot_svg(const std::string& path, const compare_report& report,
                            const chart_options& options = {});

}  // namespace sigdump
