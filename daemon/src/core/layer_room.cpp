#include "core/layer_room.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <iterator>

namespace sigdump::daemon {

namespace {

// Makes the kernel map every page of the vector's storage now (on the
// calling worker), so that moving layers into it faults on no page.
void touch_storage(std::vector<layer_result>& v) {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  auto* bytes = reinterpret_cast<unsigned char*>(v.data());
  const std::size_t size = v.capacity() * sizeof(layer_result);
  const std::uintptr_t from = (reinterpret_cast<std::uintptr_t>(bytes) + page - 1) & ~(page - 1);
  const std::uintptr_t to = (reinterpret_cast<std::uintptr_t>(bytes) + size) & ~(page - 1);
  // The pages the storage covers whole; an older kernel without the advice
  // gets them written (storage that holds no layer yet).
  if (to <= from || ::madvise(reinterpret_cast<void*>(from), to - from, MADV_POPULATE_WRITE) != 0) {
    std::memset(static_cast<void*>(bytes), 0, size);
  }
}

}  // namespace

void layer_room::before_insert(std::vector<layer_result>& layers, worker_pool& pool,
                               event_loop& loop) {
  const std::size_t capacity = layers.capacity();
  if (capacity < min_capacity) return;
  slot& s = *slot_;
  // Outgrown meanwhile (the vector grew while the worker made room).
  if (s.room && s.room->capacity() <= capacity) pool.submit([old = std::move(s.room)] {});
  if (layers.size() == capacity && s.room) {
    s.room->insert(s.room->end(), std::make_move_iterator(layers.begin()),
                   std::make_move_iterator(layers.end()));
    layers.swap(*s.room);
    // The old storage (moved-from layers) goes back to the system on a
    // worker: a munmap of megabytes.
    pool.submit([old = std::move(s.room)] {});
    return;
  }
  if (s.asked || s.room || layers.size() < capacity / 2) return;
  s.asked = true;
  const std::size_t wanted = capacity * 2;
  pool.submit([slot = slot_, wanted, &loop] {
    auto room = std::make_shared<std::vector<layer_result>>();
    room->reserve(wanted);
    touch_storage(*room);
    loop.post([slot, room] {
      slot->asked = false;
      slot->room = room;
    });
  });
}

}  // namespace sigdump::daemon
