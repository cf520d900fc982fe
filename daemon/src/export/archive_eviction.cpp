// The archive's byte budget: copies of ended runs are evicted, oldest
// first, while the copies together are over it; a live or busy copy never
// is. drop() removes one copy, its file (on the copier thread) and its
// aliases.
#include <unistd.h>

#include <algorithm>
#include <string>

#include "export/archive.h"
#include "export/archive_copier.h"
#include "platform/log.h"

namespace sigdump::daemon {

void archive::set_budget(std::uint64_t max_bytes) {
  max_bytes_ = max_bytes;
  evict();
}

void archive::drop(std::map<std::uint64_t, entry>::iterator it, bool remove_file) {
  entry& e = it->second;
  if (e.io) {
    e.io->cancel.store(true, std::memory_order_release);
    e.io->abandon.store(true, std::memory_order_release);
  }
  // Deleted on the copier thread, after this copy's jobs (the archive
  // folder may be a slow disk); what stop() finds still queued, it deletes.
  if (remove_file) {
    {
      const std::lock_guard lock(dropped_->m);
      dropped_->paths.insert(e.info.path);
    }
    copier_.submit([ch = e.io, path = e.info.path, dropped = dropped_] {
      remove_copy(ch.get(), path);
      const std::lock_guard lock(dropped->m);
      dropped->paths.erase(path);
    });
  }
  for (auto a : e.aliases) alias_.erase(a);
  total_ -= std::min(total_, e.info.bytes);
  entries_.erase(it);
}

void archive::evict() {
  if (max_bytes_ == 0 || total_ <= max_bytes_) return;
  bool changed = false;
  for (auto it = entries_.begin(); total_ > max_bytes_ && it != entries_.end();) {
    const entry& e = it->second;
    if (e.info.live || e.info.busy) {
      ++it;
      continue;
    }
    log(log_level::info, "archive: evicting r" + std::to_string(it->first) + " (" +
                             std::to_string(e.info.bytes) + " bytes) to stay within " +
                             std::to_string(max_bytes_) + " bytes");
    auto next = std::next(it);
    drop(it);
    it = next;
    changed = true;
  }
  if (changed) write_index();
}

}  // namespace sigdump::daemon
