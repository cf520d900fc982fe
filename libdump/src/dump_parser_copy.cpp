// dump_parser::feed_copied: the parse of a file that must not be read in
// place (a mapping a writer may cut) runs on private copies of windows of
// it. Only the copies run under the SIGBUS guard (the caller's copy_fn);
// the parse, its allocations and its error texts run on the copies.
//
// What a window costs is the copy's memory traffic and one guard: a window
// holds what the record it starts at needs, as far as the last record tells
// (a binary dump of big layers: its header lines, and a 4 KiB page per
// header, no payload page), so the copied parse costs about what the parse
// in place does.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "parse_util.h"
#include "sigdump/dump_parser.h"

namespace sigdump {

namespace {

constexpr std::uint64_t page = 4096;
// Text records are read whole (every value is scanned): their windows hold
// this much at a time, so a guard and a copy serve many records.
constexpr std::uint64_t text_span = 64 * 1024;
// What a header may take beyond the last one (a longer name or shape, more
// gap lines), and the bounds of the guess.
constexpr std::uint64_t head_slack = 64;
constexpr std::uint64_t head_min = 128;
constexpr std::uint64_t head_max = 64 * 1024;
// A window buffer above this is let go after the feed (a long text record
// needs its whole record held once, not for the parser's life).
constexpr std::size_t window_kept = 256 * 1024;

std::uint64_t round_up(std::uint64_t n, std::uint64_t to) noexcept {
  return (n + to - 1) / to * to;
}

}  // namespace

result<std::size_t> dump_parser::feed_copied(std::uint64_t total, copy_fn copy, const void* ctx,
                                             std::vector<record>& out) {
  // For this feed only: the parse hints where the next window starts, and
  // a long text record's window is not kept for the parser's life.
  struct feed_scope {
    dump_parser& p;
    ~feed_scope() {
      p.hint_ = nullptr;
      if (p.window_.capacity() > window_kept) std::string().swap(p.window_);
    }
  } scope{*this};
  hint_ = copy;
  hint_ctx_ = ctx;
  std::size_t appended = 0;
  auto vanished = [&](std::uint64_t at) -> result<std::size_t> {
    pending_.reset();  // what a shorter window left: not the file's tail
    tail_.reset();
    more_ = false;
    held_short_ = false;
    return make_error(errc::truncated, file_, next_index_, at, detail::shrank_message);
  };
  // window_ holds the file's bytes [base, base + window_.size()): copies
  // made in this feed only (an earlier feed may have seen other bytes).
  std::uint64_t base = offset_;
  window_.clear();
  std::uint64_t lost = no_offset;  // the first byte a copy found gone
  while (true) {
    // The parse resumes at offset_: drop the held bytes before it, keep
    // those after it (the start of a record that did not fit).
    std::uint64_t held = base + window_.size();
    if (offset_ >= held) {
      window_.clear();
      base = held = offset_;
    } else if (offset_ > base) {
      window_.erase(0, static_cast<std::size_t>(offset_ - base));
      base = offset_;
    }
    // A payload skipped by its size may hold the lost byte: the next copy
    // (of the gap after it) finds what is gone there.
    if (lost != no_offset && offset_ > lost) lost = no_offset;
    // The window: what the record at offset_ likely needs. A binary record
    // of its own page(s) gets no byte past the page it starts on (no payload
    // page is touched for a header that ends there); small records the rest
    // of the page; text records a span. A record that needs more than the
    // held bytes gets at least as many again. Never past a lost byte: the
    // records before it are parsed, the one it is in is named.
    const std::uint64_t page_end = offset_ / page * page + page;
    std::uint64_t end = offset_ + head_bytes_;
    if (variant_ == dump_variant::text) {
      end = std::max(end, round_up(offset_ + text_span, page));
    } else if (dense_) {
      end = std::max(end, page_end);
    } else {
      end = std::min(end, page_end);
    }
    if (end <= held) end = held + std::max<std::uint64_t>(held - offset_, head_bytes_);
    end = std::min({end, total, lost});
    if (end > held) {
      std::uint64_t at = held;
      bool copied = true;
      const auto keep = static_cast<std::size_t>(held - base);
      const auto want = static_cast<std::size_t>(end - base);
      // Not the size the callback is given: GCC 12's libstdc++ passes the
      // new capacity when the string grows.
      window_.resize_and_overwrite(want, [&](char* bytes, std::size_t) {
        copied = copy(ctx, held, {reinterpret_cast<std::byte*>(bytes) + keep, want - keep}, &at);
        return copied ? want : keep;
      });
      if (!copied) {
        if (at <= held || at >= end) return vanished(held);
        lost = at;  // the bytes before it, again
        continue;
      }
    } else if (held < total) {
      return vanished(held);  // the record needs the lost byte
    }
    const std::uint64_t from = offset_;
    const detail::window_text s(window_, static_cast<std::size_t>(base));
    auto fed = parse(s, total, appended, out);
    if (!fed) return fed;
    appended += *fed;
    if (*fed != 0) {
      // The last record tells what the next one needs: its gap and header
      // lines (from where the gap before it began), and whether it was held
      // whole.
      const record& r = out.back();
      const std::uint64_t gap = *fed > 1 ? out[out.size() - 2].end_offset : from;
      const std::uint64_t head = r.payload_offset - std::min(gap, r.payload_offset);
      head_bytes_ = static_cast<std::uint32_t>(
          std::clamp(round_up(head + head / 4 + head_slack, 64), head_min, head_max));
      dense_ = r.end_offset <= base + window_.size();
    }
    if (!held_short_ || more_) return appended;
  }
}

}  // namespace sigdump
