// Room for a tracked file's records, made on a worker: a dump_file's
// records (a vector) and name index (hash tables) double as they grow, and
// a doubling copies and rehashes every record: 3-4 ms of the loop thread's
// CPU time at 16,000-32,000 records (bench/loop_stall_bench.cpp). Before a
// look would need it, a worker makes a copy with twice the room while a
// lease keeps the file as it is (looks wait, as for a comparison); the next
// look takes the copy in place of the records, and the old records are let
// go on a worker. Loop thread only, but for the jobs.
#include <exception>
#include <memory>

#include "core/file_runs.h"
#include "platform/worker_pool.h"

namespace sigdump::daemon {

namespace {

// Files with fewer records double on the loop: cheap (under 0.2 ms).
constexpr std::size_t room_from = 4096;
// A copy is made once the room left is less than two looks' records.
constexpr std::size_t room_low = 2 * file_runs::records_per_look;

}  // namespace

void file_runs::make_room(tracked_file& tf) {
  if (pool_ == nullptr || pool_->size() == 0 || tf.growing || tf.room || !tf.file) return;
  const auto& recs = tf.file->records();
  if (recs.size() < room_from || recs.capacity() - recs.size() >= room_low) return;
  auto self = state_.files.find(tf.path);
  if (self == state_.files.end() || self->second.get() != &tf) return;
  tf.growing = true;
  struct room_job {
    file_lease lease;
    std::size_t capacity = 0;
    std::shared_ptr<dump_file::storage> room;
  };
  auto j = std::make_shared<room_job>();
  j->lease = file_lease(self->second);
  j->capacity = 2 * recs.capacity();
  pool_->submit([this, j, loop = &loop_, alive = alive_, tf = self->second] {
    try {
      j->room = std::make_shared<dump_file::storage>(j->lease.get()->grown_copy(j->capacity));
    } catch (const std::exception&) {
      // Out of memory: the records double on the loop instead.
    }
    loop->post([this, j, alive, tf] {
      j->lease.reset();
      if (!*alive) return;
      tf->growing = false;
      tf->room = std::move(j->room);
      // Looks that waited for the lease.
      if (tf->refresh_wanted) post_look(tf->path);
    });
  });
}

void file_runs::take_room(tracked_file& tf) {
  if (!tf.room) return;
  std::shared_ptr<dump_file::storage> old = std::move(tf.room);
  // Refused when the records changed meanwhile (read again from scratch):
  // then it is no copy of them. Either way what `old` holds now (the old
  // records, or the stale copy) is freed on a worker.
  [[maybe_unused]] const bool taken = tf.file->adopt(*old);
  if (pool_ != nullptr && pool_->size() > 0) {
    pool_->submit([old = std::move(old)]() mutable { old.reset(); });
  }
}

}  // namespace sigdump::daemon
