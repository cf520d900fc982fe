// Value histograms of a sample layer and its benchmark, streamed from the
// mapped dumps in chunks: no tensor is ever copied whole.
#include "pair_histograms.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <span>
#include <vector>

#include "sigdump/mapping.h"

namespace sigdump::detail {

namespace {

constexpr std::size_t chunk = 4096;

// Reads the benchmark in the sample's element order. For a transposed
// layout each sample index is mapped to the benchmark's own index; the
// benchmark's shape says which dimension is which (docs/format.md, "Layout").
class bench_reader {
 public:
  static result<bench_reader> make(const tensor_view& v, layout_choice layout) {
    bench_reader r;
    r.v_ = &v;
    r.layout_ = layout;
    if (layout == layout_choice::same) return r;
    if (v.shape.size() != 4) {
      return make_error(
          errc::mismatch, {}, no_record, no_offset,
          "transposed layout needs a 4-D benchmark, got shape " + format_shape(v.shape));
    }
    for (int k = 0; k < 4; ++k) {
      if (v.shape[k] <= 0) {
        return make_error(errc::mismatch, {}, no_record, no_offset,
                          "benchmark shape " + format_shape(v.shape) + " has an empty dimension");
      }
      r.d_[k] = static_cast<std::uint64_t>(v.shape[k]);
    }
    return r;
  }

  void read(std::uint64_t first, std::span<double> out) const {
    if (layout_ == layout_choice::same) {
      v_->read(first, out);
      return;
    }
    // Walk the sample's order with counters: the benchmark index then costs
    // multiplications only, no division per element.
    if (layout_ == layout_choice::benchmark_nchw_to_nhwc) {
      // Benchmark [N, C, H, W]; the sample's order is N, H, W, C.
      const std::uint64_t cn = d_[1], hn = d_[2], wn = d_[3];
      std::uint64_t c = first % cn, rest = first / cn;
      std::uint64_t w = rest % wn;
      rest /= wn;
      std::uint64_t h = rest % hn, n = rest / hn;
      for (double& o : out) {
        o = v_->at(((n * cn + c) * hn + h) * wn + w);
        if (++c == cn) {
          c = 0;
          if (++w == wn) {
            w = 0;
            if (++h == hn) {
              h = 0;
              ++n;
            }
          }
        }
      }
      return;
    }
    // Benchmark [N, H, W, C]; the sample's order is N, C, H, W.
    const std::uint64_t hn = d_[1], wn = d_[2], cn = d_[3];
    std::uint64_t w = first % wn, rest = first / wn;
    std::uint64_t h = rest % hn;
    rest /= hn;
    std::uint64_t c = rest % cn, n = rest / cn;
    for (double& o : out) {
      o = v_->at(((n * hn + h) * wn + w) * cn + c);
      if (++w == wn) {
        w = 0;
        if (++h == hn) {
          h = 0;
          if (++c == cn) {
            c = 0;
            ++n;
          }
        }
      }
    }
  }

 private:
  const tensor_view* v_ = nullptr;
  layout_choice layout_ = layout_choice::same;
  std::array<std::uint64_t, 4> d_{};
};

void set_range(histogram& h, double lo, double hi, std::uint32_t bins) {
  if (!(lo <= hi)) lo = hi = 0;  // no finite value at all
  if (lo == hi) {
    double pad = std::max(std::abs(lo) * 1e-6, 0.5);
    lo -= pad;
    hi += pad;
  }
  h.lo = lo;
  h.hi = hi;
  h.bins.assign(bins, 0);
}

// Counts v into h; `scale` is bins / (hi - lo), computed once per histogram.
void bin(histogram& h, double scale, double v) {
  double f = (v - h.lo) * scale;
  if (!(f >= 0) || v > h.hi) return;  // NaN, Inf or out of range
  auto k = static_cast<std::size_t>(f);
  h.bins[std::min(k, h.bins.size() - 1)] += 1;
}

double bin_scale(const histogram& h) { return static_cast<double>(h.bins.size()) / (h.hi - h.lo); }

}  // namespace

// Two passes over both tensors: ranges first, then counts.
result<pair_histograms> compute_pair_histograms(const tensor_view& s, const tensor_view& b,
                                                layout_choice layout, std::uint32_t bins) {
  if (s.elements != b.elements) {
    return make_error(errc::mismatch, {}, no_record, no_offset,
                      "sample has " + std::to_string(s.elements) + " elements, benchmark " +
                          std::to_string(b.elements));
  }
  auto reader = bench_reader::make(b, layout);
  if (!reader) return std::unexpected(reader.error());
  pair_histograms h;
  h.elements = s.elements;
  std::vector<double> a(chunk), c(chunk);
  // One SIGBUS guard per chunk: the file may be truncated while we read it.
  struct chunk_read {
    const tensor_view* s;
    const bench_reader* b;
    std::uint64_t first;
    std::span<double> sa, sb;
  };
  const void* fault = nullptr;
  auto each_chunk = [&](auto&& fn) {
    for (std::uint64_t first = 0; first < s.elements; first += chunk) {
      auto len = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, s.elements - first));
      std::span<double> sa(a.data(), len), sb(c.data(), len);
      chunk_read k{&s, &*reader, first, sa, sb};
      if (!guarded_read(
              {s.mapped(), b.mapped()},
              [](void* p) {
                auto* x = static_cast<chunk_read*>(p);
                x->s->read(x->first, x->sa);
                x->b->read(x->first, x->sb);
              },
              &k, &fault)) {
        return false;
      }
      for (std::size_t j = 0; j < len; ++j) fn(sa[j], sb[j]);
    }
    return true;
  };
  if (!each_chunk([&](double x, double y) {
        h.sample.add(x);
        h.bench.add(y);
        if (std::isfinite(x) && std::isfinite(y)) h.diff.add(x - y);
      })) {
    return std::unexpected(sigdump::vanished_error(s, b, fault));
  }
  set_range(h.sample_values, std::min(h.sample.min, h.bench.min),
            std::max(h.sample.max, h.bench.max), bins);
  h.bench_values = h.sample_values;
  set_range(h.diffs, h.diff.min, h.diff.max, bins);
  const double value_scale = bin_scale(h.sample_values), diff_scale = bin_scale(h.diffs);
  if (!each_chunk([&](double x, double y) {
        bin(h.sample_values, value_scale, x);
        bin(h.bench_values, value_scale, y);
        if (std::isfinite(x) && std::isfinite(y)) bin(h.diffs, diff_scale, x - y);
      })) {
    return std::unexpected(sigdump::vanished_error(s, b, fault));
  }
  return h;
}

}  // namespace sigdump::detail
