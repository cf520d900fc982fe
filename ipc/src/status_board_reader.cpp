// The status board's reader: `sigdump top` and other tools, read-only and
// trusting only a segment of their own uid or root (docs/status-board.md).
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

// ---------------------------------------------------------------- reader

struct board_reader::impl {
  std::string name;
  bip::mapped_region region;
  ino_t ino = 0;
  dev_t dev = 0;
  header_v1 fixed{};  // the header fields that never change
  const unsigned char* base() const {
    return static_cast<const unsigned char*>(region.get_address());
  }
};

result<board_reader> board_reader::open(const std::string& name) {
  auto p = std::make_unique<impl>();
  p->name = posix_name(name);
  const std::string key = shm_key(name);
  bip::offset_t size = 0;
  try {
    bip::shared_memory_object shm(bip::open_only, key.c_str(), bip::read_only);
    if (!shm.get_size(size)) size = 0;
    struct stat st {};
    if (::fstat(shm.get_mapping_handle().handle, &st) != 0) {
      return make_error(errc::io, p->name, no_record, no_offset,
                        std::string("cannot stat the status board: ") + std::strerror(errno));
    }
    p->ino = st.st_ino;
    p->dev = st.st_dev;
    // Anyone can create a segment under a daemon's board name: only one of
    // our uid or root, and writable by nobody else, is the daemon's.
    if (st.st_uid != ::geteuid() && st.st_uid != 0) {
      return make_error(errc::io, p->name, no_record, no_offset,
                        "status board is owned by uid " + std::to_string(st.st_uid) +
                            ", not by you or root; not reading it");
    }
    if ((st.st_mode & 022) != 0) {
      return make_error(errc::io, p->name, no_record, no_offset,
                        "status board is writable by group or others; not reading it");
    }
    if (static_cast<std::size_t>(size) < sizeof(header_v1)) {
      return make_error(errc::not_a_dump, p->name, no_record, no_offset,
                        "status board is " + std::to_string(size) +
                            " bytes, smaller than its header; is the daemon still starting?");
    }
    p->region = bip::mapped_region(shm, bip::read_only, 0, static_cast<std::size_t>(size));
  } catch (const bip::interprocess_exception& e) {
    if (e.get_error_code() == bip::not_found_error) {
      return make_error(errc::not_found, p->name, no_record, no_offset,
                        "no status board (is sigdumpd running?)");
    }
    return make_error(errc::io, p->name, no_record, no_offset,
                      std::string("cannot open the status board: ") + e.what());
  }
  header_v1 h{};
  word magic = load_word(p->base());
  load_words(reinterpret_cast<unsigned char*>(&h) + 8, p->base() + 8, sizeof h - 8);
  std::memcpy(h.magic, &magic, sizeof magic);
  if (std::memcmp(h.magic, board_magic, sizeof board_magic) != 0) {
    return make_error(errc::not_a_dump, p->name, no_record, 0,
                      "not a sigdump status board (bad magic), or the daemon is still writing it");
  }
  if (h.layout_version != board_layout_version) {
    return make_error(errc::protocol, p->name, no_record, 8,
                      "status board layout version " + std::to_string(h.layout_version) +
                          " is not the one this reader knows (" +
                          std::to_string(board_layout_version) + "); upgrade sigdump");
  }
  // The writer's bounds, so the sizes below cannot wrap.
  if (h.pair_capacity == 0 || h.layer_capacity == 0 || h.pair_capacity > 4096 ||
      h.layer_capacity > (1u << 20)) {
    return make_error(errc::not_a_dump, p->name, no_record, no_offset,
                      "status board capacities are out of range (" +
                          std::to_string(h.pair_capacity) + " pairs, " +
                          std::to_string(h.layer_capacity) + " layers)");
  }
  const std::uint64_t want = sizeof(header_v1) + std::uint64_t{h.pair_capacity} * sizeof(pair_v1) +
                             std::uint64_t{h.pair_capacity} * h.layer_capacity * sizeof(layer_v1);
  if (h.header_bytes != sizeof(header_v1) || h.pair_slot_bytes != sizeof(pair_v1) ||
      h.layer_entry_bytes != sizeof(layer_v1) || h.total_bytes != want ||
      want > static_cast<std::uint64_t>(size) || h.pairs_offset != sizeof(header_v1) ||
      h.layers_offset != sizeof(header_v1) + std::uint64_t{h.pair_capacity} * sizeof(pair_v1)) {
    return make_error(errc::not_a_dump, p->name, no_record, no_offset,
                      "status board sizes are inconsistent (segment " + std::to_string(size) +
                          " bytes, header says " + std::to_string(h.total_bytes) + ")");
  }
  p->fixed = h;
  return board_reader(p.release());
}

board_reader::board_reader(board_reader&& other) noexcept
    : impl_(std::exchange(other.impl_, nullptr)) {}

board_reader& board_reader::operator=(board_reader&& other) noexcept {
  if (this != &other) {
    delete impl_;
    impl_ = std::exchange(other.impl_, nullptr);
  }
  return *this;
}

board_reader::~board_reader() { delete impl_; }

const std::string& board_reader::name() const noexcept { return impl_->name; }

bool board_reader::replaced() const {
  struct stat st {};
  const std::string path = "/dev/shm" + impl_->name;
  if (::stat(path.c_str(), &st) != 0) return true;
  return st.st_ino != impl_->ino || st.st_dev != impl_->dev;
}

result<board_snapshot> board_reader::snapshot(bool with_layers, unsigned max_retries) const {
  const auto& f = impl_->fixed;
  const unsigned char* base = impl_->base();
  const auto* seq_ptr = base + offsetof(header_v1, seq);
  std::vector<pair_v1> slots;
  std::vector<std::vector<layer_v1>> tables;
  for (unsigned attempt = 0; attempt <= max_retries; ++attempt) {
    // Back off so a busy writer leaves a window: yield at first, then
    // sleep longer and longer (bounded by max_retries overall).
    if (attempt > 100) {
      std::this_thread::sleep_for(std::chrono::microseconds(std::min(attempt, 1000u)));
    } else if (attempt > 16) {
      std::this_thread::yield();
    }
    const word s1 = load_word(seq_ptr);
    if ((s1 & 1) != 0) continue;
    header_v1 h{};
    load_words(reinterpret_cast<unsigned char*>(&h) + 8, base + 8, sizeof h - 8);
    const std::uint32_t count = std::min(h.pair_count, f.pair_capacity);
    slots.resize(count);
    load_words(slots.data(), base + f.pairs_offset, count * sizeof(pair_v1));
    tables.assign(with_layers ? count : 0, {});
    for (std::uint32_t i = 0; with_layers && i < count; ++i) {
      const std::uint32_t used = std::min(slots[i].table_used, f.layer_capacity);
      tables[i].resize(used);
      load_words(tables[i].data(),
                 base + f.layers_offset + std::uint64_t{i} * f.layer_capacity * sizeof(layer_v1),
                 used * sizeof(layer_v1));
    }
    // Order the copies above before the re-check of seq.
    std::atomic_thread_fence(std::memory_order_acquire);
    const word s2 =
        std::atomic_ref<word>(*const_cast<word*>(reinterpret_cast<const word*>(seq_ptr)))
            .load(std::memory_order_relaxed);
    if (s1 != s2) continue;

    board_snapshot out;
    out.layout_version = f.layout_version;
    out.seq = s1;
    out.pid = h.pid;
    out.started = h.started;
    out.clock_tick = h.clock_tick;
    out.updated_ns = h.updated_ns;
    out.pair_capacity = f.pair_capacity;
    out.layer_capacity = f.layer_capacity;
    out.socket_path = get_string(h.socket_path, sizeof h.socket_path);
    out.retries = attempt;
    for (std::uint32_t i = 0; i < count; ++i) {
      const pair_v1& s = slots[i];
      if (s.state == static_cast<std::uint32_t>(board_state::free)) continue;
      board_pair bp;
      bp.info.name = get_string(s.name, sizeof s.name);
      bp.info.run = get_string(s.run, sizeof s.run);
      bp.info.sample = get_string(s.sample, sizeof s.sample);
      bp.info.benchmark = get_string(s.benchmark, sizeof s.benchmark);
      bp.info.diagnosis = get_string(s.diagnosis, sizeof s.diagnosis);
      bp.info.state = s.state <= 4 ? static_cast<board_state>(s.state) : board_state::idle;
      if (s.first_bad_index >= 0) {
        bp.info.first_bad.emplace(static_cast<std::uint32_t>(s.first_bad_index),
                                  get_string(s.first_bad_name, sizeof s.first_bad_name));
      }
      bp.layers = s.layers;
      bp.suspect = s.suspect;
      bp.worst_cos = s.worst_cos;
      bp.worst_rmse = s.worst_rmse;
      if ((s.flags & pair_has_latest) != 0) bp.latest = to_layer(s.latest);
      bp.updated_tick = s.updated_tick;
      bp.layers_dropped = (s.flags & pair_layers_dropped) != 0;
      bp.truncated = (s.flags & pair_truncated) != 0;
      if (with_layers) {
        for (const auto& l : tables[i]) {
          if ((l.flags & layer_valid) != 0) bp.table.push_back(to_layer(l));
        }
      }
      out.pairs.push_back(std::move(bp));
    }
    return out;
  }
  return make_error(
      errc::io, impl_->name, no_record, no_offset,
      "status board kept changing during " + std::to_string(max_retries) + " copies; try again");
}

}  // namespace sigdump::ipc
