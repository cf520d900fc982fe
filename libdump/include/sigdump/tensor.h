// Read access to one record's real values without copying binary payloads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "sigdump/error.h"
#include "sigdump/mapping.h"
#include "sigdump/record.h"

namespace sigdump {

/* Real values of a record. Binary payloads are a view into the mapping
   (kept alive by `owner`); text payloads are parsed once into `text`, or
   into `text_ints` when the text holds stored integers (an integer type in
   an isFloat: 0 file): those are read as integers, so an S32 above 2^24
   keeps its value instead of being rounded through float32.
   Element i (row-major over the record's shape) lives at
   data + ((i / inner) * inner_stride + i % inner) * dtype_size(storage). */
struct tensor_view {
  std::shared_ptr<const mapping> owner;                        // keeps binary data alive
  const std::byte* data = nullptr;                             // binary payload start
  std::shared_ptr<const std::vector<float>> text;              // text payload values
  std::shared_ptr<const std::vector<std::int32_t>> text_ints;  // stored integers (storage s32)
  dtype storage = dtype::f32;
  bool dequantize = false;  // real = (q - zero_point) * scale
  double scale = 1.0;
  std::int64_t zero_point = 0;
  std::uint64_t elements = 0;
  std::uint64_t inner = 1;
  std::uint64_t inner_stride = 1;
  std::vector<std::int64_t> shape;
  std::int64_t source_record = no_record;  // record index in its file, for errors
  std::string source_name;                 // that record's name, for errors

  bool contiguous() const noexcept { return inner == inner_stride; }

  /* The mapped bytes a read of this view may touch (its owner's mapping;
     none for text values, which are owned): the range to guard it by. */
  std::span<const std::byte> mapped() const noexcept {
    return owner ? owner->bytes() : std::span<const std::byte>{};
  }

  /* Real value of element i (slow path; bounds are the caller's). */
  double at(std::uint64_t i) const noexcept;

  /* Copies real values [first, first+out.size()) into out. */
  void read(std::uint64_t first, std::span<double> out) const noexcept;

  /* read() under a SIGBUS guard: if the file was truncated under the view,
     returns errc::truncated naming the file, record and offset instead of
     crashing. One guard per call: read in chunks, not element by element. */
  result<void> read_checked(std::uint64_t first, std::span<double> out) const;
};

struct tensor_stats {
  std::uint64_t count = 0;
  double min = 0, max = 0, mean = 0, std = 0;  // over finite values
  std::uint64_t zeros = 0, nans = 0, infs = 0;
};

/* Statistics of the real values (min/max/mean/population std over finite
   values only; NaN and Inf are counted apart). All zero for an empty view. */
tensor_stats compute_stats(const tensor_view& v) noexcept;

/* compute_stats under one SIGBUS guard: a file truncated under the view gives
   errc::truncated naming the file, record and offset, not a crash. */
result<tensor_stats> compute_stats_checked(const tensor_view& v);

/* The error for a view whose mapped bytes vanished at fault_address (as
   guarded_read reports it): errc::truncated, "file shrank while being read",
   naming the view's file, record and the offset of the lost byte. */
error vanished_error(const tensor_view& v, const void* fault_address);

/* The same for two views read under one guard (a sample and its
   benchmark): the error of the one whose mapping holds fault_address, the
   first one's when neither does. */
error vanished_error(const tensor_view& first, const tensor_view& second,
                     const void* fault_address);

/* Builds the view of record r, whose file bytes (from offset 0) are `file`;
   `owner` keeps them alive (null when the caller owns the buffer, as tests
   and fuzzers do). Text values are parsed here. `is_float` is the file's
   isFloat. Errors (naming the record) for a record with a problem or whose
   payload lies outside `file`. Reads no binary payload byte. */
result<tensor_view> make_tensor_view(const record& r, bool is_float, dump_variant variant,
                                     std::span<const std::byte> file,
                                     std::shared_ptr<const mapping> owner,
                                     const std::string& file_name = {});

}  // namespace sigdump
