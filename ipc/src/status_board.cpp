#include "sigdump/ipc/status_board.h"

#include <sys/stat.h>
#include <time.h>
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
#include <filesystem>
#include <limits>
#include <mutex>
#include <random>
#include <thread>

namespace sigdump::ipc {

namespace bip = boost::interprocess;

namespace {

// ---- Layout version 1 (docs/status-board.md). All sizes and offsets are
// multiples of 8 because every access to the segment goes through 8-byte
// atomic words: readers copy while the writer writes (a seqlock), and only
// atomic accesses make that free of data races in the C++ memory model.

constexpr char board_magic[8] = {'S', 'G', 'D', 'B', 'O', 'A', 'R', 'D'};
constexpr std::size_t layer_name_bytes = 96;

// header flags/state values are plain integers on purpose (Python readers).
struct header_v1 {
  char magic[8];
  std::uint32_t layout_version;
  std::uint32_t header_bytes;
  std::uint64_t seq;
  std::uint64_t pid;
  std::uint64_t started;
  std::uint64_t clock_tick;
  std::uint32_t pair_capacity;
  std::uint32_t layer_capacity;
  std::uint32_t pair_count;  // slots [0, pair_count) may be in use
  std::uint32_t pair_slot_bytes;
  std::uint32_t layer_entry_bytes;
  std::uint32_t layer_name_bytes;
  std::uint64_t pairs_offset;
  std::uint64_t layers_offset;
  std::uint64_t total_bytes;
  std::uint64_t updated_ns;
  char socket_path[256];
  char reserved[152];
};
static_assert(sizeof(header_v1) == 512);
static_assert(offsetof(header_v1, seq) == 16);
static_assert(offsetof(header_v1, pair_capacity) == 48);
static_assert(offsetof(header_v1, pairs_offset) == 72);
static_assert(offsetof(header_v1, updated_ns) == 96);
static_assert(offsetof(header_v1, socket_path) == 104);

enum : std::uint32_t {
  layer_valid = 1u << 0,
  layer_suspect = 1u << 1,
  layer_name_cut = 1u << 2,
  layer_error = 1u << 3,
};

struct layer_v1 {
  std::uint32_t index;
  std::uint32_t flags;
  double mse, cos, rmse;
  char name[layer_name_bytes];
};
static_assert(sizeof(layer_v1) == 128);
static_assert(offsetof(layer_v1, name) == 32);

enum : std::uint32_t {
  pair_truncated = 1u << 0,        // some string cut
  pair_layers_dropped = 1u << 1,   // an index past the table capacity
  pair_first_bad_fixed = 1u << 2,  // first bad set by the daemon, not derived
  pair_has_latest = 1u << 3,
  pair_has_worst = 1u << 4,
};

struct pair_v1 {
  std::uint32_t state;
  std::uint32_t flags;
  std::uint32_t layers;
  std::uint32_t suspect;
  std::int64_t first_bad_index;  // -1: none
  double worst_cos;              // NaN: none yet
  double worst_rmse;
  std::uint32_t table_used;  // highest stored index + 1
  std::uint32_t reserved0;
  std::uint64_t updated_tick;
  std::uint64_t reserved1;
  layer_v1 latest;  // 64..192
  char name[64];
  char run[32];
  char first_bad_name[96];
  char sample[256];
  char benchmark[256];
  char diagnosis[128];
};
static_assert(sizeof(pair_v1) == 1024);
static_assert(offsetof(pair_v1, latest) == 64);
static_assert(offsetof(pair_v1, name) == 192);
static_assert(offsetof(pair_v1, run) == 256);
static_assert(offsetof(pair_v1, first_bad_name) == 288);
static_assert(offsetof(pair_v1, sample) == 384);
static_assert(offsetof(pair_v1, benchmark) == 640);
static_assert(offsetof(pair_v1, diagnosis) == 896);

using word = std::uint64_t;

// The only ways the segment is touched: whole 8-byte words, atomically.
void store_words(void* dst, const void* src, std::size_t bytes) {
  auto* d = static_cast<word*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  for (std::size_t i = 0; i < bytes / sizeof(word); ++i) {
    word w;
    std::memcpy(&w, s + i * sizeof(word), sizeof w);
    std::atomic_ref<word>(d[i]).store(w, std::memory_order_relaxed);
  }
}

void load_words(void* dst, const void* src, std::size_t bytes) {
  auto* d = static_cast<unsigned char*>(dst);
  // atomic_ref needs a non-const object; a load never writes (plain mov),
  // so this is fine on a PROT_READ mapping.
  auto* s = const_cast<word*>(static_cast<const word*>(src));
  for (std::size_t i = 0; i < bytes / sizeof(word); ++i) {
    word w = std::atomic_ref<word>(s[i]).load(std::memory_order_relaxed);
    std::memcpy(d + i * sizeof(word), &w, sizeof w);
  }
}

word load_word(const void* p) {
  return std::atomic_ref<word>(*const_cast<word*>(static_cast<const word*>(p)))
      .load(std::memory_order_acquire);
}

// Copies s into a fixed field, NUL-terminated, cutting at a UTF-8 character
// boundary. Returns whether it had to cut.
bool put_string(char* field, std::size_t size, std::string_view s) {
  std::memset(field, 0, size);
  std::size_t n = s.size();
  bool cut = false;
  if (n > size - 1) {
    cut = true;
    n = size - 1;
    // Back up over continuation bytes so no character is split.
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  }
  std::memcpy(field, s.data(), n);
  return cut;
}

std::string get_string(const char* field, std::size_t size) {
  return std::string(field, strnlen(field, size));
}

std::uint64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

std::string shm_key(const std::string& name) {
  // Boost adds the leading slash itself.
  std::string k = name;
  while (!k.empty() && k.front() == '/') k.erase(0, 1);
  return k;
}

std::string posix_name(const std::string& name) {
  std::string out(1, '/');
  out.append(shm_key(name));  // (not "/" + ...: GCC 12 -Wrestrict false positive)
  return out;
}

board_layer to_layer(const layer_v1& l) {
  board_layer out;
  out.index = l.index;
  out.name = get_string(l.name, sizeof l.name);
  out.mse = l.mse;
  out.cos = l.cos;
  out.rmse = l.rmse;
  out.suspect = (l.flags & layer_suspect) != 0;
  out.error = (l.flags & layer_error) != 0;
  out.name_truncated = (l.flags & layer_name_cut) != 0;
  return out;
}

layer_v1 from_layer(const board_layer& l) {
  layer_v1 out{};
  out.index = l.index;
  out.flags = layer_valid;
  if (l.suspect) out.flags |= layer_suspect;
  if (l.error) out.flags |= layer_error;
  if (put_string(out.name, sizeof out.name, l.name)) out.flags |= layer_name_cut;
  out.mse = l.mse;
  out.cos = l.cos;
  out.rmse = l.rmse;
  return out;
}

}  // namespace

std::string board_name_for_socket(const std::string& socket_path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(socket_path, ec);
  if (ec) p = socket_path;
  std::string norm = p.lexically_normal().string();
  std::uint64_t h = 14695981039346656037ull;  // FNV-1a 64
  for (unsigned char c : norm) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return "/sigdump-board-" + std::to_string(::getuid()) + "-" + hex;
}

const char* board_state_name(board_state s) noexcept {
  switch (s) {
    case board_state::free: return "free";
    case board_state::idle: return "idle";
    case board_state::live: return "live";
    case board_state::ended: return "ended";
    case board_state::reset: return "reset";
  }
  return "unknown";
}

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
