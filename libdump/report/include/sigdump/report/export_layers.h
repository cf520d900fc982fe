// The vendor's per-layer value folders (<net>_<bench>_DumpDebug_out/<N>/):
// each compared layer's real values as text, sample and benchmark side by
// side, for the vendor's own tools.
#pragma once

#include <string>

#include "sigdump/compare.h"
#include "sigdump/dump_file.h"
#include "sigdump/error.h"

namespace sigdump {

/* Writes, for each compared layer N of the report, DIR/<N>/sample.txt and
   DIR/<N>/benchmark.txt: a "NAME [shape]" line, then the real values "%.6f"
   joined by ", ", 16 per row (1 with one_per_row), the benchmark in the
   sample's order. Built in a temp folder beside DIR and renamed into place;
   an existing DIR is replaced only if it looks like an earlier export. */
result<void> export_layers(const compare_report& report, const dump_file& sample,
                           const dump_file& bench, const std::string& dir, bool one_per_row);

}  // namespace sigdump
