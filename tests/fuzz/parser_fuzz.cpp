// Fuzz target for the resumable parser. Invariants checked on every input:
// feeding the bytes in one go, in data-derived chunks and from copies of
// windows of them (feed_copied, as dump_file parses a mapping) gives the
// same records, the same error and the same pending tail; every record lies
// inside the input; every readable record's values can be read.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sigdump/dump_parser.h"
#include "sigdump/tensor.h"

namespace {

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "parser_fuzz: invariant broken: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) broken(what);
}

bool same_record(const sigdump::record& a, const sigdump::record& b) {
  return a.index == b.index && a.kind == b.kind && a.port == b.port &&
         (a.scale == b.scale || (a.scale != a.scale && b.scale != b.scale)) &&
         a.zero_point == b.zero_point && a.type_name == b.type_name && a.type == b.type &&
         a.storage == b.storage && a.name == b.name && a.constant == b.constant &&
         a.shape == b.shape && a.dims == b.dims && a.op_index == b.op_index &&
         a.op_type == b.op_type && a.header_offset == b.header_offset &&
         a.payload_offset == b.payload_offset && a.payload_bytes == b.payload_bytes &&
         a.declared_bytes == b.declared_bytes && a.end_offset == b.end_offset &&
         a.elements == b.elements && a.inner == b.inner && a.inner_stride == b.inner_stride &&
         a.fit == b.fit && a.problem == b.problem;
}

bool same_error(const sigdump::error& a, const sigdump::error& b) {
  return a.code == b.code && a.record == b.record && a.offset == b.offset &&
         a.message == b.message && a.record_name == b.record_name;
}

struct outcome {
  std::vector<sigdump::record> records;
  std::optional<sigdump::error> err;
  std::optional<sigdump::pending_tail> pending;
  std::optional<sigdump::error> tail;
  std::optional<sigdump::dump_variant> variant;
  std::optional<bool> is_float;
};

void finish(const sigdump::dump_parser& p, outcome& o) {
  o.pending = p.pending();
  o.tail = p.tail_error();
  o.variant = p.variant();
  o.is_float = p.is_float();
}

outcome parse_whole(std::span<const std::byte> bytes, sigdump::parse_options opt) {
  outcome o;
  sigdump::dump_parser p("fuzz.bin", opt);
  auto r = p.feed(bytes, o.records);
  if (!r) o.err = r.error();
  finish(p, o);
  return o;
}

outcome parse_chunked(std::span<const std::byte> bytes, sigdump::parse_options opt) {
  outcome o;
  sigdump::dump_parser p("fuzz.bin", opt);
  // Split points derived from the data so a crashing input replays exactly.
  std::uint64_t state = 0x9e3779b97f4a7c15ull ^ bytes.size();
  for (std::byte b : bytes) state = (state ^ static_cast<std::uint64_t>(b)) * 0x100000001b3ull;
  std::size_t pos = 0;
  while (true) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    std::size_t step = static_cast<std::size_t>((state >> 33) % 97);
    if ((state >> 20) % 8 == 0) step = 0;  // feeding the same prefix again is legal
    pos = std::min(bytes.size(), pos + step);
    auto r = p.feed(bytes.first(pos), o.records);
    if (!r) {
      o.err = r.error();
      break;
    }
    if (pos == bytes.size() && step != 0) break;
  }
  finish(p, o);
  return o;
}

bool copy_input(const void* ctx, std::uint64_t offset, std::span<std::byte> to, std::uint64_t*) {
  const auto* in = static_cast<const std::span<const std::byte>*>(ctx);
  std::copy_n(in->begin() + static_cast<std::ptrdiff_t>(offset), to.size(), to.begin());
  return true;
}

outcome parse_copied(std::span<const std::byte> bytes, sigdump::parse_options opt) {
  outcome o;
  sigdump::dump_parser p("fuzz.bin", opt);
  auto r = p.feed_copied(bytes.size(), &copy_input, &bytes, o.records);
  if (!r) o.err = r.error();
  finish(p, o);
  return o;
}

void compare(const outcome& a, const outcome& b) {
  check(a.records.size() == b.records.size(), "record count differs between whole and chunked");
  for (std::size_t i = 0; i < a.records.size(); ++i) {
    check(same_record(a.records[i], b.records[i]), "record differs between whole and chunked");
  }
  check(a.err.has_value() == b.err.has_value(), "one feed failed, the other did not");
  if (a.err && !same_error(*a.err, *b.err)) {
    std::fprintf(stderr, "whole:   %s\nchunked: %s\n", a.err->describe().c_str(),
                 b.err->describe().c_str());
    broken("errors differ between whole and chunked");
  }
  check(a.pending.has_value() == b.pending.has_value(), "pending differs");
  if (a.pending) {
    check(a.pending->offset == b.pending->offset && a.pending->record == b.pending->record &&
              a.pending->name == b.pending->name && a.pending->needed == b.pending->needed &&
              a.pending->available == b.pending->available,
          "pending tails differ");
  }
  check(a.tail.has_value() == b.tail.has_value(), "tail errors differ");
  if (a.tail) check(same_error(*a.tail, *b.tail), "tail errors differ");
  if (!a.err) {
    check(a.variant == b.variant && a.is_float == b.is_float, "variant/isFloat differ");
  }
}

void read_values(std::span<const std::byte> bytes, const outcome& o) {
  std::uint64_t last_end = 0;
  for (const auto& r : o.records) {
    check(r.header_offset >= last_end, "records overlap");
    check(r.header_offset < r.payload_offset || r.payload_bytes == 0, "payload before header");
    check(r.payload_offset <= bytes.size() && r.payload_bytes <= bytes.size() - r.payload_offset,
          "payload outside the input");
    check(r.end_offset <= bytes.size(), "record ends past the input");
    last_end = r.end_offset;
    auto v = sigdump::make_tensor_view(r, o.is_float.value_or(true),
                                       o.variant.value_or(sigdump::dump_variant::binary), bytes,
                                       nullptr, "fuzz.bin");
    if (r.ok()) {
      check(v.has_value(), "a record without problem has no view");
      auto st = sigdump::compute_stats(*v);
      check(st.count == r.elements, "stats count differs from elements");
      if (r.elements > 0) (void)v->at(r.elements - 1);
    } else {
      check(!v.has_value(), "a record with a problem has a view");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  for (auto opt : {sigdump::parse_options{}, sigdump::parse_options{sigdump::dump_variant::binary},
                   sigdump::parse_options{sigdump::dump_variant::text}}) {
    outcome whole = parse_whole(bytes, opt);
    outcome chunked = parse_chunked(bytes, opt);
    compare(whole, chunked);
    compare(whole, parse_copied(bytes, opt));
    read_values(bytes, whole);
    // The prefix before any pending record parses to the same records.
    if (whole.pending && !whole.err) {
      outcome prefix = parse_whole(bytes.first(whole.pending->offset), opt);
      check(!prefix.err, "prefix before the pending record fails");
      // Fewer only when the variant of record 0 is ambiguous without the bytes after it.
      check(prefix.records.size() <= whole.records.size(),
            "prefix before pending has more records");
      for (std::size_t i = 0; i < prefix.records.size(); ++i) {
        check(same_record(prefix.records[i], whole.records[i]), "prefix record differs");
      }
    }
  }
  return 0;
}
