// The status board's writer: the daemon's side (docs/status-board.md).
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/permissions.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <limits>
#include <mutex>
#include <random>
#include <thread>

#include "sigdump/ipc/status_board.h"
#include "status_board_layout.h"

namespace sigdump::ipc {

namespace bip = boost::interprocess;
using namespace board_detail;

// ---------------------------------------------------------------- writer

struct board_writer::impl {
  std::string name;  // "/sigdump-board-..."
  bip::mapped_region region;
  header_v1* header = nullptr;
  std::uint32_t pair_capacity = 0, layer_capacity = 0;
  std::mutex mutex;
  // The writer's own copy of every slot: it is the only writer, so it never
  // reads the segment back.
  std::vector<pair_v1> slots;
  std::uint32_t pair_count = 0;
  std::uint64_t tick = 0;

  unsigned char* base() const { return static_cast<unsigned char*>(region.get_address()); }
  pair_v1* slot_ptr(std::size_t i) const {
    return reinterpret_cast<pair_v1*>(base() + sizeof(header_v1) + i * sizeof(pair_v1));
  }
  layer_v1* layer_ptr(std::size_t pair, std::size_t index) const {
    return reinterpret_cast<layer_v1*>(base() + sizeof(header_v1) +
                                       pair_capacity * sizeof(pair_v1) +
                                       (pair * layer_capacity + index) * sizeof(layer_v1));
  }
  word* seq_word() const { return &header->seq; }

  // Seqlock write side: odd while writing. The release fence after the odd
  // store keeps the data stores from moving above it.
  void begin() {
    std::atomic_ref<word> seq(*seq_word());
    seq.store(seq.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
  }
  void end() {
    word ns = now_ns();
    std::atomic_ref<word>(header->updated_ns).store(ns, std::memory_order_relaxed);
    std::atomic_ref<word> seq(*seq_word());
    seq.store(seq.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  void publish_count() {
    // pair_count shares a word with pair_slot_bytes (offset 56..63).
    auto* w = reinterpret_cast<word*>(reinterpret_cast<unsigned char*>(header) + 56);
    struct {
      std::uint32_t count, slot_bytes;
    } v{pair_count, sizeof(pair_v1)};
    store_words(w, &v, sizeof v);
  }
  int find(std::string_view pair_name) const {
    for (std::uint32_t i = 0; i < pair_count; ++i) {
      if (slots[i].state != static_cast<std::uint32_t>(board_state::free) &&
          get_string(slots[i].name, sizeof slots[i].name) == pair_name) {
        return static_cast<int>(i);
      }
    }
    return -1;
  }
  void clear_table(std::size_t slot) {
    layer_v1 empty{};
    for (std::uint32_t i = 0; i < slots[slot].table_used; ++i) {
      store_words(layer_ptr(slot, i), &empty, sizeof empty);
    }
    auto& s = slots[slot];
    s.layers = 0;
    s.suspect = 0;
    s.table_used = 0;
    s.worst_cos = std::numeric_limits<double>::quiet_NaN();
    s.worst_rmse = std::numeric_limits<double>::quiet_NaN();
    s.flags &= ~(pair_layers_dropped | pair_has_latest | pair_has_worst);
    if ((s.flags & pair_first_bad_fixed) == 0) {
      s.first_bad_index = -1;
      std::memset(s.first_bad_name, 0, sizeof s.first_bad_name);
    }
    s.latest = layer_v1{};
  }
};

result<board_writer> board_writer::create(const std::string& name, const board_options& options) {
  if (shm_key(name).empty() || shm_key(name).find('/') != std::string::npos) {
    return make_error(errc::usage, name, no_record, no_offset,
                      "invalid shared-memory name (want '/name' without further slashes)");
  }
  if (options.pair_capacity == 0 || options.layer_capacity == 0 || options.pair_capacity > 4096 ||
      options.layer_capacity > (1u << 20)) {
    return make_error(errc::usage, name, no_record, no_offset, "board capacities out of range");
  }
  auto p = std::make_unique<impl>();
  p->name = posix_name(name);
  p->pair_capacity = options.pair_capacity;
  p->layer_capacity = options.layer_capacity;
  const std::uint64_t total =
      sizeof(header_v1) + std::uint64_t{options.pair_capacity} * sizeof(pair_v1) +
      std::uint64_t{options.pair_capacity} * options.layer_capacity * sizeof(layer_v1);
  // Our own leftover (a crashed daemon's) is replaced. A segment of another
  // user under this name cannot be removed (/dev/shm is sticky) and must
  // not be used: the board then gets a name with a random suffix, which the
  // daemon tells its clients (hello, status), and readers refuse the
  // squatter's segment by its owner.
  for (int attempt = 0;; ++attempt) {
    const std::string key = shm_key(p->name);
    try {
      bip::shared_memory_object::remove(key.c_str());
      bip::permissions perm(static_cast<int>(options.mode));
      bip::shared_memory_object shm(bip::create_only, key.c_str(), bip::read_write, perm);
      shm.truncate(static_cast<bip::offset_t>(total));
      p->region = bip::mapped_region(shm, bip::read_write, 0, total);
      // shm's descriptor closes here; the mapping stays.
      break;
    } catch (const bip::interprocess_exception& e) {
      if (e.get_error_code() == bip::already_exists_error && attempt < 4) {
        std::random_device rd;
        char suffix[20];
        std::snprintf(suffix, sizeof suffix, "-%08x%08x", rd(), rd());
        p->name = posix_name(name) + suffix;
        continue;
      }
      bip::shared_memory_object::remove(key.c_str());
      return make_error(errc::io, p->name, no_record, no_offset,
                        std::string("cannot create the status board: ") + e.what());
    }
  }
  p->header = static_cast<header_v1*>(p->region.get_address());
  p->slots.assign(options.pair_capacity, pair_v1{});

  header_v1 h{};
  h.layout_version = board_layout_version;
  h.header_bytes = sizeof(header_v1);
  h.pid = options.pid != 0 ? options.pid : static_cast<std::uint64_t>(::getpid());
  h.started =
      options.started != 0
          ? options.started
          : static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count());
  h.pair_capacity = options.pair_capacity;
  h.layer_capacity = options.layer_capacity;
  h.pair_slot_bytes = sizeof(pair_v1);
  h.layer_entry_bytes = sizeof(layer_v1);
  h.layer_name_bytes = layer_name_bytes;
  h.pairs_offset = sizeof(header_v1);
  h.layers_offset = sizeof(header_v1) + std::uint64_t{options.pair_capacity} * sizeof(pair_v1);
  h.total_bytes = total;
  h.updated_ns = now_ns();
  put_string(h.socket_path, sizeof h.socket_path, options.socket_path);
  // Everything but the magic first; the magic last so a reader that finds it
  // finds a complete header.
  store_words(reinterpret_cast<unsigned char*>(p->header) + 8,
              reinterpret_cast<const unsigned char*>(&h) + 8, sizeof h - 8);
  word magic;
  std::memcpy(&magic, board_magic, sizeof magic);
  std::atomic_ref<word>(*reinterpret_cast<word*>(p->header))
      .store(magic, std::memory_order_release);
  return board_writer(p.release());
}

board_writer::board_writer(board_writer&& other) noexcept
    : impl_(std::exchange(other.impl_, nullptr)) {}

board_writer& board_writer::operator=(board_writer&& other) noexcept {
  if (this != &other) {
    board_writer gone(std::move(*this));
    impl_ = std::exchange(other.impl_, nullptr);
  }
  return *this;
}

board_writer::~board_writer() {
  if (impl_ == nullptr) return;
  bip::shared_memory_object::remove(shm_key(impl_->name).c_str());
  delete impl_;
}

const std::string& board_writer::name() const noexcept { return impl_->name; }

result<void> board_writer::update_pair(const board_pair_info& info) {
  std::lock_guard lock(impl_->mutex);
  auto& m = *impl_;
  char key[64];
  put_string(key, sizeof key, info.name);
  const std::string short_name(key);
  int slot = m.find(short_name);
  bool fresh = false;
  if (slot < 0) {
    for (std::uint32_t i = 0; i < m.pair_capacity; ++i) {
      if (m.slots[i].state == static_cast<std::uint32_t>(board_state::free)) {
        slot = static_cast<int>(i);
        break;
      }
    }
    if (slot < 0) {
      return make_error(errc::usage, m.name, no_record, no_offset,
                        "status board full: " + std::to_string(m.pair_capacity) + " pairs; pair '" +
                            info.name + "' not shown");
    }
    fresh = true;
  }
  auto& s = m.slots[static_cast<std::size_t>(slot)];
  m.begin();
  if (fresh) {
    s = pair_v1{};
    s.first_bad_index = -1;
    s.worst_cos = s.worst_rmse = std::numeric_limits<double>::quiet_NaN();
  } else if (get_string(s.run, sizeof s.run) != info.run) {
    m.clear_table(static_cast<std::size_t>(slot));
  }
  bool cut = false;
  cut |= put_string(s.name, sizeof s.name, info.name);
  cut |= put_string(s.run, sizeof s.run, info.run);
  cut |= put_string(s.sample, sizeof s.sample, info.sample);
  cut |= put_string(s.benchmark, sizeof s.benchmark, info.benchmark);
  cut |= put_string(s.diagnosis, sizeof s.diagnosis, info.diagnosis);
  s.state =
      static_cast<std::uint32_t>(info.state == board_state::free ? board_state::idle : info.state);
  if (info.first_bad) {
    s.flags |= pair_first_bad_fixed;
    s.first_bad_index = info.first_bad->first;
    cut |= put_string(s.first_bad_name, sizeof s.first_bad_name, info.first_bad->second);
  } else if ((s.flags & pair_first_bad_fixed) != 0) {
    // The daemon stopped naming one: fall back to the derived value.
    s.flags &= ~pair_first_bad_fixed;
    s.first_bad_index = -1;
    std::memset(s.first_bad_name, 0, sizeof s.first_bad_name);
  }
  if (cut) s.flags |= pair_truncated;
  s.updated_tick = m.tick;
  store_words(m.slot_ptr(static_cast<std::size_t>(slot)), &s, sizeof s);
  if (static_cast<std::uint32_t>(slot) + 1 > m.pair_count) {
    m.pair_count = static_cast<std::uint32_t>(slot) + 1;
    m.publish_count();
  }
  m.end();
  return {};
}

result<void> board_writer::update_layer(std::string_view pair, const board_layer& layer) {
  std::lock_guard lock(impl_->mutex);
  auto& m = *impl_;
  char key[64];
  put_string(key, sizeof key, pair);
  int slot = m.find(std::string(key));
  if (slot < 0) {
    return make_error(errc::not_found, m.name, no_record, no_offset,
                      "status board has no pair '" + std::string(pair) + "'");
  }
  auto& s = m.slots[static_cast<std::size_t>(slot)];
  const layer_v1 entry = from_layer(layer);
  m.begin();
  bool replaced_old = false;
  layer_v1 old{};
  if (layer.index < m.layer_capacity) {
    if (layer.index < s.table_used) {
      load_words(&old, m.layer_ptr(static_cast<std::size_t>(slot), layer.index), sizeof old);
      replaced_old = (old.flags & layer_valid) != 0;
    }
    store_words(m.layer_ptr(static_cast<std::size_t>(slot), layer.index), &entry, sizeof entry);
    if (layer.index + 1 > s.table_used) s.table_used = layer.index + 1;
  } else {
    s.flags |= pair_layers_dropped;
  }
  const bool bad = layer.suspect || layer.error;
  if (replaced_old) {
    if ((old.flags & (layer_suspect | layer_error)) != 0 && s.suspect > 0) --s.suspect;
  } else {
    ++s.layers;
  }
  if (bad) ++s.suspect;
  if (!layer.error) {
    // A NaN metric is the worst there is, and stays the worst.
    if ((s.flags & pair_has_worst) == 0) {
      s.worst_cos = layer.cos;
      s.worst_rmse = layer.rmse;
      s.flags |= pair_has_worst;
    } else {
      if (!std::isnan(s.worst_cos) && (std::isnan(layer.cos) || layer.cos < s.worst_cos)) {
        s.worst_cos = layer.cos;
      }
      if (!std::isnan(s.worst_rmse) && (std::isnan(layer.rmse) || layer.rmse > s.worst_rmse)) {
        s.worst_rmse = layer.rmse;
      }
    }
  }
  if (bad && (s.flags & pair_first_bad_fixed) == 0 &&
      (s.first_bad_index < 0 || static_cast<std::int64_t>(layer.index) < s.first_bad_index)) {
    s.first_bad_index = layer.index;
    if (put_string(s.first_bad_name, sizeof s.first_bad_name, layer.name))
      s.flags |= pair_truncated;
  }
  s.latest = entry;
  s.flags |= pair_has_latest;
  s.updated_tick = m.tick;
  store_words(m.slot_ptr(static_cast<std::size_t>(slot)), &s, sizeof s);
  m.end();
  return {};
}

void board_writer::remove_pair(std::string_view pair) {
  std::lock_guard lock(impl_->mutex);
  auto& m = *impl_;
  char key[64];
  put_string(key, sizeof key, pair);
  int slot = m.find(std::string(key));
  if (slot < 0) return;
  m.begin();
  m.clear_table(static_cast<std::size_t>(slot));
  m.slots[static_cast<std::size_t>(slot)] = pair_v1{};
  store_words(m.slot_ptr(static_cast<std::size_t>(slot)), &m.slots[static_cast<std::size_t>(slot)],
              sizeof(pair_v1));
  while (m.pair_count > 0 &&
         m.slots[m.pair_count - 1].state == static_cast<std::uint32_t>(board_state::free)) {
    --m.pair_count;
  }
  m.publish_count();
  m.end();
}

void board_writer::set_clock(std::uint64_t tick) {
  std::lock_guard lock(impl_->mutex);
  impl_->tick = tick;
  impl_->begin();
  std::atomic_ref<word>(impl_->header->clock_tick).store(tick, std::memory_order_relaxed);
  impl_->end();
}

}  // namespace sigdump::ipc
