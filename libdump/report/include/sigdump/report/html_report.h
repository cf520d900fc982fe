// The HTML report for people: one self-contained page with the metric
// chart, a sortable layer table, value histograms of the suspect layers
// and the advice. No network access is needed to view it: everything is
// inline SVG, CSS and a few lines of JS.
#pragma once

#include <cstdint>
#include <string>

#include "sigdump/compare.h"
#include "sigdump/dump_file.h"
#include "sigdump/error.h"

namespace sigdump {

struct html_options {
  /* Histograms are drawn for at most this many suspect layers (in order);
     the report says how many were left out. */
  std::uint32_t max_histograms = 32;
  /* Bins of each histogram. */
  std::uint32_t histogram_bins = 64;
};

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

}  // namespace sigdump
