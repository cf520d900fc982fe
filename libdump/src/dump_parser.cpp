#include "sigdump/dump_parser.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>

#include "parse_util.h"
#include "record_header.h"

namespace sigdump {

namespace {

using detail::field_error;
using detail::fit_binary;
using detail::in_prefix;
using detail::lstrip;
using detail::max_declared;
using detail::max_line_bytes;
using detail::out_prefix;
using detail::parse_line1;
using detail::parse_line2;
using detail::parse_line3;
using detail::rstrip;
using detail::size_prefix;
using detail::window_text;
using detail::zero_point_fits;

bool is_header_start(std::string_view line) noexcept {
  return line.starts_with(out_prefix) || line.starts_with(in_prefix);
}

// Whether `partial` (a line not yet ended) could still become `literal...`.
bool prefix_compatible(std::string_view partial, std::string_view literal) noexcept {
  if (partial.size() <= literal.size()) return literal.starts_with(partial);
  return partial.starts_with(literal);
}

bool all_of_chars(std::string_view s, std::string_view allowed) noexcept {
  return s.find_first_not_of(allowed) == std::string_view::npos;
}

// A "//buffer data size: N" line standing alone (the third trailer form).
bool is_size_trailer(std::string_view line) noexcept {
  return line.starts_with(size_prefix) &&
         all_of_chars(line.substr(size_prefix.size()), " \t\r0123456789");
}

// Locates the end of the line starting at pos. Returns false when the line
// has no '\n' yet; `too_long` when it cannot be a line we accept.
bool find_eol(const window_text& s, std::size_t pos, std::size_t& eol, bool& too_long) noexcept {
  too_long = false;
  std::size_t limit = std::min(s.size(), pos + max_line_bytes + 1);
  const void* nl = std::memchr(s.at(pos), '\n', limit - pos);
  if (nl != nullptr) {
    eol = pos + static_cast<std::size_t>(static_cast<const char*>(nl) - s.at(pos));
    return true;
  }
  eol = s.size();
  too_long = limit - pos > max_line_bytes;
  return false;
}

enum class gap_kind {
  end,
  header,
  skip,
  partial_trailer,
  partial,
  partial_invalid,
  invalid,
  too_long
};

// Error messages quote this many bytes of an unexpected line; a cut line is
// judged only once that many bytes are there, so the message does not depend
// on where the file happened to be cut.
constexpr std::size_t quote_limit = 24;

// Classifies the line starting at pos in the gap between records: blank and
// trailer lines are skipped, a header line ends the gap, anything else is an
// error. A line without '\n' is judged only if it cannot become valid.
gap_kind classify_gap(const window_text& s, std::size_t pos, std::size_t& next) noexcept {
  if (pos >= s.size()) return gap_kind::end;
  // A header is recognised by its prefix; the record parser judges the rest.
  if (is_header_start(s.substr(pos))) return gap_kind::header;
  std::size_t eol = 0;
  bool too_long = false;
  if (!find_eol(s, pos, eol, too_long)) {
    if (too_long) return gap_kind::too_long;
    std::string_view c = s.substr(pos);
    if (all_of_chars(c, " \t\r};") || is_size_trailer(c)) return gap_kind::partial_trailer;
    if (prefix_compatible(c, out_prefix) || prefix_compatible(c, in_prefix) ||
        prefix_compatible(c, size_prefix)) {
      return gap_kind::partial;
    }
    return c.size() <= quote_limit ? gap_kind::partial_invalid : gap_kind::invalid;
  }
  std::string_view line = s.substr(pos, eol - pos);
  next = eol + 1;
  if (is_header_start(line)) return gap_kind::header;
  if (all_of_chars(line, " \t\r};") || is_size_trailer(line)) return gap_kind::skip;
  return gap_kind::invalid;
}

// Result of scanning the value text of a text record starting right after
// header line 3.
struct text_scan {
  enum class state { valid, invalid, unknown } what = state::unknown;
  std::size_t values_begin = 0;  // first byte after the blank line
  std::size_t values_end = 0;    // first byte of the closing '}' line
  std::size_t end = 0;           // first byte after the '}'
  std::size_t bad = 0;           // offending byte when invalid
  std::uint64_t tokens = 0;
};

// Where a scan of a cut text record stopped: the next feed resumes at the
// start of the unfinished line instead of rescanning the whole record.
struct text_resume {
  std::size_t payload = 0;  // p the scan started from (identifies the record)
  std::size_t values_begin = 0;
  std::size_t line = 0;      // first unfinished line
  std::uint64_t tokens = 0;  // values on the finished lines
};

text_scan scan_text(const window_text& s, std::size_t p, const text_resume* from = nullptr,
                    text_resume* progress = nullptr) noexcept {
  text_scan t;
  std::size_t q = 0;
  if (from != nullptr && from->payload == p && from->line <= s.size()) {
    t.values_begin = from->values_begin;
    t.tokens = from->tokens;
    q = from->line;
  } else {
    std::size_t b = p;
    if (b < s.size() && s[b] == '\r') ++b;
    if (b >= s.size()) return t;
    if (s[b] != '\n') {
      t.what = text_scan::state::invalid;
      t.bad = b;
      return t;
    }
    q = b + 1;
    t.values_begin = q;
  }
  while (true) {
    const std::size_t line_start = q;
    if (progress != nullptr) *progress = text_resume{p, t.values_begin, line_start, t.tokens};
    std::size_t j = q;
    while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
    if (j >= s.size()) return t;
    if (s[j] == '}') {
      t.what = text_scan::state::valid;
      t.values_end = line_start;
      t.end = j + 1;
      return t;
    }
    bool in_token = false;
    std::uint64_t line_tokens = 0;
    std::size_t k = line_start;
    for (; k < s.size(); ++k) {
      char c = s[k];
      if (c == '\n') break;
      if (!detail::is_value_char(c)) {
        t.what = text_scan::state::invalid;
        t.bad = k;
        return t;
      }
      bool sep = detail::is_value_separator(c);
      if (!sep && !in_token) ++line_tokens;
      in_token = !sep;
    }
    if (k >= s.size()) return t;  // line not finished yet
    t.tokens += line_tokens;
    q = k + 1;
  }
}

enum class binary_state { invalid, header, eof, short_payload };

// What follows a binary payload of n bytes starting at p (short_payload
// too when those bytes are past the ones held).
binary_state check_binary(const window_text& s, std::size_t p, std::uint64_t n) noexcept {
  if (n > s.size() - p) return binary_state::short_payload;
  std::size_t pos = p + static_cast<std::size_t>(n);
  while (true) {
    std::size_t next = 0;
    switch (classify_gap(s, pos, next)) {
      case gap_kind::end:
      case gap_kind::partial:
      case gap_kind::partial_invalid:
      case gap_kind::partial_trailer: return binary_state::eof;
      case gap_kind::header: return binary_state::header;
      case gap_kind::skip: pos = next; break;
      case gap_kind::invalid:
      case gap_kind::too_long: return binary_state::invalid;
    }
  }
}

}  // namespace

dump_parser::dump_parser(std::string file_name, parse_options options)
    : file_(std::move(file_name)), options_(options) {
  if (options_.variant) variant_ = options_.variant;
}

std::optional<error> dump_parser::tail_error() const {
  if (!pending_ || !tail_) return std::nullopt;
  error e;
  e.code = tail_->code;
  e.file = file_;
  e.record = tail_->record;
  e.record_name = tail_->record >= 0 ? pending_->name : std::string();
  e.offset = tail_->offset;
  e.message = tail_->message;
  return e;
}

result<std::size_t> dump_parser::feed(std::span<const std::byte> bytes, std::vector<record>& out) {
  const window_text s({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, 0);
  return parse(s, bytes.size(), 0, out);
}

// Parses the bytes held by `s` (from offset_ on) of a file of `total`
// bytes. Binary payloads are skipped by their declared size, checked
// against `total`: they need not be held. Every other stop is where the
// held bytes end: at `total`, the end of the file as fed; before it, the
// caller hands over more bytes from offset_ on (feed_copied). `before`:
// records this feed appended already (records_per_feed counts them).
result<std::size_t> dump_parser::parse(const window_text& s, std::uint64_t total,
                                       std::size_t before, std::vector<record>& out) {
  if (failed_) return std::unexpected(*failed_);
  if (total < offset_) {
    return make_error(errc::usage, file_, no_record, offset_,
                      "fed " + std::to_string(total) + " bytes, fewer than the " +
                          std::to_string(offset_) + " already parsed");
  }
  pending_.reset();
  tail_.reset();
  more_ = false;
  held_short_ = false;
  // The held bytes end before the file does (feed_copied's window).
  const bool held_short = s.size() < total;
  std::size_t appended = 0;

  auto fail = [&](errc code, std::int64_t rec, std::uint64_t off, std::string msg,
                  std::string name = {}) -> result<std::size_t> {
    failed_ = error{code, file_, rec, std::move(name), off, std::move(msg)};
    return std::unexpected(*failed_);
  };
  // The file ends inside the record at `at`: a pending tail, and what
  // tail_error() says if the file is complete (`message()`, formatted only
  // then).
  auto set_tail = [&](std::uint64_t at, const std::string& name, std::uint64_t needed, errc code,
                      std::uint64_t err_offset, auto message, bool names_record = true) {
    pending_ = pending_tail{at, next_index_, name, needed, total - at, std::nullopt};
    tail_ = tail_state{code, names_record ? std::int64_t{next_index_} : no_record, err_offset,
                       message()};
    return appended;
  };
  // The held bytes end inside the record at `at`. Where they end before the
  // file does, the caller holds more and parses again: nothing to set.
  auto set_pending = [&](std::uint64_t at, const std::string& name, std::uint64_t needed, errc code,
                         std::uint64_t err_offset, auto message, bool names_record = true) {
    if (held_short) {
      held_short_ = true;
      return appended;
    }
    return set_tail(at, name, needed, code, err_offset, message, names_record);
  };
  const std::string no_name;

  if (!first_line_done_) {
    if (total == 0) {
      return set_pending(
          0, no_name, 0, errc::not_a_dump, no_offset, [] { return "empty file"; }, false);
    }
    std::size_t eol = 0;
    bool too_long = false;
    if (!find_eol(s, 0, eol, too_long)) {
      std::string_view c = s.substr(0);
      if (!too_long && prefix_compatible(c, "isFloat:")) {
        return set_pending(
            0, no_name, 0, errc::truncated, 0,
            [&] { return "file ends inside its first line " + detail::quote_bytes(c); }, false);
      }
      if (!too_long && (prefix_compatible(c, out_prefix) || prefix_compatible(c, in_prefix))) {
        return set_pending(0, no_name, 0, errc::truncated, 0,
                           [] { return "file ends inside header line 1"; });
      }
      if (!too_long && c.size() <= quote_limit) {
        return set_pending(
            0, no_name, 0, errc::not_a_dump, 0,
            [&] {
              return "not a tensor dump: expected 'isFloat: 0|1' or a '//out ' header line "
                     "first, found " +
                     detail::quote_bytes(c, quote_limit);
            },
            false);
      }
      return fail(errc::not_a_dump, no_record, 0,
                  "not a tensor dump: expected 'isFloat: 0|1' or a '//out ' header line first, "
                  "found " +
                      detail::quote_bytes(c, quote_limit));
    }
    std::string_view line = rstrip(s.substr(0, eol));
    if (line.starts_with("isFloat:")) {
      std::string_view v = lstrip(line.substr(8));
      if (v == "1") {
        is_float_ = true;
      } else if (v == "0") {
        is_float_ = false;
      } else {
        return fail(errc::bad_header, no_record, 8,
                    "expected 'isFloat: 0' or 'isFloat: 1', found " + detail::quote_bytes(line));
      }
      offset_ = eol + 1;
    } else if (is_header_start(line)) {
      // One-tensor text files start directly with the header: real values.
      is_float_ = true;
    } else {
      return fail(errc::not_a_dump, no_record, 0,
                  "not a tensor dump: expected 'isFloat: 0|1' or a '//out ' header line first, "
                  "found " +
                      detail::quote_bytes(s.substr(0, eol), quote_limit));
    }
    first_line_.assign(line);
    first_line_done_ = true;
  }

  while (true) {
    if (options_.records_per_feed != 0 && before + appended >= options_.records_per_feed) {
      more_ = offset_ < total;
      return appended;
    }
    // The gap: blank lines and trailers up to the next header line.
    std::size_t pos = offset_;
    while (true) {
      std::size_t next = 0;
      gap_kind k = classify_gap(s, pos, next);
      if (k == gap_kind::end || k == gap_kind::partial_trailer) {
        held_short_ = held_short;
        return appended;
      }
      if (k == gap_kind::skip) {
        pos = next;
        offset_ = pos;
        continue;
      }
      if (k == gap_kind::header) break;
      if (k == gap_kind::partial) {
        return set_pending(pos, no_name, 0, errc::truncated, pos,
                           [] { return "file ends inside the header of the record"; });
      }
      if (k == gap_kind::partial_invalid) {
        return set_pending(pos, no_name, 0, errc::not_a_dump, pos, [&] {
          return "expected a '//out ' or '//in ' header line, found " +
                 detail::quote_bytes(s.substr(pos), quote_limit);
        });
      }
      if (k == gap_kind::too_long) {
        return fail(errc::not_a_dump, next_index_, pos,
                    "line longer than " + std::to_string(max_line_bytes) +
                        " bytes where a '//out ' or '//in ' header was expected");
      }
      std::size_t eol = 0;
      bool too_long = false;
      find_eol(s, pos, eol, too_long);
      return fail(errc::not_a_dump, next_index_, pos,
                  "expected a '//out ' or '//in ' header line, found " +
                      detail::quote_bytes(s.substr(pos, eol - pos), quote_limit));
    }

    const std::size_t h = pos;
    // The ends of the three lines first: if the held bytes end inside them
    // before the file does, nothing is parsed yet (the caller holds more
    // and parses again). Otherwise each line is judged in turn.
    std::size_t eol[3] = {0, 0, 0};
    int whole_lines = 0;
    bool too_long = false;
    while (whole_lines < 3 && find_eol(s, whole_lines == 0 ? h : eol[whole_lines - 1] + 1,
                                       eol[whole_lines], too_long)) {
      ++whole_lines;
    }
    if (whole_lines < 3 && held_short && !too_long) {
      held_short_ = true;
      return appended;
    }
    record& r = scratch_;
    r = record{};
    r.index = next_index_;
    r.header_offset = h;
    std::size_t line_start = h;
    field_error ferr;
    for (int ln = 0; ln < 3; ++ln) {
      if (ln == whole_lines) {
        if (too_long) {
          return fail(errc::bad_header, next_index_, line_start,
                      "header line " + std::to_string(ln + 1) + " is longer than " +
                          std::to_string(max_line_bytes) + " bytes",
                      r.name);
        }
        return set_pending(h, r.name, 0, errc::truncated, line_start, [&] {
          return "file ends inside header line " + std::to_string(ln + 1);
        });
      }
      std::string_view line = s.substr(line_start, eol[ln] - line_start);
      bool ok = true;
      if (ln == 0) {
        ok = parse_line1(line, r, ferr);
      } else if (ln == 1) {
        ok = parse_line2(line, r, ferr);
      } else {
        ok = parse_line3(line, r.declared_bytes, ferr);
      }
      if (!ok) {
        return fail(ferr.code, next_index_, line_start + ferr.column,
                    "header line " + std::to_string(ln + 1) + ": " + ferr.message, r.name);
      }
      line_start = eol[ln] + 1;
    }
    const std::size_t p = line_start;

    // Shape arithmetic with overflow checks; the declared size is checked
    // against it later.
    std::uint64_t elements = 1;
    for (std::int64_t d : r.shape) {
      auto ud = static_cast<std::uint64_t>(d);
      if (ud != 0 && elements > max_declared / ud) {
        return fail(errc::bad_shape, next_index_, h,
                    "shape " + format_shape(r.shape) + " has more elements than any file can hold",
                    r.name);
      }
      elements *= ud;
    }
    r.elements = elements;
    r.inner = r.shape.empty() ? 1 : static_cast<std::uint64_t>(r.shape.back());
    r.inner_stride = r.inner;
    r.storage = r.type == dtype::unknown ? dtype::unknown
                                         : (is_float_.value_or(true) ? dtype::f32 : r.type);
    if (r.type == dtype::unknown) r.problem = "unknown type '" + r.type_name + "'";
    // Integer values are dequantized as (q - z) * s: a zero point the type
    // cannot hold gives garbage (and q - z could overflow), so such a record
    // has a problem instead of metrics.
    if (r.problem.empty() && r.storage != dtype::f32 && r.storage != dtype::unknown &&
        !zero_point_fits(r.type, r.zero_point)) {
      r.problem = "zero point z: " + std::to_string(r.zero_point) + " is outside the range of " +
                  r.type_name;
    }

    text_scan ts;
    bool scanned = false;
    text_resume resume_from;
    if (text_progress_) {
      resume_from =
          text_resume{static_cast<std::size_t>(text_progress_->payload),
                      static_cast<std::size_t>(text_progress_->values_begin),
                      static_cast<std::size_t>(text_progress_->line), text_progress_->tokens};
    }
    text_resume progress;
    auto remember = [&] {
      if (ts.what == text_scan::state::unknown && progress.line != 0) {
        text_progress_ =
            text_progress{progress.payload, progress.values_begin, progress.line, progress.tokens};
      } else {
        text_progress_.reset();
      }
    };
    if (!variant_) {
      ts = scan_text(s, p, text_progress_ ? &resume_from : nullptr, &progress);
      remember();
      scanned = true;
      binary_state bs = check_binary(s, p, r.declared_bytes);
      std::optional<dump_variant> decided;
      if (ts.what == text_scan::state::invalid) {
        decided = dump_variant::binary;
      } else if (ts.what == text_scan::state::valid) {
        if (ts.tokens > 0 || bs == binary_state::invalid) {
          decided = dump_variant::text;
        } else if (bs == binary_state::header) {
          decided = dump_variant::binary;
        }
      } else if (bs == binary_state::header) {
        decided = dump_variant::binary;
      }
      if (!decided) {
        return set_pending(h, r.name, 0, errc::truncated, p, [] {
          return "cannot tell yet whether the dump is binary or text (pass the variant "
                 "explicitly, e.g. --format binary)";
        });
      }
      variant_ = decided;
    }

    if (*variant_ == dump_variant::binary) {
      const std::uint64_t n = r.declared_bytes;
      r.payload_offset = p;
      r.payload_bytes = n;
      r.end_offset = p + n;
      // The next record starts past the held bytes (a payload skipped): the
      // copy's source may start fetching them while this one is stored.
      if (hint_ != nullptr && r.end_offset > s.size() && n <= total - p) {
        hint_(hint_ctx_, r.end_offset, {}, nullptr);
      }
      if (r.storage != dtype::unknown) fit_binary(r);
      if (n > total - p) {
        // The file (not just the held bytes) ends inside the payload.
        set_tail(h, r.name, (p - h) + n, errc::bad_size, h, [&] {
          return "claims " + std::to_string(n) + " bytes but only " + std::to_string(total - p) +
                 " remain";
        });
        pending_->header = r;  // copies heap strings only: no mapped byte is read
        return appended;
      }
    } else {
      if (!scanned) {
        ts = scan_text(s, p, text_progress_ ? &resume_from : nullptr, &progress);
        remember();
      }
      if (ts.what == text_scan::state::invalid) {
        return fail(errc::not_a_dump, next_index_, ts.bad,
                    "unexpected byte " + detail::quote_bytes(s.substr(ts.bad, 1)) +
                        (ts.bad == p ? " where the blank line before the values was expected"
                                     : " in the values of a text record"),
                    r.name);
      }
      if (ts.what == text_scan::state::unknown) {
        return set_pending(h, r.name, 0, errc::truncated, h,
                           [] { return "values end without the closing '}' line"; });
      }
      r.payload_offset = ts.values_begin;
      r.payload_bytes = ts.values_end - ts.values_begin;
      r.end_offset = ts.end;
      r.fit = payload_fit::exact;
      if (ts.tokens > r.elements) {
        r.fit = payload_fit::truncated;
      } else if (ts.tokens < r.elements) {
        r.fit = payload_fit::too_small;
        if (r.problem.empty()) {
          r.problem = "text has " + std::to_string(ts.tokens) + " values but shape " +
                      format_shape(r.shape) + " needs " + std::to_string(r.elements);
        }
      }
    }

    offset_ = r.end_offset;
    ++next_index_;
    out.push_back(std::move(r));
    ++appended;
  }
}

}  // namespace sigdump
