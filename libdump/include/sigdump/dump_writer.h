// Writes dumps in every variant the toolchain produces. Used by tests,
// benchmarks and the demo's miniature simulator. Records are written with
// plain write(2) calls, so a reader in another process sees them appear.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sigdump/error.h"
#include "sigdump/record.h"
#include "sigdump/unique_fd.h"

namespace sigdump {

enum class trailer_style : std::uint8_t {
  none,            // ONNX/Caffe binary writers: next header follows the payload
  simulator,       // "\n};\n"
  simulator_size,  // "\n};\n//buffer data size: N\n"
};

struct writer_options {
  dump_variant variant = dump_variant::binary;
  trailer_style trailer = trailer_style::simulator;
  bool is_float = true;          // first line "isFloat: 1|0"
  bool write_first_line = true;  // per-tensor text files may lack it
  int blank_lines = 0;           // blank lines written between records
};

struct tensor_spec {
  record_kind kind = record_kind::out;
  std::uint32_t port = 0;
  double scale = 1.0;
  std::int64_t zero_point = 0;
  dtype type = dtype::f32;  // header type:, and payload type when !is_float
  std::string type_name;    // overrides the written type: spelling when set
  std::string name;
  bool constant = false;
  std::vector<std::int64_t> shape;
  std::int64_t op_index = 0;
  std::string op_type = "CONV_2D";
  std::uint64_t pad_inner_to = 0;  // >inner: pad innermost dimension (binary)
  std::uint64_t extra_bytes = 0;   // extra garbage bytes after the payload (binary)
};

class dump_writer {
 public:
  /* Creates (truncates) the file and writes the first line. */
  static result<dump_writer> create(const std::string& path, writer_options options = {});

  dump_writer(dump_writer&&) noexcept;
  dump_writer& operator=(dump_writer&&) noexcept;
  dump_writer(const dump_writer&) = delete;
  dump_writer& operator=(const dump_writer&) = delete;
  ~dump_writer();

  /* Writes one record whose real values are `values` (row-major, product of
     shape). With is_float=false and an integer type the values are quantized
     q = round(v / scale) + zero_point, saturated to the type. */
  result<void> write(const tensor_spec& spec, std::span<const float> values);

  /* Writes one binary record with exactly these payload bytes (any size; the
     header declares payload.size()). */
  result<void> write_raw(const tensor_spec& spec, std::span<const std::byte> payload);

  /* Appends raw bytes (for tests that cut records mid-way). */
  result<void> append_bytes(std::string_view bytes);

  result<void> close();
  std::uint64_t bytes_written() const noexcept { return written_; }

  /* The bytes write() would append for this record (no file involved). */
  static std::string render(const writer_options& options, const tensor_spec& spec,
                            std::span<const float> values);
  /* The same for real values held in double: integer types keep every
     int32 exactly (float32 would round values above 2^24). */
  static std::string render(const writer_options& options, const tensor_spec& spec,
                            std::span<const double> values);
  /* The first line for these options ("isFloat: 1\n"), empty when none. */
  static std::string render_first_line(const writer_options& options);

 private:
  dump_writer(unique_fd fd, std::string path, writer_options options);
  unique_fd fd_;
  std::string path_;
  writer_options options_;
  std::uint64_t written_ = 0;
  std::uint64_t records_ = 0;  // blank lines go between records, not before the first
};

}  // namespace sigdump
