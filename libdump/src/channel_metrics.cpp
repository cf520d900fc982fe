// Per-channel evidence of a compared layer: one pass in row-major order
// over the sample and the benchmark (read through the layer's layout),
// summing the vendor's sums per channel in double and keeping the elements
// with the largest difference. One thread per layer, so the numbers never
// depend on how many threads a comparison used. Plain floats in the same
// order on both sides are read where they lie and widened in registers;
// other values are widened into a block first. The search for the largest
// differences only looks at blocks whose sums met an element that may
// enter it (docs/performance.md, "Per-channel evidence").
#include "sigdump/channel_metrics.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>

#include "channel_kernels.h"
#include "channel_pass.h"
#include "metrics_kernel.h"
#include "sigdump/compare.h"
#include "sigdump/mapping.h"

namespace sigdump {

namespace {

constexpr std::uint64_t block_elements = detail::channel_pass::max_step;

struct channel_sums {
  double ab = 0, aa = 0, bb = 0, dd = 0, abs_d = 0, abs_b = 0, max_d = 0, peak = 0;
  std::uint64_t n = 0;
  bool max_nan = false;
};

// The per-channel sums as one array per sum, so that a row of channels
// (channel axis last) is summed by one loop the compiler vectorizes across
// channels: each channel still adds its elements in index order, so the
// sums are the same to the bit as adding one element at a time. A channel
// has a NaN |a-b| exactly when its sum of |a-b| is NaN (the terms are >= 0
// or NaN): no flag is kept for it.
struct channel_columns {
  std::vector<double> ab, aa, bb, dd, abs_d, abs_b, max_d, peak;
  std::vector<std::uint64_t> n;

  void resize(std::size_t channels) {
    for (auto* v : {&ab, &aa, &bb, &dd, &abs_d, &abs_b, &max_d, &peak}) v->assign(channels, 0.0);
    n.assign(channels, 0);
  }
  detail::channel_row row(std::size_t c) noexcept {
    return {ab.data() + c,    aa.data() + c,    bb.data() + c,   dd.data() + c, abs_d.data() + c,
            abs_b.data() + c, max_d.data() + c, peak.data() + c, n.data() + c};
  }
  channel_sums at(std::size_t c) const {
    return {ab[c],    aa[c],    bb[c],   dd[c], abs_d[c],
            abs_b[c], max_d[c], peak[c], n[c],  std::isnan(abs_d[c])};
  }
};

constexpr double infinity = std::numeric_limits<double>::infinity();

// One value of a block: plain floats are read in place, at any byte offset.
template <class T>
double value(const T* p, std::uint64_t k) noexcept {
  T v;
  std::memcpy(&v, p + k, sizeof v);
  return v;
}

// Elements k of x and y all belong to channel c, in order. Returns whether
// one has |x-y| not below at_least or NaN (a candidate of the search).
template <class T>
bool add_run(channel_columns& s, std::size_t c, const T* x, const T* y, std::size_t len,
             double at_least) noexcept {
  channel_sums t = s.at(c);
  bool hit = false;
  for (std::size_t k = 0; k < len; ++k) {
    const double a = value(x, k), b = value(y, k), d = a - b, ad = std::fabs(d);
    const double ay = std::fabs(b);
    t.ab += a * b;
    t.aa += a * a;
    t.bb += b * b;
    t.dd += d * d;
    t.abs_d += ad;
    t.abs_b += ay;
    if (ay > t.peak && ay < infinity) t.peak = ay;
    if (ad > t.max_d) t.max_d = ad;
    hit |= !(ad < at_least);
  }
  s.ab[c] = t.ab, s.aa[c] = t.aa, s.bb[c] = t.bb, s.dd[c] = t.dd;
  s.abs_d[c] = t.abs_d, s.abs_b[c] = t.abs_b, s.peak[c] = t.peak, s.max_d[c] = t.max_d;
  s.n[c] += len;
  return hit;
}

struct candidate {
  double abs_diff;
  std::uint64_t index;
  double a, b;
};

// Whether x ranks above y among the largest differences: NaN first, then
// the larger |a-b|, then the lower index.
bool ranks_above(const candidate& x, const candidate& y) noexcept {
  const bool xn = std::isnan(x.abs_diff), yn = std::isnan(y.abs_diff);
  if (xn != yn) return xn;
  if (!xn && x.abs_diff != y.abs_diff) return x.abs_diff > y.abs_diff;
  return x.index < y.index;
}

// Everything the guarded block reader touches, allocated beforehand: a
// SIGBUS guard must not unwind through allocations.
struct pass_state {
  const tensor_view* sample;
  const tensor_view* bench;
  layout_choice layout;
  const detail::channel_kernel_set* kernels;  // the active variant's
  std::uint64_t stride;                       // elements per step of the channel axis
  std::uint64_t channels;                     // size of the channel axis
  bool per_channel;                           // keep per-channel sums
  bool in_place;  // both sides plain floats in the same order: read where they lie
  channel_columns sums;
  std::vector<candidate> heap;  // min-heap of the best `keep` candidates
  std::size_t keep;
  std::vector<double> a, b;  // the block widened, unless in_place
  std::uint64_t first = 0, len = 0;
  std::uint64_t pos = 0, channel = 0;  // position of `first` within stride, and its channel
  channel_evidence ev;                 // the axis, its channels and the order of `at`
  bool nchw = false;                   // `at` reordered from NCHW
  std::uint32_t worst_channels = 0;
};

// The heap's top is the candidate that ranks lowest.
bool heap_order(const candidate& x, const candidate& y) noexcept { return ranks_above(x, y); }

// The least |a-b| an element needs to enter the heap (NaN always may):
// the lowest kept |a-b| once the heap is full (NaN ranks above all: then
// nothing is below it), before that anything not 0 (equal elements are
// no evidence). Always > 0.
double candidate_floor(const pass_state& s) noexcept {
  if (s.heap.size() < s.keep) return std::numeric_limits<double>::denorm_min();
  const double f = s.heap.front().abs_diff;
  return std::isnan(f) ? infinity : f;
}

// The elements of the block that rank among the `keep` largest
// differences so far (found in index order; the heap keeps the same ones
// in any order, ranks_above being a total order).
template <class T>
void keep_largest(pass_state& s, const T* a, const T* b) {
  if (s.keep == 0) return;
  double floor = candidate_floor(s);
  constexpr std::uint64_t group = detail::candidate_group;
  for (std::uint64_t g = 0; g < s.len; g += group) {
    // Most groups hold no candidate: the kernel skips them, one test per group.
    g = s.kernels->loops<T>().next_candidate_group(a, b, g, s.len, floor);
    if (g >= s.len) break;
    const std::uint64_t end = std::min(g + group, s.len);
    for (std::uint64_t k = g; k < end; ++k) {
      const double x = value(a, k), y = value(b, k), ad = std::fabs(x - y);
      if (ad < floor) continue;  // also an equal pair: the floor is > 0
      const candidate cand{ad, s.first + k, x, y};
      if (s.heap.size() < s.keep) {
        s.heap.push_back(cand);  // capacity reserved: no allocation
        std::push_heap(s.heap.begin(), s.heap.end(), heap_order);
      } else if (ranks_above(cand, s.heap.front())) {
        std::pop_heap(s.heap.begin(), s.heap.end(), heap_order);
        s.heap.back() = cand;
        std::push_heap(s.heap.begin(), s.heap.end(), heap_order);
      }
      floor = candidate_floor(s);
    }
  }
}

// One block of the pass over values of type T: the per-channel sums, and
// the search for the largest differences where the sums met an element
// that may enter the heap (the heap's floor only rises within the block,
// so the block-start floor the sums tested against lets no candidate by).
template <class T>
void pass_block(pass_state& s, const T* a, const T* b) {
  const double floor = candidate_floor(s);
  bool search = !s.per_channel;
  if (s.per_channel) {
    // Runs of elements in one step of the channel axis: a row of channels
    // when the axis is the last one, else a run of one channel.
    std::uint64_t pos = s.pos, c = s.channel;
    for (std::uint64_t k = 0; k < s.len;) {
      if (s.stride == 1) {
        // The rest of a row, or as many whole rows as the block holds.
        const std::uint64_t width = c ? s.channels - c : s.channels;
        const std::uint64_t rows = c ? 1 : std::max<std::uint64_t>((s.len - k) / width, 1);
        const std::uint64_t n = std::min(width * rows, s.len - k);
        search |= s.kernels->loops<T>().add_rows(s.sums.row(c), a + k, b + k, rows == 1 ? n : width,
                                                 rows, width, floor);
        k += n;
        c += rows == 1 ? n : width;
      } else {
        const std::uint64_t n = std::min(s.stride - pos, s.len - k);
        search |= add_run(s.sums, c, a + k, b + k, n, floor);
        k += n;
        pos += n;
        if (pos == s.stride) pos = 0, ++c;
      }
      if (c == s.channels) c = 0;
    }
    s.pos = pos;
    s.channel = c;
  }
  if (search) keep_largest(s, a, b);
}

// Plain floats in order: nothing to widen before the kernels.
bool plain_floats(const tensor_view& v) noexcept {
  return !v.text && !v.text_ints && !v.dequantize && v.storage == dtype::f32 && v.contiguous();
}

void run_block(void* p) {
  auto* s = static_cast<pass_state*>(p);
  if (s->in_place) {
    const auto* a = reinterpret_cast<const float*>(s->sample->data) + s->first;
    const auto* b = reinterpret_cast<const float*>(s->bench->data) + s->first;
    pass_block(*s, a, b);
    return;
  }
  const std::span<double> a(s->a.data(), s->len), b(s->b.data(), s->len);
  read_values(*s->sample, layout_choice::same, s->first, a);
  read_values(*s->bench, s->layout, s->first, b);
  pass_block(*s, a.data(), b.data());
}

channel_stat finish_channel(const channel_sums& s, std::uint32_t channel) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  channel_stat m;
  m.channel = channel;
  m.n = s.n;
  m.mse = s.n ? s.dd / static_cast<double>(s.n) : 0.0;
  m.cos = (s.aa == 0 || s.bb == 0) ? 0.0 : s.ab / (std::sqrt(s.aa) * std::sqrt(s.bb));
  m.rmse = s.abs_b == 0 ? (s.abs_d == 0 ? 0.0 : inf) : s.abs_d / s.abs_b;
  m.max_abs = s.max_nan ? std::numeric_limits<double>::quiet_NaN() : s.max_d;
  m.peak = s.peak;
  m.all_zero = s.aa == 0 && s.bb == 0;
  return m;
}

// Whether channel x is worse than y: a NaN COS first, then the lower COS,
// then the higher RMSE (NaN highest), then the lower channel; channels
// all zero on both sides (identical) last.
bool worse(const channel_stat& x, const channel_stat& y) noexcept {
  auto group = [](const channel_stat& m) { return m.all_zero ? 2 : std::isnan(m.cos) ? 0 : 1; };
  const int gx = group(x), gy = group(y);
  if (gx != gy) return gx < gy;
  if (gx == 1 && x.cos != y.cos) return x.cos < y.cos;
  auto r = [](const channel_stat& m) {
    return std::isnan(m.rmse) ? std::numeric_limits<double>::infinity() : m.rmse;
  };
  if (r(x) != r(y)) return r(x) > r(y);
  return x.channel < y.channel;
}

std::vector<std::int64_t> coordinates(std::uint64_t index, const std::vector<std::int64_t>& shape,
                                      bool nchw) {
  std::vector<std::int64_t> at(shape.size());
  for (std::size_t k = shape.size(); k-- > 0;) {
    const auto dim = static_cast<std::uint64_t>(std::max<std::int64_t>(shape[k], 1));
    at[k] = static_cast<std::int64_t>(index % dim);
    index /= dim;
  }
  if (nchw && at.size() == 4) at = {at[0], at[2], at[3], at[1]};
  return at;
}

}  // namespace

struct detail::channel_pass::state : pass_state {};

detail::channel_pass::channel_pass(const tensor_view& sample, const tensor_view& bench,
                                   layout_choice layout, const channel_options& options)
    : s_(std::make_unique<state>()) {
  pass_state& s = *s_;
  channel_evidence& ev = s.ev;
  const auto& shape = sample.shape;
  s.nchw = shape.size() == 4 && layout == layout_choice::benchmark_nhwc_to_nchw;
  if (shape.size() >= 2) {
    ev.axis = s.nchw ? 1 : static_cast<std::int32_t>(shape.size() - 1);
    ev.channels = static_cast<std::uint64_t>(std::max<std::int64_t>(shape[ev.axis], 1));
  }
  if (shape.size() == 4) {
    ev.order = "n,h,w,c";
  } else {
    for (std::size_t k = 0; k < shape.size(); ++k) {
      ev.order += (k ? ",d" : "d") + std::to_string(k);
    }
  }
  std::uint64_t stride = 1;
  if (ev.axis >= 0) {
    for (std::size_t k = static_cast<std::size_t>(ev.axis) + 1; k < shape.size(); ++k) {
      stride *= static_cast<std::uint64_t>(std::max<std::int64_t>(shape[k], 1));
    }
  } else {
    stride = std::max<std::uint64_t>(sample.elements, 1);
  }

  s.sample = &sample;
  s.bench = &bench;
  s.layout = layout;
  s.kernels = &detail::channel_kernels_for(detail::active_kernels().isa);
  s.stride = stride;
  s.channels = ev.channels;
  s.per_channel = ev.channels <= options.max_channels;
  s.in_place = plain_floats(sample) && plain_floats(bench) &&
               (layout == layout_choice::same || bench.shape.size() != 4);
  if (s.per_channel) s.sums.resize(static_cast<std::size_t>(ev.channels));
  s.keep = static_cast<std::size_t>(std::min<std::uint64_t>(options.top_elements, sample.elements));
  s.heap.reserve(s.keep + 1);
  if (!s.in_place) {
    const auto block = static_cast<std::size_t>(std::min(block_elements, sample.elements));
    s.a.resize(block);
    s.b.resize(block);
  }
  s.worst_channels = options.worst_channels;
}

detail::channel_pass::~channel_pass() = default;

void detail::channel_pass::add(std::uint64_t first, std::uint64_t len) noexcept {
  s_->first = first;
  s_->len = len;
  run_block(static_cast<pass_state*>(s_.get()));
}

channel_evidence detail::channel_pass::finish() {
  pass_state& s = *s_;
  channel_evidence& ev = s.ev;
  if (s.per_channel) {
    ev.per_channel.reserve(s.sums.n.size());
    for (std::size_t c = 0; c < s.sums.n.size(); ++c) {
      ev.per_channel.push_back(finish_channel(s.sums.at(c), static_cast<std::uint32_t>(c)));
    }
    std::vector<channel_stat> ranked = ev.per_channel;
    const std::size_t w = std::min<std::size_t>(s.worst_channels, ranked.size());
    std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(w), ranked.end(),
                      worse);
    ranked.resize(w);
    ev.worst = std::move(ranked);
    std::vector<double> peaks;
    peaks.reserve(ev.per_channel.size());
    for (const auto& c : ev.per_channel) peaks.push_back(c.peak);
    auto mid = peaks.begin() + static_cast<std::ptrdiff_t>(peaks.size() / 2);
    std::nth_element(peaks.begin(), mid, peaks.end());
    const double median = *mid;
    if (median > 0) {
      for (const auto& c : ev.per_channel) {
        if (c.peak > outlier_ratio * median) ev.outliers.push_back(c.channel);
      }
    }
  }
  std::sort(s.heap.begin(), s.heap.end(), ranks_above);
  for (const candidate& c : s.heap) {
    element_diff e;
    e.index = c.index;
    e.at = coordinates(c.index, s.sample->shape, s.nchw);
    e.channel = static_cast<std::uint32_t>(ev.axis < 0 ? 0 : (c.index / s.stride) % ev.channels);
    e.sample = c.a;
    e.benchmark = c.b;
    e.abs_diff = c.abs_diff;
    ev.top.push_back(std::move(e));
  }
  return std::move(ev);
}

result<channel_evidence> compute_channel_evidence(const tensor_view& sample,
                                                  const tensor_view& bench, layout_choice layout,
                                                  const channel_options& options) {
  if (sample.elements != bench.elements) {
    error e;
    e.code = errc::mismatch;
    e.message = "element counts differ";
    return std::unexpected(std::move(e));
  }
  detail::channel_pass pass(sample, bench, layout, options);
  struct step {
    detail::channel_pass* pass;
    std::uint64_t first, len;
  } st{&pass, 0, 0};
  for (std::uint64_t first = 0; first < sample.elements; first += block_elements) {
    st.first = first;
    st.len = std::min(block_elements, sample.elements - first);
    const void* fault = nullptr;
    if (!guarded_read(
            {sample.mapped(), bench.mapped()},
            [](void* p) {
              auto* x = static_cast<step*>(p);
              x->pass->add(x->first, x->len);
            },
            &st, &fault))
      return std::unexpected(vanished_error(sample, bench, fault));
  }
  return pass.finish();
}

std::string format_coordinates(const std::vector<std::int64_t>& at) {
  std::string out = "[";
  for (std::size_t k = 0; k < at.size(); ++k) {
    if (k) out += ',';
    out += std::to_string(at[k]);
  }
  return out + ']';
}

void add_channel_evidence(compare_report& report, const dump_file& sample, const dump_file& bench,
                          bool all_layers, unsigned threads, const channel_options& options) {
  // Views are taken here, on one thread: text payloads are parsed by view().
  struct job {
    layer_result* layer;
    tensor_view sample, bench;
  };
  std::vector<job> jobs;
  for (auto& l : report.layers) {
    if (!l.error.empty() || l.channels || !(l.suspect || all_layers) || l.bench_record < 0) {
      continue;
    }
    auto sv = sample.view(l.sample_record);
    auto bv = bench.view(static_cast<std::uint32_t>(l.bench_record));
    if (sv && bv) jobs.push_back({&l, std::move(*sv), std::move(*bv)});
  }
  if (jobs.empty()) return;
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (;;) {
      const std::size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= jobs.size()) return;
      job& j = jobs[i];
      if (auto ev = compute_channel_evidence(j.sample, j.bench, j.layer->layout, options)) {
        j.layer->channels = std::move(*ev);
      }
    }
  };
  unsigned t = threads ? threads : std::max(1u, std::thread::hardware_concurrency());
  t = static_cast<unsigned>(std::min<std::size_t>(t, jobs.size()));
  std::vector<std::jthread> pool;
  for (unsigned k = 1; k < t; ++k) pool.emplace_back(work);
  work();
}

}  // namespace sigdump
