// The shared-memory status board: the daemon publishes its pairs, their runs
// and per-layer metrics in a fixed-layout POSIX shared-memory segment, so
// monitoring tools (`sigdump top`) poll without a round trip. Layout version
// 1 is documented in docs/status-board.md. One writer (the daemon), any
// number of read-only readers; consistency through a seqlock in the header.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sigdump/error.h"

namespace sigdump::ipc {

inline constexpr std::uint32_t board_layout_version = 1;

/* Segment name for the daemon listening on socket_path:
   "/sigdump-board-<uid>-<16 hex digits of FNV-1a 64 of the absolute,
   lexically normalized socket path>" (the file is /dev/shm/sigdump-board-...). */
std::string board_name_for_socket(const std::string& socket_path);

/* What a pair is doing, as stored in its slot. */
enum class board_state : std::uint32_t { free = 0, idle = 1, live = 2, ended = 3, reset = 4 };
/* "free", "idle", "live", "ended", "reset" */
const char* board_state_name(board_state s) noexcept;

/* One layer's metrics as the board holds them. */
struct board_layer {
  std::uint32_t index = 0;  // report position (layer_result::index)
  std::string name;         // truncated to 95 bytes on the board (whole UTF-8 characters)
  double mse = 0, cos = 0, rmse = 0;
  bool suspect = false;
  bool error = false;           // could not be compared (metrics unset)
  bool name_truncated = false;  // set by readers when the board cut the name
};

/* Identity and state of a pair, set by the daemon with update_pair. */
struct board_pair_info {
  std::string name;       // pair name; the slot key (truncated to 63 bytes)
  std::string run;        // current run id ("r7"); empty: none
  std::string sample;     // sample dump path (truncated to 255 bytes)
  std::string benchmark;  // benchmark dump path (truncated to 255 bytes)
  board_state state = board_state::idle;
  std::string diagnosis;  // one line (truncated to 127 bytes); empty: none
  /* The daemon's first bad layer (index, name). When absent the board keeps
     the lowest-index suspect layer it has seen as first bad. */
  std::optional<std::pair<std::uint32_t, std::string>> first_bad;
};

/* A pair slot as a reader sees it. */
struct board_pair {
  board_pair_info info;
  std::uint32_t layers = 0;              // layers compared in the current run
  std::uint32_t suspect = 0;             // suspect (or not comparable) layers among them
  double worst_cos = 0, worst_rmse = 0;  // NaN while no layer has been compared
  std::optional<board_layer> latest;     // most recently updated layer
  std::uint64_t updated_tick = 0;        // header clock tick at the slot's last change
  bool layers_dropped = false;           // a layer index was >= the table capacity and not stored
  bool truncated = false;                // some string of the slot was cut
  std::vector<board_layer> table;        // stored layers, by index (empty unless asked for)
};

struct board_snapshot {
  std::uint32_t layout_version = 0;
  std::uint64_t seq = 0;  // the (even) sequence number the copy was taken at
  std::uint64_t pid = 0, started = 0, clock_tick = 0;
  std::uint64_t updated_ns = 0;  // CLOCK_REALTIME of the last change
  std::uint32_t pair_capacity = 0, layer_capacity = 0;
  std::string socket_path;
  std::vector<board_pair> pairs;  // slots in use, in slot order
  unsigned retries = 0;           // how many torn copies were thrown away
};

struct board_options {
  std::uint32_t pair_capacity = 16;
  std::uint32_t layer_capacity = 2048;
  std::uint64_t pid = 0;      // 0: getpid()
  std::uint64_t started = 0;  // 0: now (Unix seconds)
  std::string socket_path;    // recorded in the header for readers
  unsigned mode = 0600;       // permission bits of the segment
};

/* The daemon's side. Move-only; removes the segment in its destructor. Calls
   are serialized by an internal mutex (they are short). */
class board_writer {
 public:
  /* Creates the segment `name` (leading '/' optional), replacing a leftover
     one of a crashed daemon (the caller holds the daemon lock). */
  static result<board_writer> create(const std::string& name, const board_options& options = {});

  board_writer(board_writer&& other) noexcept;
  board_writer& operator=(board_writer&& other) noexcept;
  board_writer(const board_writer&) = delete;
  board_writer& operator=(const board_writer&) = delete;
  ~board_writer();

  /* Sets a pair's identity and state, taking a free slot for a new name. A
     different run than the slot's clears its layer table and counts.
     Fails (errc::usage) when all slots are taken. */
  result<void> update_pair(const board_pair_info& info);
  /* Stores one layer of the pair's current run (an index already stored is
     replaced) and updates the slot's counts, worst values and latest layer.
     Fails (errc::not_found) for an unknown pair. An index past the table
     capacity only updates counts and sets layers_dropped. */
  result<void> update_layer(std::string_view pair, const board_layer& layer);
  /* Frees a pair's slot; unknown names are ignored. */
  void remove_pair(std::string_view pair);
  /* Records the daemon's current clock tick in the header. */
  void set_clock(std::uint64_t tick);

  /* The segment name as given to shm_open ("/sigdump-board-..."). */
  const std::string& name() const noexcept;

 private:
  struct impl;
  explicit board_writer(impl* p) noexcept : impl_(p) {}
  impl* impl_ = nullptr;
};

/* A monitoring tool's side: a read-only mapping of the segment. */
class board_reader {
 public:
  /* Opens and maps `name` read-only; checks magic, layout version (a newer
     major layout is errc::protocol) and sizes. errc::not_found when there is
     no such segment (no daemon, or one started without a board). */
  static result<board_reader> open(const std::string& name);

  board_reader(board_reader&& other) noexcept;
  board_reader& operator=(board_reader&& other) noexcept;
  board_reader(const board_reader&) = delete;
  board_reader& operator=(const board_reader&) = delete;
  ~board_reader();

  /* A consistent copy (seqlock: retried, backing off from yields to short
     sleeps, while a write is in progress or happened during the copy; at
     most max_retries times, then errc::io).
     with_layers: also copy each pair's layer table. */
  result<board_snapshot> snapshot(bool with_layers = true, unsigned max_retries = 10000) const;

  /* Whether the segment name now names another segment (the daemon
     restarted) or nothing (it exited): reopen to follow it. */
  bool replaced() const;

  const std::string& name() const noexcept;

 private:
  struct impl;
  explicit board_reader(impl* p) noexcept : impl_(p) {}
  impl* impl_ = nullptr;
};

}  // namespace sigdump::ipc
