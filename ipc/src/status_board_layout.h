// The status board's layout version 1 in memory (docs/status-board.md) and
// the word-wise accessors both its writer and its reader use. Internal to
// the ipc library: status_board_writer.cpp and status_board_reader.cpp.
#pragma once

#include <time.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "sigdump/ipc/status_board.h"

namespace sigdump::ipc::board_detail {

// ---- Layout version 1 (docs/status-board.md). All sizes and offsets are
// multiples of 8 because every access to the segment goes through 8-byte
// atomic words: readers copy while the writer writes (a seqlock), and only
// atomic accesses make that free of data races in the C++ memory model.

inline constexpr char board_magic[8] = {'S', 'G', 'D', 'B', 'O', 'A', 'R', 'D'};
inline constexpr std::size_t layer_name_bytes = 96;

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
inline void store_words(void* dst, const void* src, std::size_t bytes) {
  auto* d = static_cast<word*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  for (std::size_t i = 0; i < bytes / sizeof(word); ++i) {
    word w;
    std::memcpy(&w, s + i * sizeof(word), sizeof w);
    std::atomic_ref<word>(d[i]).store(w, std::memory_order_relaxed);
  }
}

inline void load_words(void* dst, const void* src, std::size_t bytes) {
  auto* d = static_cast<unsigned char*>(dst);
  // atomic_ref needs a non-const object; a load never writes (plain mov),
  // so this is fine on a PROT_READ mapping.
  auto* s = const_cast<word*>(static_cast<const word*>(src));
  for (std::size_t i = 0; i < bytes / sizeof(word); ++i) {
    word w = std::atomic_ref<word>(s[i]).load(std::memory_order_relaxed);
    std::memcpy(d + i * sizeof(word), &w, sizeof w);
  }
}

inline word load_word(const void* p) {
  return std::atomic_ref<word>(*const_cast<word*>(static_cast<const word*>(p)))
      .load(std::memory_order_acquire);
}

// Copies s into a fixed field, NUL-terminated, cutting at a UTF-8 character
// boundary. Returns whether it had to cut.
inline bool put_string(char* field, std::size_t size, std::string_view s) {
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

inline std::string get_string(const char* field, std::size_t size) {
  return std::string(field, strnlen(field, size));
}

inline std::uint64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

inline std::string shm_key(const std::string& name) {
  // Boost adds the leading slash itself.
  std::string k = name;
  while (!k.empty() && k.front() == '/') k.erase(0, 1);
  return k;
}

inline std::string posix_name(const std::string& name) {
  std::string out(1, '/');
  out.append(shm_key(name));  // (not "/" + ...: GCC 12 -Wrestrict false positive)
  return out;
}

inline board_layer to_layer(const layer_v1& l) {
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

inline layer_v1 from_layer(const board_layer& l) {
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

}  // namespace sigdump::ipc::board_detail
