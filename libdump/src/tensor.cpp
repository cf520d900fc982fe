#include "sigdump/tensor.h"

#include <array>
#include <cmath>
#include <cstring>
#include <string_view>

#include "parse_util.h"

namespace sigdump {

namespace {

template <class T>
double load(const std::byte* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  return static_cast<double>(v);
}

double load_stored(dtype t, const std::byte* p) noexcept {
  switch (t) {
    case dtype::f32: return load<float>(p);
    case dtype::u8: return load<std::uint8_t>(p);
    case dtype::s8: return load<std::int8_t>(p);
    case dtype::u16: return load<std::uint16_t>(p);
    case dtype::s16: return load<std::int16_t>(p);
    case dtype::s32: return load<std::int32_t>(p);
    case dtype::boolean: return load<std::uint8_t>(p);
    case dtype::unknown: break;
  }
  return std::nan("");
}

// Calls take(token) for each value token of a text payload, up to `limit`
// of them; stops early when take returns false. Returns the tokens taken.
template <class Take>
std::uint64_t for_each_token(std::string_view s, std::uint64_t limit, Take take) {
  std::uint64_t n = 0;
  std::size_t i = 0;
  while (i < s.size() && n < limit) {
    while (i < s.size() && detail::is_value_separator(s[i])) ++i;
    std::size_t b = i;
    while (i < s.size() && !detail::is_value_separator(s[i])) ++i;
    if (i == b) continue;
    if (!take(s.substr(b, i - b))) return n;
    ++n;
  }
  return n;
}

}  // namespace

double tensor_view::at(std::uint64_t i) const noexcept {
  double q;
  if (text) {
    q = (*text)[static_cast<std::size_t>(i)];
  } else if (text_ints) {
    q = (*text_ints)[static_cast<std::size_t>(i)];
  } else {
    std::uint64_t idx =
        (inner == inner_stride || inner == 0) ? i : (i / inner) * inner_stride + i % inner;
    q = load_stored(storage, data + idx * dtype_size(storage));
  }
  if (dequantize) return (q - static_cast<double>(zero_point)) * scale;
  return q;
}

void tensor_view::read(std::uint64_t first, std::span<double> out) const noexcept {
  if (!text && !text_ints && !dequantize && storage == dtype::f32 && contiguous()) {
    const std::byte* p = data + first * 4;
    for (std::size_t k = 0; k < out.size(); ++k) out[k] = load<float>(p + k * 4);
    return;
  }
  for (std::size_t k = 0; k < out.size(); ++k) out[k] = at(first + k);
}

tensor_stats compute_stats(const tensor_view& v) noexcept {
  tensor_stats st;
  st.count = v.elements;
  std::array<double, 4096> buf;
  // Welford keeps the variance accurate for large offsets.
  double mean = 0, m2 = 0;
  std::uint64_t finite = 0;
  bool have = false;
  for (std::uint64_t first = 0; first < v.elements; first += buf.size()) {
    std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), v.elements - first));
    v.read(first, std::span<double>(buf.data(), n));
    for (std::size_t k = 0; k < n; ++k) {
      double x = buf[k];
      if (std::isnan(x)) {
        ++st.nans;
        continue;
      }
      if (std::isinf(x)) {
        ++st.infs;
        continue;
      }
      if (x == 0) ++st.zeros;
      if (!have) {
        st.min = st.max = x;
        have = true;
      } else {
        st.min = std::min(st.min, x);
        st.max = std::max(st.max, x);
      }
      ++finite;
      double d = x - mean;
      mean += d / static_cast<double>(finite);
      m2 += d * (x - mean);
    }
  }
  if (finite > 0) {
    st.mean = mean;
    st.std = std::sqrt(m2 / static_cast<double>(finite));
  }
  return st;
}

result<void> tensor_view::read_checked(std::uint64_t first, std::span<double> out) const {
  struct call {
    const tensor_view* v;
    std::uint64_t first;
    std::span<double> out;
  } c{this, first, out};
  const void* fault = nullptr;
  if (!guarded_read(
          {mapped()},
          [](void* p) {
            auto* k = static_cast<call*>(p);
            k->v->read(k->first, k->out);
          },
          &c, &fault)) {
    return std::unexpected(vanished_error(*this, fault));
  }
  return {};
}

result<tensor_stats> compute_stats_checked(const tensor_view& v) {
  struct call {
    const tensor_view* v;
    tensor_stats out;
  } c{&v, {}};
  const void* fault = nullptr;
  // compute_stats allocates nothing, so one guard around all of it is safe.
  if (!guarded_read(
          {v.mapped()},
          [](void* p) {
            auto* k = static_cast<call*>(p);
            k->out = compute_stats(*k->v);
          },
          &c, &fault)) {
    return std::unexpected(vanished_error(v, fault));
  }
  return c.out;
}

error vanished_error(const tensor_view& v, const void* fault_address) {
  error e;
  e.code = errc::truncated;
  e.record = v.source_record;
  e.record_name = v.source_name;
  if (v.owner) {
    e.file = v.owner->path();
    e.offset = v.owner->offset_of(fault_address);
  }
  e.message = "file shrank while being read (the mapped bytes are gone)";
  return e;
}

error vanished_error(const tensor_view& first, const tensor_view& second,
                     const void* fault_address) {
  const bool in_second = second.owner && second.owner->offset_of(fault_address) != no_offset;
  return vanished_error(in_second ? second : first, fault_address);
}

result<tensor_view> make_tensor_view(const record& r, bool is_float, dump_variant variant,
                                     std::span<const std::byte> file,
                                     std::shared_ptr<const mapping> owner,
                                     const std::string& file_name) {
  if (!r.ok()) {
    return make_error(r.type == dtype::unknown ? errc::unknown_type : errc::bad_size, file_name,
                      r.index, r.header_offset, "cannot read values: " + r.problem, r.name);
  }
  if (r.payload_offset > file.size() || r.payload_bytes > file.size() - r.payload_offset) {
    return make_error(errc::truncated, file_name, r.index, r.payload_offset,
                      "payload lies beyond the " + std::to_string(file.size()) + " bytes given",
                      r.name);
  }
  tensor_view v;
  v.elements = r.elements;
  v.inner = r.inner;
  v.inner_stride = r.inner_stride;
  v.shape = r.shape;
  v.scale = r.scale;
  v.zero_point = r.zero_point;
  v.dequantize = !is_float && r.type != dtype::f32;
  v.source_record = r.index;
  v.source_name = r.name;
  if (variant == dump_variant::text) {
    std::string_view s(reinterpret_cast<const char*>(file.data()) + r.payload_offset,
                       static_cast<std::size_t>(r.payload_bytes));
    // Stored integers are read as integers; text that is not all int32
    // tokens (a writer that printed "%f") is read as floats, as before.
    std::uint64_t count = 0;
    if (v.dequantize) {
      auto ints = std::make_shared<std::vector<std::int32_t>>();
      ints->reserve(static_cast<std::size_t>(r.elements));
      bool all_ints = true;
      count = for_each_token(s, r.elements, [&](std::string_view t) {
        std::int32_t q = 0;
        all_ints = detail::parse_int_token(t, q);
        if (all_ints) ints->push_back(q);
        return all_ints;
      });
      if (all_ints) {
        v.text_ints = std::move(ints);
        v.storage = dtype::s32;
      }
    }
    if (!v.text_ints) {
      auto values = std::make_shared<std::vector<float>>();
      values->reserve(static_cast<std::size_t>(r.elements));
      count = for_each_token(s, r.elements, [&](std::string_view t) {
        values->push_back(detail::parse_value_token(t));
        return true;
      });
      v.text = std::move(values);
      v.storage = dtype::f32;
    }
    if (count < r.elements) {
      return make_error(errc::bad_size, file_name, r.index, r.payload_offset,
                        "text has " + std::to_string(count) + " values, shape needs " +
                            std::to_string(r.elements),
                        r.name);
    }
    v.inner_stride = v.inner;
  } else {
    v.storage = r.storage;
    v.data = file.data() + r.payload_offset;
    v.owner = std::move(owner);
  }
  return v;
}

}  // namespace sigdump
