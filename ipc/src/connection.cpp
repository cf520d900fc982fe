#include "sigdump/ipc/connection.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

#include "sigdump/ipc/protocol.h"

namespace sigdump::ipc {

connection::connection(unique_fd fd, queue_limits limits) : fd_(std::move(fd)), limits_(limits) {}

connection::fill_status connection::fill() {
  if (read_closed_) return fill_status::closed;
  if (too_long_) return fill_status::ok;
  // Drop consumed bytes once they are the larger part of the buffer.
  if (in_pos_ > 0 && in_pos_ * 2 >= in_.size()) {
    in_.erase(0, in_pos_);
    scan_pos_ -= std::min(scan_pos_, in_pos_);
    in_pos_ = 0;
  }
  std::size_t budget = limits_.read_chunk;
  while (budget > 0) {
    // Never buffer more than one over-long line's worth: the caller will
    // see too_long and close.
    if (in_.size() - in_pos_ > limits_.max_line + 1) break;
    const std::size_t want = std::min<std::size_t>(budget, 64 * 1024);
    const std::size_t old = in_.size();
    in_.resize(old + want);
    const ssize_t n = ::recv(fd_.get(), in_.data() + old, want, MSG_DONTWAIT);
    if (n > 0) {
      in_.resize(old + static_cast<std::size_t>(n));
      budget -= static_cast<std::size_t>(n);
      last_read_ = clock_type::now();
      continue;
    }
    in_.resize(old);
    if (n == 0) {
      read_closed_ = true;
      return fill_status::closed;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    return fill_status::error;
  }
  return fill_status::ok;
}

connection::line_status connection::next_line(std::string& out) {
  for (;;) {
    if (too_long_) return line_status::too_long;
    const std::size_t from = std::max(scan_pos_, in_pos_);
    const std::size_t nl = in_.find('\n', from);
    if (nl == std::string::npos) {
      scan_pos_ = in_.size();
      if (in_.size() - in_pos_ > limits_.max_line) {
        too_long_ = true;
        return line_status::too_long;
      }
      return line_status::none;
    }
    std::string_view line(in_.data() + in_pos_, nl - in_pos_);
    in_pos_ = nl + 1;
    scan_pos_ = in_pos_;
    if (line.size() > limits_.max_line) {
      too_long_ = true;
      return line_status::too_long;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    out.assign(line);
    return line_status::line;
  }
}

bool connection::has_buffered_line() const noexcept { return !too_long_ && scan_pos_ < in_.size(); }

void connection::append(entry e) {
  if (messages_ == 0) last_progress_ = clock_type::now();
  e.seq = next_seq_++;
  ++messages_;
  bytes_ += e.data.size();
  queue_.push_back(std::move(e));
}

connection::push_status connection::push(std::string line) {
  if (overloaded_) return push_status::overloaded;
  append(entry{std::move(line)});
  // Dead (coalesced) entries count toward the message cap so that even
  // endless coalescing stays bounded.
  if (queue_.size() > limits_.hard_messages || bytes_ > limits_.hard_bytes) {
    overload("the client's queue passed its hard cap of " + std::to_string(limits_.hard_messages) +
             " messages or " + std::to_string(limits_.hard_bytes) + " bytes");
    return push_status::overloaded;
  }
  return push_status::queued;
}

void connection::record_drop(std::uint32_t stream, std::uint64_t tick) {
  auto& d = drops_[stream];
  if (d.dropped == 0 || tick < d.first_tick) d.first_tick = tick;
  if (d.dropped == 0 || tick > d.last_tick) d.last_tick = tick;
  ++d.dropped;
}

connection::push_status connection::push_droppable(std::string line, std::uint32_t stream,
                                                   std::uint64_t coalesce_key, std::uint64_t tick) {
  if (overloaded_) return push_status::overloaded;
  if (over_soft_limit()) {
    if (coalesce_key != 0 && !queue_.empty()) {
      if (auto it = by_key_.find(coalesce_key); it != by_key_.end()) {
        const std::uint64_t pos = it->second - queue_.front().seq;
        const bool partly_sent = pos == 0 && head_written_ > 0;
        if (pos < queue_.size() && !partly_sent && !queue_[pos].dead) {
          entry& old = queue_[pos];
          record_drop(old.stream, old.tick);
          old.dead = true;
          --messages_;
          bytes_ -= old.data.size();
          std::string().swap(old.data);
          entry e{std::move(line), 0, coalesce_key, tick, stream, false};
          append(std::move(e));
          by_key_[coalesce_key] = queue_.back().seq;
          if (queue_.size() > limits_.hard_messages) {
            overload("the client's queue passed its hard cap");
            return push_status::overloaded;
          }
          return push_status::coalesced;
        }
      }
    }
    record_drop(stream, tick);
    return push_status::dropped;
  }
  append(entry{std::move(line), 0, coalesce_key, tick, stream, false});
  if (coalesce_key != 0) by_key_[coalesce_key] = queue_.back().seq;
  if (queue_.size() > limits_.hard_messages || bytes_ > limits_.hard_bytes) {
    overload("the client's queue passed its hard cap");
    return push_status::overloaded;
  }
  return push_status::queued;
}

std::map<std::uint32_t, drop_record> connection::take_drops() {
  std::map<std::uint32_t, drop_record> out;
  out.swap(drops_);
  return out;
}

void connection::forget_stream(std::uint32_t stream) { drops_.erase(stream); }

void connection::pop_front() {
  entry& e = queue_.front();
  if (e.key != 0) {
    if (auto it = by_key_.find(e.key); it != by_key_.end() && it->second == e.seq) {
      by_key_.erase(it);
    }
  }
  if (!e.dead) {
    --messages_;
    bytes_ -= e.data.size();
  }
  queue_.pop_front();
  head_written_ = 0;
}

connection::flush_status connection::flush() {
  constexpr std::size_t max_iov = 128;
  iovec iov[max_iov];
  for (;;) {
    while (!queue_.empty() && queue_.front().dead) pop_front();
    if (queue_.empty()) return flush_status::empty;
    std::size_t n_iov = 0;
    for (std::size_t i = 0; i < queue_.size() && n_iov < max_iov; ++i) {
      entry& e = queue_[i];
      if (e.dead) continue;
      const std::size_t skip = i == 0 ? head_written_ : 0;
      iov[n_iov].iov_base = e.data.data() + skip;
      iov[n_iov].iov_len = e.data.size() - skip;
      ++n_iov;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = n_iov;
    const ssize_t sent = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return flush_status::blocked;
      return flush_status::error;
    }
    last_progress_ = clock_type::now();
    auto left = static_cast<std::size_t>(sent);
    while (left > 0 && !queue_.empty()) {
      if (queue_.front().dead) {
        pop_front();
        continue;
      }
      const std::size_t rest = queue_.front().data.size() - head_written_;
      if (left >= rest) {
        left -= rest;
        pop_front();
      } else {
        head_written_ += left;
        left = 0;
      }
    }
  }
}

void connection::overload(std::string_view reason) {
  if (overloaded_) return;
  overloaded_ = true;
  // Keep a partly sent line so the stream stays line-aligned, drop the rest.
  const bool keep_head = !queue_.empty() && head_written_ > 0 && !queue_.front().dead;
  std::deque<entry> kept;
  if (keep_head) kept.push_back(std::move(queue_.front()));
  queue_.swap(kept);
  by_key_.clear();
  messages_ = queue_.size();
  bytes_ = queue_.empty() ? 0 : queue_.front().data.size();
  if (!keep_head) head_written_ = 0;
  entry e{error_line("null", error_code::overloaded, reason)};
  e.seq = next_seq_++;
  ++messages_;
  bytes_ += e.data.size();
  queue_.push_back(std::move(e));
}

}  // namespace sigdump::ipc
