#include "sigdump/dump_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

namespace sigdump {

namespace {

std::string errno_text(const char* call, int err) {
  return std::string(call) + " failed: " + std::strerror(err);
}

std::string format_scale(double s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%f", s);
  return buf;
}

// The scale as a reader will see it (printed with %f), so quantization and
// dequantization agree exactly.
double printed_scale(double s) { return std::strtod(format_scale(s).c_str(), nullptr); }

dtype storage_of(const writer_options& o, const tensor_spec& spec) {
  return o.is_float ? dtype::f32 : spec.type;
}

std::uint64_t elements_of(const tensor_spec& spec) {
  std::uint64_t n = 1;
  for (auto d : spec.shape) n *= static_cast<std::uint64_t>(d < 0 ? 0 : d);
  return n;
}

std::string header(const tensor_spec& spec, std::uint64_t declared) {
  std::string h = spec.kind == record_kind::out ? "//out " : "//in ";
  h += std::to_string(spec.port);
  h += " s: " + format_scale(spec.scale);
  h += " z: " + std::to_string(spec.zero_point);
  h += " type: ";
  h += spec.type_name.empty() ? std::string(dtype_vendor_name(spec.type)) : spec.type_name;
  h += " name: " + spec.name;
  h += spec.constant ? " bConstant:1" : " bConstant:0";
  h += " shape:" + format_shape(spec.shape);
  h += " dims:" + std::to_string(spec.shape.size());
  h += '\n';
  h += spec.kind == record_kind::out ? "op_out[" : "op_in[";
  h += std::to_string(spec.op_index) + "] " + spec.op_type + " = {\n";
  h += "//buffer data size: " + std::to_string(declared) + "\n";
  return h;
}

std::string trailer(trailer_style t, std::uint64_t declared) {
  switch (t) {
    case trailer_style::none: return {};
    case trailer_style::simulator: return "\n};\n";
    case trailer_style::simulator_size:
      return "\n};\n//buffer data size: " + std::to_string(declared) + "\n";
  }
  return {};
}

// Stored value of real value v for an integer type: round, offset, saturate.
double quantize(double v, double scale, std::int64_t zero, double lo, double hi) {
  double q = scale != 0 && std::isfinite(v) ? std::nearbyint(v / scale) : 0.0;
  if (std::isnan(q)) q = 0;
  q += static_cast<double>(zero);
  return std::min(hi, std::max(lo, q));
}

template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof v);
  out.append(b, sizeof v);
}

// Stored value of element v, as the reader's storage type.
void put_stored(std::string& out, dtype t, double v, double scale, std::int64_t zero) {
  switch (t) {
    case dtype::f32: put<float>(out, static_cast<float>(v)); break;
    case dtype::u8:
      put<std::uint8_t>(out, static_cast<std::uint8_t>(quantize(v, scale, zero, 0, 255)));
      break;
    case dtype::s8:
      put<std::int8_t>(out, static_cast<std::int8_t>(quantize(v, scale, zero, -128, 127)));
      break;
    case dtype::u16:
      put<std::uint16_t>(out, static_cast<std::uint16_t>(quantize(v, scale, zero, 0, 65535)));
      break;
    case dtype::s16:
      put<std::int16_t>(out, static_cast<std::int16_t>(quantize(v, scale, zero, -32768, 32767)));
      break;
    case dtype::s32:
      put<std::int32_t>(
          out, static_cast<std::int32_t>(quantize(v, scale, zero, -2147483648.0, 2147483647.0)));
      break;
    case dtype::boolean:
      put<std::uint8_t>(out, static_cast<std::uint8_t>(quantize(v, scale, zero, 0, 1)));
      break;
    case dtype::unknown: put<float>(out, static_cast<float>(v)); break;
  }
}

}  // namespace

std::string dump_writer::render_first_line(const writer_options& options) {
  if (!options.write_first_line) return {};
  return options.is_float ? "isFloat: 1\n" : "isFloat: 0\n";
}

namespace {

// render() for real values held as float or as double (split writes the
// values it read, which float32 would round above 2^24).
template <class T>
std::string render_values(const writer_options& options, const tensor_spec& spec,
                          std::span<const T> values) {
  const dtype storage = storage_of(options, spec);
  const std::size_t es = dtype_size(storage) == 0 ? 4 : dtype_size(storage);
  const std::uint64_t elements = elements_of(spec);
  const double scale = printed_scale(spec.scale);
  auto value = [&](std::uint64_t i) {
    return i < values.size() ? static_cast<double>(values[static_cast<std::size_t>(i)]) : 0.0;
  };

  if (options.variant == dump_variant::text) {
    std::string out = header(spec, elements * es);
    out += '\n';
    const bool ints = storage != dtype::f32 && storage != dtype::unknown;
    char buf[64];
    for (std::uint64_t i = 0; i < elements; ++i) {
      if (ints) {
        // Integer text holds the stored (quantized) values.
        double lo = 0, hi = 0;
        switch (storage) {
          case dtype::u8:
            lo = 0;
            hi = 255;
            break;
          case dtype::s8:
            lo = -128;
            hi = 127;
            break;
          case dtype::u16:
            lo = 0;
            hi = 65535;
            break;
          case dtype::s16:
            lo = -32768;
            hi = 32767;
            break;
          case dtype::boolean:
            lo = 0;
            hi = 1;
            break;
          default:
            lo = -2147483648.0;
            hi = 2147483647.0;
            break;
        }
        auto q = static_cast<long long>(quantize(value(i), scale, spec.zero_point, lo, hi));
        std::snprintf(buf, sizeof buf, "%6lld, ", q);
      } else {
        std::snprintf(buf, sizeof buf, "%.6f, ", value(i));
      }
      out += buf;
      if (i % 16 == 15 || i + 1 == elements) out += '\n';
    }
    out += options.trailer == trailer_style::none ? "}\n" : "};\n";
    return out;
  }

  // Binary: optional innermost padding, then optional garbage tail.
  const std::uint64_t inner =
      spec.shape.empty() ? 1
                         : static_cast<std::uint64_t>(std::max<std::int64_t>(0, spec.shape.back()));
  const std::uint64_t padded = spec.pad_inner_to > inner ? spec.pad_inner_to : inner;
  const std::uint64_t rows = inner == 0 ? 0 : elements / inner;
  std::string payload;
  payload.reserve(static_cast<std::size_t>(rows * padded * es + spec.extra_bytes));
  for (std::uint64_t row = 0; row < rows; ++row) {
    for (std::uint64_t j = 0; j < inner; ++j) {
      put_stored(payload, storage, value(row * inner + j), scale, spec.zero_point);
    }
    payload.append(static_cast<std::size_t>((padded - inner) * es), '\0');
  }
  payload.append(static_cast<std::size_t>(spec.extra_bytes), '\xAB');
  std::string out = header(spec, payload.size());
  out += payload;
  out += trailer(options.trailer, payload.size());
  return out;
}

}  // namespace

std::string dump_writer::render(const writer_options& options, const tensor_spec& spec,
                                std::span<const float> values) {
  return render_values(options, spec, values);
}

std::string dump_writer::render(const writer_options& options, const tensor_spec& spec,
                                std::span<const double> values) {
  return render_values(options, spec, values);
}

result<dump_writer> dump_writer::create(const std::string& path, writer_options options) {
  unique_fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return make_error(errc::io, path, no_record, no_offset, errno_text("open", errno));
  dump_writer w(std::move(fd), path, options);
  auto r = w.append_bytes(render_first_line(options));
  if (!r) return std::unexpected(r.error());
  return w;
}

dump_writer::dump_writer(unique_fd fd, std::string path, writer_options options)
    : fd_(std::move(fd)), path_(std::move(path)), options_(options) {}

dump_writer::dump_writer(dump_writer&&) noexcept = default;
dump_writer& dump_writer::operator=(dump_writer&&) noexcept = default;
dump_writer::~dump_writer() = default;

result<void> dump_writer::append_bytes(std::string_view bytes) {
  if (!fd_) return make_error(errc::io, path_, no_record, no_offset, "writer is closed");
  while (!bytes.empty()) {
    ssize_t n = ::write(fd_.get(), bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(errc::io, path_, no_record, written_, errno_text("write", errno));
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
    written_ += static_cast<std::uint64_t>(n);
  }
  return {};
}

result<void> dump_writer::write(const tensor_spec& spec, std::span<const float> values) {
  std::string bytes;
  if (records_ > 0) bytes.append(static_cast<std::size_t>(std::max(0, options_.blank_lines)), '\n');
  bytes += render(options_, spec, values);
  auto r = append_bytes(bytes);
  if (r) ++records_;
  return r;
}

result<void> dump_writer::write_raw(const tensor_spec& spec, std::span<const std::byte> payload) {
  std::string bytes;
  if (records_ > 0) bytes.append(static_cast<std::size_t>(std::max(0, options_.blank_lines)), '\n');
  bytes += header(spec, payload.size());
  bytes.append(reinterpret_cast<const char*>(payload.data()), payload.size());
  bytes += trailer(options_.trailer, payload.size());
  auto r = append_bytes(bytes);
  if (r) ++records_;
  return r;
}

result<void> dump_writer::close() {
  if (!fd_) return {};
  // Closed here rather than by the owner: a failed close is reported.
  if (::close(fd_.release()) != 0)
    return make_error(errc::io, path_, no_record, no_offset, errno_text("close", errno));
  return {};
}

}  // namespace sigdump
