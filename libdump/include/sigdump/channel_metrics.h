// Per-channel evidence for one compared layer: the vendor's metrics per
// channel, the worst channels and the elements that differ most, with
// their coordinates. A per-tensor COS can hide a layer whose error sits in
// a few outlier channels; this shows them. Computed for just the layers
// that need it (suspect layers, or one asked for): by compare_dumps
// together with a layer's metrics when its first elements look suspect,
// else in a second pass; a comparison with no suspect layer pays nothing
// for it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sigdump/error.h"
#include "sigdump/layout.h"
#include "sigdump/tensor.h"

namespace sigdump {

class dump_file;
struct compare_report;

struct channel_options {
  std::uint32_t worst_channels = 4;  // channels listed as the worst
  std::uint32_t top_elements = 8;    // elements with the largest |sample - benchmark|
  /* Above this many channels (e.g. a 1-D tensor of a million values) no
     per-channel metrics are kept; the top elements still are. */
  std::uint64_t max_channels = 65536;
};

/* The vendor's metrics over one channel's elements. */
struct channel_stat {
  std::uint32_t channel = 0;
  std::uint64_t n = 0;
  double mse = 0, cos = 0, rmse = 0, max_abs = 0;
  double peak = 0;        // largest finite |benchmark value| in the channel: its range
  bool all_zero = false;  // both sides all zero in this channel (COS 0, yet identical)
};

/* One element of the sample and its benchmark counterpart. */
struct element_diff {
  std::uint64_t index = 0;       // row-major index in the sample's shape
  std::vector<std::int64_t> at;  // coordinates in channel_evidence::order
  std::uint32_t channel = 0;     // its channel
  double sample = 0, benchmark = 0;
  double abs_diff = 0;  // |sample - benchmark|; NaN when either is NaN
};

struct channel_evidence {
  /* The channel axis of the sample's shape: C of NHWC (the last axis), C of
     NCHW (axis 1) when the benchmark was read NHWC -> NCHW, else the last
     axis; a scalar or 1-D tensor is one channel (axis -1). */
  std::int32_t axis = -1;
  std::uint64_t channels = 1;
  /* How `at` coordinates are ordered: "n,h,w,c" for 4-D tensors (the
     channel last whatever the sample's layout), else "d0,d1,..." (the
     sample's axes; the channel is the last). */
  std::string order;
  std::vector<channel_stat> per_channel;  // in channel order; empty above max_channels
  std::vector<channel_stat> worst;        // worst first: lowest COS, then highest RMSE
  std::vector<element_diff> top;          // largest |a-b| first (NaN first), then lowest index
  /* Channels whose peak is more than outlier_ratio times the median
     channel's peak (none when that median is 0), by channel: the few wide
     channels that set an 8-bit tensor's range and crush the others. */
  std::vector<std::uint32_t> outliers;
};

inline constexpr double outlier_ratio = 10.0;

/* Per-channel evidence of `sample` against `bench` read through `layout`
   (as compare_layer read them). One thread, elements in row-major order,
   double accumulators: the same numbers every time. Reads under a SIGBUS
   guard (errc::truncated when the file shrank under the views). */
result<channel_evidence> compute_channel_evidence(const tensor_view& sample,
                                                  const tensor_view& bench, layout_choice layout,
                                                  const channel_options& options = {});

/* Fills layer_result::channels of each compared layer of `report` that is
   suspect (every compared layer with `all_layers`) and has none yet,
   reading its records in `sample` and `bench` again through the layer's
   layout. Layers are spread over `threads` (0: every core), each computed
   by one thread. A layer whose records cannot be read again keeps none. */
void add_channel_evidence(compare_report& report, const dump_file& sample, const dump_file& bench,
                          bool all_layers, unsigned threads, const channel_options& options = {});

/* "n,h,w,c" coordinates of an element_diff as text: "[0,3,5,17]". */
std::string format_coordinates(const std::vector<std::int64_t>& at);

}  // namespace sigdump
