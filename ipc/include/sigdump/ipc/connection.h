// One client connection of the server: a non-blocking Unix stream socket,
// NDJSON framing of what the client sends, and a bounded outgoing queue with
// the backpressure rules of docs/protocol.md (coalescing, gap accounting,
// hard cap). No event loop in here: the owner calls fill()/flush() when the
// socket is ready and asks wants_read()/wants_write() what to wait for.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>

#include "sigdump/ipc/unique_fd.h"

namespace sigdump::ipc {

struct queue_limits {
  std::size_t soft_messages = 4096;
  std::size_t soft_bytes = std::size_t{8} << 20;
  std::size_t hard_messages = 16384;
  std::size_t hard_bytes = std::size_t{32} << 20;
  std::size_t max_line = std::size_t{1} << 20;      // request line limit, newline excluded
  std::size_t read_chunk = std::size_t{256} << 10;  // most bytes read per fill()
};

/* Events a subscription did not deliver since the last take_drops(). */
struct drop_record {
  std::uint64_t dropped = 0;
  std::uint64_t first_tick = 0, last_tick = 0;  // ticks of the first and last dropped event
};

class connection {
 public:
  using clock_type = std::chrono::steady_clock;

  /* Takes a connected, non-blocking stream socket. */
  explicit connection(unique_fd fd, queue_limits limits = {});

  int fd() const noexcept { return fd_.get(); }
  const queue_limits& limits() const noexcept { return limits_; }

  // ---- input -----------------------------------------------------------
  enum class fill_status { ok, closed, error };
  /* Reads what the socket has (at most limits().read_chunk bytes, and
     nothing while a too-long line is buffered). closed: the peer shut its
     side (buffered complete lines are still returned by next_line). */
  fill_status fill();

  enum class line_status { line, none, too_long };
  /* Takes the next complete line (newline and a trailing '\r' removed) into
     `out`. too_long: the line being received exceeds limits().max_line.
     Blank lines are skipped. */
  line_status next_line(std::string& out);

  /* Whether buffered input may hold a complete line not yet taken. */
  bool has_buffered_line() const noexcept;

  // ---- output ----------------------------------------------------------
  enum class push_status { queued, coalesced, dropped, overloaded };

  /* Queues a line that must not be dropped (reply, run event, gap). Passing
     the hard cap makes the connection overloaded(). */
  push_status push(std::string line);

  /* Queues an event the server may drop under pressure. Past the soft limit
     a queued event with the same non-zero coalesce_key is replaced by this
     newer one (moved to the tail, keeping tick order), otherwise this event
     is dropped. Drops are recorded per `stream` (a subscription) with the
     event's tick for take_drops(). */
  push_status push_droppable(std::string line, std::uint32_t stream, std::uint64_t coalesce_key,
                             std::uint64_t tick);

  /* Drop records per stream since the last call; clears them. */
  std::map<std::uint32_t, drop_record> take_drops();
  bool has_drops() const noexcept { return !drops_.empty(); }
  /* Forgets the drop record of a stream (its subscription ended). */
  void forget_stream(std::uint32_t stream);

  enum class flush_status { empty, blocked, error };
  /* Writes queued lines (sendmsg with many iovecs, MSG_NOSIGNAL) until the
     queue is empty or the socket would block. */
  flush_status flush();

  /* At the hard cap: the queue was cut to the partly written line plus a
     final `overloaded` error; flush once and close. */
  bool overloaded() const noexcept { return overloaded_; }
  /* Marks the connection overloaded now (e.g. it stalled for too long). */
  void overload(std::string_view reason);

  bool over_soft_limit() const noexcept {
    return messages_ >= limits_.soft_messages || bytes_ >= limits_.soft_bytes;
  }
  bool has_output() const noexcept { return messages_ > 0; }
  std::size_t queued_messages() const noexcept { return messages_; }
  std::size_t queued_bytes() const noexcept { return bytes_; }

  /* Wait for readability only while the reply queue is under the soft limit
     (a client that does not read its replies is not read either). */
  bool wants_read() const noexcept {
    return !overloaded_ && !read_closed_ && !over_soft_limit() && !too_long_;
  }
  bool wants_write() const noexcept { return has_output(); }

  /* Last time the client sent bytes. */
  clock_type::time_point last_read() const noexcept { return last_read_; }
  /* Last time a write made progress, or the queue went from empty to not. */
  clock_type::time_point last_write_progress() const noexcept { return last_progress_; }

 private:
  struct entry {
    std::string data;
    std::uint64_t seq = 0;
    std::uint64_t key = 0;  // coalesce key, 0 for none
    std::uint64_t tick = 0;
    std::uint32_t stream = 0;
    bool dead = false;  // replaced by a newer event; skipped by flush
  };
  void append(entry e);
  void record_drop(std::uint32_t stream, std::uint64_t tick);
  void pop_front();

  unique_fd fd_;
  queue_limits limits_;

  std::string in_;
  std::size_t in_pos_ = 0;    // first byte not yet returned as a line
  std::size_t scan_pos_ = 0;  // bytes before this hold no newline after in_pos_
  bool read_closed_ = false;
  bool too_long_ = false;

  std::deque<entry> queue_;
  std::uint64_t next_seq_ = 0;
  std::size_t head_written_ = 0;                             // bytes of queue_.front() already sent
  std::size_t messages_ = 0, bytes_ = 0;                     // live entries only
  std::unordered_map<std::uint64_t, std::uint64_t> by_key_;  // coalesce key -> seq
  std::map<std::uint32_t, drop_record> drops_;
  bool overloaded_ = false;

  clock_type::time_point last_read_ = clock_type::now();
  clock_type::time_point last_progress_ = clock_type::now();
};

}  // namespace sigdump::ipc
