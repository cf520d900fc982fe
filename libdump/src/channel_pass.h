// Private: the per-channel evidence pass (channel_metrics.cpp) as steps a
// caller drives, so that compare_dumps can add a layer's elements to it
// right after the metric kernels summed them, while they are still in the
// CPU's cache (compare.cpp), instead of reading the layer again.
// compute_channel_evidence drives the same steps over the whole layer.
#pragma once

#include <cstdint>
#include <memory>

#include "sigdump/channel_metrics.h"

namespace sigdump::detail {

class channel_pass {
 public:
  /* Elements per add() at most. */
  static constexpr std::uint64_t max_step = 16384;

  /* Allocates all the pass needs (add() allocates nothing). The views must
     have the same element count. */
  channel_pass(const tensor_view& sample, const tensor_view& bench, layout_choice layout,
               const channel_options& options = {});
  ~channel_pass();
  channel_pass(const channel_pass&) = delete;
  channel_pass& operator=(const channel_pass&) = delete;

  /* Adds elements [first, first + len), len <= max_step, which must follow
     the elements added before (the first call: from 0). Reads the views'
     mapped bytes: call it under a SIGBUS guard. Every channel adds its
     elements in index order whatever the steps, so the evidence is the
     same to the bit however a layer is cut into them. */
  void add(std::uint64_t first, std::uint64_t len) noexcept;

  /* The evidence once every element was added. */
  channel_evidence finish();

  struct state;

 private:
  std::unique_ptr<state> s_;
};

}  // namespace sigdump::detail
