// Writing the miniature network's runs in the simulator's dump format.
#include "sigdump/sim/writer.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace sigdump::sim {
namespace {

static_assert(std::endian::native == std::endian::little,
              "dump payloads are little-endian; this writer copies native bytes");

template <class T>
void append_as(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

// Payload bytes of a tensor: float32 when the file is a float file (float
// mode, or fixed mode with dequant), the raw integers otherwise.
std::string payload_of(const sim_tensor& t, bool is_float_file) {
  std::string out;
  if (is_float_file || t.type == dtype::f32) {
    out.reserve(t.real.size() * 4);
    for (float v : t.real) append_as(out, v);
    return out;
  }
  out.reserve(t.q.size() * dtype_size(t.type));
  for (std::int32_t q : t.q) {
    switch (t.type) {
      case dtype::u8: append_as(out, static_cast<std::uint8_t>(q)); break;
      case dtype::s8: append_as(out, static_cast<std::int8_t>(q)); break;
      case dtype::s16: append_as(out, static_cast<std::int16_t>(q)); break;
      case dtype::u16: append_as(out, static_cast<std::uint16_t>(q)); break;
      default: append_as(out, q); break;
    }
  }
  return out;
}

tensor_spec spec_of(const sim_tensor& t, const sim_layer& layer, record_kind kind,
                    std::uint32_t port) {
  tensor_spec s;
  s.kind = kind;
  s.port = port;
  s.scale = t.scale;
  s.zero_point = t.zero_point;
  s.type = t.type;
  s.name = t.name;
  s.constant = t.constant;
  s.shape = t.shape;
  s.op_index = layer.op_index;
  s.op_type = layer.op_type;
  return s;
}

constexpr std::size_t simulator_trailer_bytes = 4;  // "\n};\n"

// The first half of a record's bytes, for files cut mid-record. The header
// comes from the writer's own rendering so both always agree.
std::string half_record(const writer_options& options, const tensor_spec& spec,
                        const std::string& payload) {
  std::vector<float> dummy(
      payload.size() /
      std::max<std::size_t>(1, dtype_size(options.is_float ? dtype::f32 : spec.type)));
  const std::string rendered = dump_writer::render(options, spec, dummy);
  std::string header = rendered.substr(
      0, rendered.size() - std::min(rendered.size(), payload.size() + simulator_trailer_bytes));
  std::string whole = header + payload + "\n};\n";
  whole.resize(whole.size() / 2);
  return whole;
}

void pace_sleep(const sim_write_options& options) {
  using namespace std::chrono;
  auto left = options.pace;
  while (left > milliseconds(0)) {
    if (options.stop && options.stop->load()) return;
    const auto slice = std::min(left, milliseconds(20));
    std::this_thread::sleep_for(slice);
    left -= slice;
  }
}

}  // namespace

writer_options simulator_writer_options(const sim_config& config) {
  writer_options o;
  o.variant = dump_variant::binary;
  o.trailer = trailer_style::simulator;
  o.is_float = !config.fixed || config.dequant;
  return o;
}

result<std::uint64_t> write_layers(dump_writer& writer, const std::vector<sim_layer>& layers,
                                   const sim_config& config, const sim_write_options& options) {
  const writer_options wo = simulator_writer_options(config);
  std::uint64_t written = 0;
  const int repeat = std::max(1, options.repeat);
  for (int run = 0; run < repeat; ++run) {
    for (std::size_t li = 0; li < layers.size(); ++li) {
      if (options.stop && options.stop->load()) return written;
      const sim_layer& layer = layers[li];
      std::vector<std::pair<tensor_spec, const sim_tensor*>> records;
      for (std::size_t k = 0; k < layer.inputs.size(); ++k)
        records.emplace_back(
            spec_of(layer.inputs[k], layer, record_kind::in, static_cast<std::uint32_t>(k)),
            &layer.inputs[k]);
      records.emplace_back(spec_of(layer.output, layer, record_kind::out, 0), &layer.output);
      for (const auto& [spec, tensor] : records) {
        const std::string payload = payload_of(*tensor, wo.is_float);
        if (options.cut_after >= 0 && written == static_cast<std::uint64_t>(options.cut_after)) {
          auto r = writer.append_bytes(half_record(wo, spec, payload));
          if (!r) return std::unexpected(r.error());
          return written;
        }
        auto r = writer.write_raw(spec, std::as_bytes(std::span(payload.data(), payload.size())));
        if (!r) return std::unexpected(r.error());
        ++written;
      }
      const bool last = run + 1 == repeat && li + 1 == layers.size();
      if (!last) pace_sleep(options);
    }
  }
  return written;
}

result<std::uint64_t> simulate_to_file(const std::string& path, const sim_config& config,
                                       const sim_write_options& options) {
  const auto layers = run_network(config);
  auto writer = dump_writer::create(path, simulator_writer_options(config));
  if (!writer) return std::unexpected(writer.error());
  auto n = write_layers(*writer, layers, config, options);
  if (!n) return n;
  if (auto c = writer->close(); !c) return std::unexpected(c.error());
  return n;
}

}  // namespace sigdump::sim
