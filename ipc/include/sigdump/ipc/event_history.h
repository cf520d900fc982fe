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

/* The last `capacity` events, by tick, and no more than max_bytes of them
   (bytes_of each; the newest event is always kept). Ticks are consecutive. */
class event_history {
 public:
  static constexpr std::size_t default_capacity = 65536;
  static constexpr std::size_t default_max_bytes = std::size_t{16} << 20;
  explicit event_history(std::size_t capacity = default_capacity,
                         std::size_t max_bytes = default_max_bytes);

  /* The memory one retained event is counted as: its strings and itself. */
  static std::size_t bytes_of(const published_event& e) noexcept;

  /* Appends; e->tick must be last_tick() + 1. Evicts the oldest past
     capacity or max_bytes. */
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
  /* Bytes the retained events are counted as, and the bound on them. */
  std::size_t bytes() const noexcept { return bytes_; }
  std::size_t max_bytes() const noexcept { return max_bytes_; }
  /* A new byte bound (a reload); evicts the oldest events past it. */
  void set_max_bytes(std::size_t max_bytes);

  /* True when every event after `tick` is still retained, i.e. a replay from
     there is complete (also true for tick == last_tick()). False for ticks
     in the future. */
  bool covers(std::uint64_t tick) const noexcept;

  /* The event with this tick, or nullptr when evicted or not yet published. */
  const std::shared_ptr<const published_event>* at(std::uint64_t tick) const noexcept;

 private:
  void evict();

  std::size_t capacity_;
  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  std::uint64_t last_tick_ = 0;
  std::deque<std::shared_ptr<const published_event>> events_;
};

}  // namespace sigdump::ipc
