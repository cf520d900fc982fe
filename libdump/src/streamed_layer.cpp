// The streamed comparison of a layer being written: which chunks are due,
// summing them under truncation sentinels, and keeping only the sums whose
// bytes are still the files'. Threads as in streamed_layer.h.
#include "sigdump/streamed_layer.h"

#include <algorithm>
#include <utility>

namespace sigdump {

bool streamed_layer::streamable(const dump_file& sample) {
  const auto& pending = sample.pending();
  if (!pending || !pending->header) return false;
  const record& cut = *pending->header;
  // Worth it from two chunks on.
  return cut.ok() && cut.elements > compare_chunk_elements() && cut.inner == cut.inner_stride &&
         dtype_size(cut.storage) != 0 && sample.variant() == dump_variant::binary;
}

std::shared_ptr<streamed_layer> streamed_layer::open(const dump_file& sample,
                                                     const dump_file& bench,
                                                     std::uint32_t bench_record) {
  if (!streamable(sample) || bench_record >= bench.records().size()) return nullptr;
  const record& cut = *sample.pending()->header;
  const record& br = bench.records()[bench_record];
  if (!br.ok() || br.elements != cut.elements ||
      first_layout(cut.shape, br.shape) != layout_choice::same) {
    return nullptr;
  }
  auto bv = bench.view(bench_record);
  if (!bv || bv->elements != cut.elements || !bv->owner || bv->data == nullptr ||
      bv->inner != bv->inner_stride || dtype_size(bv->storage) == 0) {
    return nullptr;
  }
  std::shared_ptr<streamed_layer> st(new streamed_layer);
  st->sample_record_ = cut.index;
  st->header_offset_ = cut.header_offset;
  st->bench_record_ = bench_record;
  st->payload_offset_ = cut.payload_offset;
  st->elements_ = cut.elements;
  st->element_bytes_ = dtype_size(cut.storage);
  // The benchmark could be cut and written again unseen too: guard its
  // record (its last page and a copy of it when the file ends there, as it
  // does for the last layer).
  auto guard = truncation_sentinel::arm(bench.path(), bv->owner->identity(), br.end_offset, true);
  if (!guard) return nullptr;
  st->bench_guard_ = std::move(*guard);
  st->bench_ = std::move(*bv);
  st->chunks_ = (cut.elements + compare_chunk_elements() - 1) / compare_chunk_elements();
  st->slots_.assign(st->chunks_, slot::open);
  st->sums_.resize(st->chunks_);
  st->guards_.resize(st->chunks_);
  return st;
}

std::uint64_t streamed_layer::chunk_end(std::uint64_t k) const noexcept {
  const std::uint64_t end_element = std::min((k + 1) * compare_chunk_elements(), elements_);
  return payload_offset_ + end_element * element_bytes_;
}

streamed_layer::chunk_range streamed_layer::chunks_due(std::uint64_t file_size) const noexcept {
  chunk_range due{handed_out_, handed_out_};
  while (due.last < chunks_ && truncation_sentinel::page_after(chunk_end(due.last)) < file_size) {
    ++due.last;
  }
  return due;
}

void streamed_layer::hand_out(std::uint64_t end) noexcept {
  handed_out_ = std::max(handed_out_, std::min(end, chunks_));
}

bool streamed_layer::claim(std::uint64_t k) {
  std::lock_guard lock(m_);
  if (k >= chunks_ || slots_[k] != slot::open) return false;
  slots_[k] = slot::running;
  return true;
}

void streamed_layer::complete(std::uint64_t k, std::optional<partial_sums> s,
                              std::optional<truncation_sentinel> guard) {
  {
    std::lock_guard lock(m_);
    sums_[k] = s;
    guards_[k] = std::move(guard);
    slots_[k] = slot::done;
  }
  cv_.notify_all();
}

bool streamed_layer::sum_chunk(const tensor_view& sample, std::uint64_t k) {
  if (!claim(k)) return false;
  // Armed before the bytes are read: a truncation while they are summed
  // counts too.
  auto guard =
      truncation_sentinel::arm(sample.owner->path(), sample.owner->identity(), chunk_end(k));
  if (!guard) {
    complete(k, std::nullopt, std::nullopt);
    return false;
  }
  auto sums = compute_chunk(sample, bench_, k);
  complete(k, sums ? std::optional<partial_sums>(*sums) : std::nullopt, std::move(*guard));
  return sums.has_value();
}

streamed_layer::finished streamed_layer::finish() {
  std::unique_lock lock(m_);
  for (slot& x : slots_) {
    if (x == slot::open) x = slot::closed;
  }
  cv_.wait(lock, [&] {
    return std::none_of(slots_.begin(), slots_.end(), [](slot x) { return x == slot::running; });
  });
  finished out;
  out.sums = sums_;
  const bool bench_kept = bench_guard_ && bench_guard_->intact();
  for (std::uint64_t k = 0; k < out.sums.size(); ++k) {
    if (!out.sums[k]) continue;
    const bool kept = bench_kept && guards_[k] && guards_[k]->intact();
    if (kept) {
      ++out.kept;
    } else {
      out.sums[k].reset();
      ++out.discarded;
    }
  }
  return out;
}

}  // namespace sigdump
