// Private: the per-channel bar chart of a suspect layer in the HTML report.
#pragma once

#include <string>
#include <string_view>

#include "sigdump/channel_metrics.h"

namespace sigdump::detail {

/* One bar per channel, its height 1 - COS (0 for a channel that matches,
   2 for one whose sign flipped), the worst channels (channel_evidence::worst
   at a tenth of the tallest bar or more) in the "bad" colour and
   outlier channels marked; one <title> tooltip per channel (COS, RMSE,
   max |a-b|, peak). `id` names the <svg> element. A note instead of bars
   when there are no per-channel metrics (too many channels). */
std::string render_channel_chart_svg(std::string_view id, const channel_evidence& channels);

}  // namespace sigdump::detail
