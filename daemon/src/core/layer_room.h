// Room for a run's published layers, made on a worker: a run's report keeps
// its layers in one vector, and the insert that outgrows it moved every
// layer into fresh memory on the loop thread, each page of it a fault (at
// 8,192 layers 3.5 MB, 865 faults and 2-4 ms in one callback, and twice
// that at each doubling after). A worker now allocates the bigger vector
// and touches its pages beforehand; the loop moves the layers into it, and
// the old vector is freed on a worker.
#pragma once

#include <memory>
#include <vector>

#include "platform/event_loop.h"
#include "platform/worker_pool.h"
#include "sigdump/compare.h"

namespace sigdump::daemon {

class layer_room {
 public:
  /* Below this capacity a doubling costs little: the vector grows as usual. */
  static constexpr std::size_t min_capacity = 2048;

  /* Call before inserting one layer into `layers`, on the loop thread. Once
     `layers` is half full, asks `pool` for a vector with twice its room
     (posted back through `loop`); when `layers` is full and that vector is
     there, moves the layers into it. */
  void before_insert(std::vector<layer_result>& layers, worker_pool& pool, event_loop& loop);
  /* Whether a worker's room is there, waiting for the vector to fill. */
  bool ready() const noexcept { return slot_->room != nullptr; }

 private:
  struct slot {
    bool asked = false;                               // a worker is making room
    std::shared_ptr<std::vector<layer_result>> room;  // empty, reserved, pages touched
  };
  std::shared_ptr<slot> slot_ = std::make_shared<slot>();
};

}  // namespace sigdump::daemon
