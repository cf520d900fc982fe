// A compare_report as CSV, for spreadsheets.
#pragma once

#include <string>

#include "sigdump/compare.h"

namespace sigdump {

/* A header row, then one row per layer with the columns of report_json's
   layer objects; RFC 4180 quoting. */
std::string report_csv(const compare_report& report);

}  // namespace sigdump
