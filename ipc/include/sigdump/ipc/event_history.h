// Published events and the bounded history that lets a reconnecting
// subscriber replay exactly what it missed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

namespace sigdump::ipc {

enum class event_kind : std::uint8_t {
  layer,
  run_start,
  run_end,
  run_reset,
  resync,
  gap,
  run_revised
};

/* The wire spelling ("run_start"). */
const char* event_kind_name(event_kind k) noexcept;

/* One event as published, shared by the history and every subscriber. */
struct published_event {
  std::uint64_t tick = 0;
  event_kind kind = event_kind::layer;
  std::string run;           // empty when the event has none (resync)
  std::string previous_run;  // run_reset: the run that ended
  std::string path;          // the dump file
  std::string pair;          // empty when the file belongs to no pair
  std::int64_t layer = -1;   // layer events: the layer's index
  bool suspect = false;      // layer events: the layer is suspect
  std::string object;        // the event as a JSON object, "clock" included, "id" not
};

/* What a subscriber asked for; unset fields match everything. */
struct subscription_filter {
  std::optional<std::string> pair, path, run;
  bool suspect_only = false;

  /* resync always matches; run matches run or previous_run; suspect_only
     drops layer events that are not suspect and keeps every other kind. */
  bool matches(const published_event& e) const noexcept;
};

/* The last `capacity` events, by tick. Ticks are consecutive. */
class event_history {
 public:
  static constexpr std::size_t default_capacity = 65536;
  explicit event_history(std::size_t capacity = default_capacity);

  /* Appends; e->tick must be last_tick() + 1. Evicts the oldest past capacity. */
  void append(std::shared_ptr<const published_event> e);

  /* Forgets every event; the next one appended must have tick last_tick + 1
     (a server starting after events were already published). */
  void reset(std::uint64_t last_tick);

  /* Tick of the newest event ever appended, 0 before the first. */
  std::uint64_t last_tick() const noexcept { return last_tick_; }
  /* Tick of the oldest event retained (last_tick() + 1 when empty). */
  std::uint64_t first_tick() const noexcept { return last_tick_ + 1 - events_.size(); }
  std::size_t size() const noexcept { return events_.size(); }
  std::size_t capacity() const noexcept { return capacity_; }

  /* True when every event after `tick` is still retained, i.e. a replay from
     there is complete (also true for tick == last_tick()). False for ticks
     in the future. */
  bool covers(std::uint64_t tick) const noexcept;

  /* The event with this tick, or nullptr when evicted or not yet published. */
  const std::shared_ptr<const published_event>* at(std::uint64_t tick) const noexcept;

 private:
  std::size_t capacity_;
  std::uint64_t last_tick_ = 0;
  std::deque<std::shared_ptr<const published_event>> events_;
};

}  // namespace sigdump::ipc
