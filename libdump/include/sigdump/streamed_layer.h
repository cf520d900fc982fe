// The streamed comparison of a layer being written: a big binary sample
// record whose header is in the file and whose payload is still arriving,
// against its (complete) benchmark record. Its chunks (compare_chunk_elements
// each) are summed as their bytes land; once the record is complete,
// compare_layer takes the chunks done and computes the rest. Chunk sums are
// combined in chunk order, so the metrics equal those of a comparison of the
// finished file, provided the bytes summed are still the file's: a chunk that
// a truncation reached since (the writer started over, and may have written
// the record again before anyone looked) is summed again. Truncation
// sentinels, armed before the bytes are read, tell.
// Threads: open() and the hand-out calls (chunks_due, hand_out, handed_out)
// on one thread; sum_chunk and finish on any.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "sigdump/compare.h"
#include "sigdump/dump_file.h"
#include "sigdump/mapping.h"
#include "sigdump/record.h"
#include "sigdump/tensor.h"

namespace sigdump {

class streamed_layer {
 public:
  /* Whether the record `sample` is cut in (sample.pending()->header) is
     worth streaming: a binary record of more than one chunk whose payload
     is contiguous (a padded inner dimension would need a chunk's end
     through the stride) and of a known element size. */
  static bool streamable(const dump_file& sample);

  /* Starts the streamed comparison of the cut record of `sample` with
     record `bench_record` of `bench`. Null when it cannot be streamed: not
     streamable, a benchmark record that is not ok, of another element
     count, read with another layout than `same`, or not contiguous, or
     whose bytes cannot be guarded. */
  static std::shared_ptr<streamed_layer> open(const dump_file& sample, const dump_file& bench,
                                              std::uint32_t bench_record);

  streamed_layer(const streamed_layer&) = delete;
  streamed_layer& operator=(const streamed_layer&) = delete;

  // What it was made for: the index the cut record will get, where its
  // header starts, the benchmark record and the file it was mapped from.
  std::uint32_t sample_record() const noexcept { return sample_record_; }
  std::uint64_t header_offset() const noexcept { return header_offset_; }
  std::uint32_t bench_record() const noexcept { return bench_record_; }
  file_identity bench_identity() const noexcept { return bench_.owner->identity(); }
  std::uint64_t chunks() const noexcept { return chunks_; }

  /* The chunks [first, last) not handed out yet that can be summed now
     that the sample file holds `file_size` bytes: chunk k is due once the
     file reaches into the page after its last byte, where its sentinel
     goes (so the last chunk, which ends with the record, is seldom due
     before the record is complete). */
  struct chunk_range {
    std::uint64_t first = 0, last = 0;
    bool empty() const noexcept { return first >= last; }
  };
  chunk_range chunks_due(std::uint64_t file_size) const noexcept;
  /* Marks the chunks before `end` handed out (to sum_chunk, on any
     thread): chunks_due no longer lists them. */
  void hand_out(std::uint64_t end) noexcept;
  std::uint64_t handed_out() const noexcept { return handed_out_; }

  /* Any thread. Sums chunk k of `sample` (the cut record over the file's
     current mapping: dump_file::pending_view) unless another call took it
     or finish() closed it. Chunk k's bytes must be in the file. A chunk
     whose bytes vanished is left to compare_layer, which reports the error
     itself if they are still gone. Whether this call summed it. */
  bool sum_chunk(const tensor_view& sample, std::uint64_t k);

  struct finished {
    chunk_sums_so_far sums;       // for compare_layer(..., done)
    std::uint64_t kept = 0;       // chunks in sums
    std::uint64_t discarded = 0;  // chunks summed whose bytes a truncation reached since
  };
  /* Any thread, once the record is complete. Closes the chunks nobody took
     (compare_layer sums them), waits for those being summed, and returns
     the sums whose bytes, and the benchmark record's, are still the
     files'. */
  finished finish();

 private:
  streamed_layer() = default;
  // The sample byte just past chunk k.
  std::uint64_t chunk_end(std::uint64_t k) const noexcept;
  bool claim(std::uint64_t k);
  void complete(std::uint64_t k, std::optional<partial_sums> s,
                std::optional<truncation_sentinel> guard);

  // Set by open(), then only read.
  std::uint32_t sample_record_ = 0;
  std::uint64_t header_offset_ = 0;
  std::uint32_t bench_record_ = 0;
  std::uint64_t payload_offset_ = 0;  // the sample payload's first byte in its file
  std::uint64_t elements_ = 0;
  std::uint64_t element_bytes_ = 0;
  std::uint64_t chunks_ = 0;
  tensor_view bench_;

  std::uint64_t handed_out_ = 0;  // the opening thread's

  // Shared by the threads summing and the one finishing.
  enum class slot : std::uint8_t { open, running, done, closed };
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<slot> slots_;
  chunk_sums_so_far sums_;
  std::vector<std::optional<truncation_sentinel>> guards_;  // per done chunk: its sample bytes
  std::optional<truncation_sentinel> bench_guard_;          // the benchmark record's bytes
};

}  // namespace sigdump
