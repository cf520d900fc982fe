#include "sigdump/ipc/event_history.h"

namespace sigdump::ipc {

const char* event_kind_name(event_kind k) noexcept {
  switch (k) {
    case event_kind::layer: return "layer";
    case event_kind::run_start: return "run_start";
    case event_kind::run_end: return "run_end";
    case event_kind::run_reset: return "run_reset";
    case event_kind::resync: return "resync";
    case event_kind::gap: return "gap";
    case event_kind::run_revised: return "run_revised";
  }
  return "unknown";
}

bool subscription_filter::matches(const published_event& e) const noexcept {
  if (e.kind == event_kind::resync) return true;
  if (pair && e.pair != *pair) return false;
  if (path && e.path != *path) return false;
  if (run && e.run != *run && e.previous_run != *run) return false;
  if (suspect_only && e.kind == event_kind::layer && !e.suspect) return false;
  return true;
}

event_history::event_history(std::size_t capacity, std::size_t max_bytes)
    : capacity_(capacity == 0 ? 1 : capacity), max_bytes_(max_bytes) {}

std::size_t event_history::bytes_of(const published_event& e) noexcept {
  return sizeof(published_event) + e.run.capacity() + e.previous_run.capacity() +
         e.path.capacity() + e.pair.capacity() + e.object.capacity();
}

void event_history::append(std::shared_ptr<const published_event> e) {
  // A jump in ticks would break the tick -> position arithmetic: forget the
  // past rather than replay a sequence with a hole in it.
  if (e->tick != last_tick_ + 1) reset(last_tick_);
  last_tick_ = e->tick;
  bytes_ += bytes_of(*e);
  events_.push_back(std::move(e));
  evict();
}

void event_history::set_max_bytes(std::size_t max_bytes) {
  max_bytes_ = max_bytes;
  evict();
}

void event_history::evict() {
  while (events_.size() > 1 && (events_.size() > capacity_ || bytes_ > max_bytes_)) {
    bytes_ -= bytes_of(*events_.front());
    events_.pop_front();
  }
}

void event_history::reset(std::uint64_t last_tick) {
  events_.clear();
  bytes_ = 0;
  last_tick_ = last_tick;
}

bool event_history::covers(std::uint64_t tick) const noexcept {
  return tick <= last_tick_ && tick + 1 >= first_tick();
}

const std::shared_ptr<const published_event>* event_history::at(std::uint64_t tick) const noexcept {
  if (tick < first_tick() || tick > last_tick_) return nullptr;
  return &events_[tick - first_tick()];
}

}  // namespace sigdump::ipc
