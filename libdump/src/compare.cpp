// The comparison driver: prepares each matched pair, decides its layout,
// and runs the metric kernels over a small thread pool in chunks combined
// in a fixed order (deterministic).
#include "sigdump/compare.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <thread>

#include "channel_pass.h"
#include "layout_decision.h"
#include "metrics_kernel.h"
#include "read_ahead.h"
#include "sigdump/channel_metrics.h"
#include "sigdump/plan.h"

namespace sigdump {

namespace {

constexpr double retry_below_cos = 0.98;

// A matched pair ready for the kernels, or a finished error result.
struct prepared {
  layer_result result;
  bool ready = false;
  tensor_view sample, bench;
  std::vector<layout_choice> retry;
  std::uint64_t bytes = 0;
  // The per-channel evidence summed with the chunks (read `same`), when
  // the layer looked suspect from its first elements.
  std::optional<channel_evidence> early;
};

std::string record_label(const char* side, const record& r) {
  return std::string(side) + " record " + std::to_string(r.index);
}

// A binary record's view without reading its payload first (view() makes
// sure every page is there, which reads the whole payload from disk):
// compare_dumps reads payloads under a SIGBUS guard as it sums them, with
// read_ahead asking for them ahead of the summing.
result<tensor_view> unread_view(const dump_file& f, std::uint32_t i) {
  if (f.variant() != dump_variant::binary || i >= f.records().size()) return f.view(i);
  const auto map = f.current_mapping();
  return make_tensor_view(f.records()[i], f.is_float(), f.variant(), map->bytes(), map, f.path());
}

prepared prepare(const dump_file& sample, std::uint32_t si, const dump_file& bench,
                 std::uint32_t bi, bool unread = false) {
  prepared p;
  layer_result& lr = p.result;
  lr.sample_record = si;
  lr.bench_record = bi;
  if (si >= sample.records().size() || bi >= bench.records().size()) {
    lr.error = "no such record";
    return p;
  }
  const record& a = sample.records()[si];
  const record& b = bench.records()[bi];
  lr.name = a.name;
  lr.benchmark_name = b.name;
  lr.op = a.op_type;
  lr.shape = a.shape;
  lr.rule = a.name == b.name                                 ? match_rule::exact
            : sanitize_name(a.name) == sanitize_name(b.name) ? match_rule::sanitized
                                                             : match_rule::name_map;
  if (!a.ok()) {
    lr.error = record_label("sample", a) + ": " + a.problem;
    return p;
  }
  if (!b.ok()) {
    lr.error = record_label("benchmark", b) + ": " + b.problem;
    return p;
  }
  auto va = unread ? unread_view(sample, si) : sample.view(si);
  if (!va) {
    lr.error = "sample: " + va.error().describe();
    return p;
  }
  auto vb = unread ? unread_view(bench, bi) : bench.view(bi);
  if (!vb) {
    lr.error = "benchmark: " + vb.error().describe();
    return p;
  }
  if (va->elements != vb->elements) {
    lr.error = "element count differs: sample " + format_shape(a.shape) + " has " +
               std::to_string(va->elements) + ", benchmark " + format_shape(b.shape) + " has " +
               std::to_string(vb->elements);
    return p;
  }
  if (va->elements == 0) {
    lr.error = "no elements to compare";
    return p;
  }
  detail::layout_decision d = detail::decide_layout(va->shape, vb->shape);
  lr.layout = d.layout;
  p.retry = std::move(d.retry);
  p.bytes = va->elements * (dtype_size(va->storage) + dtype_size(vb->storage));
  p.sample = std::move(*va);
  p.bench = std::move(*vb);
  p.ready = true;
  return p;
}

// The equal-shape retry, then the suspect flag.
void finish(prepared& p, const compare_options& options) {
  layer_result& lr = p.result;
  if (!(lr.metrics.cos >= retry_below_cos)) {
    for (layout_choice l : p.retry) {
      auto m = compute_metrics(p.sample, p.bench, l, options.threads);
      if (m && m->cos > lr.metrics.cos) {
        lr.metrics = *m;
        lr.layout = l;
      }
    }
  }
  lr.suspect = is_suspect(lr.metrics, options.thresholds);
}

}  // namespace

namespace {

layer_result compare_prepared(prepared p, const compare_options& options,
                              const chunk_sums_so_far* done) {
  if (!p.ready) return std::move(p.result);
  auto m =
      detail::compute_metrics_reusing(p.sample, p.bench, p.result.layout, options.threads, done);
  if (!m) {
    p.result.error = m.error().describe();
    return std::move(p.result);
  }
  p.result.metrics = *m;
  finish(p, options);
  return std::move(p.result);
}

}  // namespace

layer_result compare_layer(const dump_file& sample, std::uint32_t sample_record,
                           const dump_file& bench, std::uint32_t bench_record,
                           const compare_options& options) {
  return compare_prepared(prepare(sample, sample_record, bench, bench_record), options, nullptr);
}

layer_result compare_layer(const dump_file& sample, std::uint32_t sample_record,
                           const dump_file& bench, std::uint32_t bench_record,
                           const compare_options& options, const chunk_sums_so_far& done) {
  return compare_prepared(prepare(sample, sample_record, bench, bench_record), options, &done);
}

bool compare_report::any_suspect_or_error() const noexcept {
  return std::any_of(layers.begin(), layers.end(),
                     [](const layer_result& l) { return l.suspect || !l.error.empty(); });
}

std::uint64_t compare_report::suspect_count() const noexcept {
  return static_cast<std::uint64_t>(
      std::count_if(layers.begin(), layers.end(), [](const layer_result& l) { return l.suspect; }));
}

enum verdict compare_report::verdict() const noexcept { return judge(coverage, suspect_count()); }

namespace {

struct work_item {
  std::uint32_t job;
  std::uint64_t chunk;  // whole_layer: all of the job's chunks, in order
};

constexpr std::uint64_t whole_layer = ~std::uint64_t{0};

struct dumps_job {
  std::vector<prepared>* jobs;
  std::vector<work_item>* items;
  std::vector<detail::metric_sums>* sums;
  std::unique_ptr<const void*[]>* faulted;  // per item: null, or the fault address
  const compare_options* options;
  std::atomic<std::uint64_t>* done;
  std::uint64_t total;
  detail::read_ahead* ahead;
  std::vector<std::size_t>* first_item;                 // per job: its first work item
  std::unique_ptr<std::atomic<std::uint64_t>[]>* left;  // per job: chunks not summed yet
};

// Job j's chunks are all summed: combines them in chunk order (the same
// sums for any thread count), decides the layer, and for a suspect layer
// with channel_evidence adds its per-channel evidence (one thread per
// layer: the same numbers for any thread count). Run by the thread that
// summed the last chunk, so that on a cold page cache the evidence of the
// layers done overlaps the reading of the next ones (after all the chunks,
// it took as long again as the comparison of the benchmark pair).
void finish_job(const dumps_job& d, std::uint32_t j) {
  prepared& p = (*d.jobs)[j];
  const std::vector<work_item>& items = *d.items;
  detail::metric_sums s;
  const void* lost = nullptr;
  for (std::size_t i = (*d.first_item)[j]; i < items.size() && items[i].job == j; ++i) {
    if (lost == nullptr) lost = (*d.faulted)[i];
    s.add((*d.sums)[i]);
  }
  if (lost != nullptr) {
    p.result.error = detail::vanished_error(p.sample, p.bench, lost).describe();
    return;
  }
  p.result.metrics = detail::finish_metrics(s, p.sample, p.bench, p.result.layout);
  compare_options one = *d.options;
  one.threads = 1;  // this thread's share: the others go on with the chunks
  finish(p, one);
  if (d.options->channel_evidence && p.result.suspect) {
    if (p.early && p.result.layout == layout_choice::same) {
      p.result.channels = std::move(*p.early);
    } else if (auto ev = compute_channel_evidence(p.sample, p.bench, p.result.layout)) {
      p.result.channels = std::move(*ev);  // else add_channel_evidence tries again
    }
  }
  p.early.reset();
}

// The mapped bytes elements [first, first+len) of v lie in (none for text).
detail::byte_range mapped_bytes(const tensor_view& v, std::uint64_t first, std::uint64_t len) {
  if (v.data == nullptr || len == 0) return {};
  const std::uint64_t size = dtype_size(v.storage);
  const std::uint64_t inner = v.inner ? v.inner : 1, stride = std::max(v.inner_stride, inner);
  auto at = [&](std::uint64_t i) { return (i / inner) * stride + i % inner; };
  const std::uint64_t from = at(first), to = at(first + len - 1) + 1;
  return {v.data + from * size, (to - from) * size};
}

// Bytes to have asked the kernel for beyond the chunk being started: enough
// to keep the disk busy while the chunks before are summed.
constexpr std::uint64_t read_ahead_window = std::uint64_t{64} << 20;

// What each work item reads: its chunk of the sample, and its chunk of the
// benchmark (with a transposing layout, every chunk reads the whole
// benchmark record: asked for with the layer's first chunk).
std::vector<std::array<detail::byte_range, 2>> item_bytes(const std::vector<prepared>& jobs,
                                                          const std::vector<work_item>& items) {
  std::vector<std::array<detail::byte_range, 2>> out;
  out.reserve(items.size());
  for (const work_item& w : items) {
    const prepared& p = jobs[w.job];
    if (w.chunk == whole_layer) {
      out.push_back({mapped_bytes(p.sample, 0, p.sample.elements),
                     mapped_bytes(p.bench, 0, p.bench.elements)});
      continue;
    }
    const std::uint64_t first = w.chunk * detail::chunk_elements;
    const std::uint64_t len = std::min(detail::chunk_elements, p.sample.elements - first);
    detail::byte_range b;
    if (p.result.layout == layout_choice::same) {
      b = mapped_bytes(p.bench, first, len);
    } else if (w.chunk == 0) {
      b = mapped_bytes(p.bench, 0, p.bench.elements);
    }
    out.push_back({mapped_bytes(p.sample, first, len), b});
  }
  return out;
}

struct guarded_item {
  const dumps_job* ctx;
  std::uint64_t item;
};

void run_guarded_item(void* p) {
  auto* g = static_cast<guarded_item*>(p);
  const work_item& w = (*g->ctx->items)[g->item];
  const prepared& job = (*g->ctx->jobs)[w.job];
  (*g->ctx->sums)[g->item] = detail::chunk_sums(job.sample, job.bench, job.result.layout, w.chunk);
}

// Elements summed and added to the evidence a step at a time, so that the
// evidence reads what the metric kernel just read from the L2 cache, not
// from memory again.
constexpr std::uint64_t fused_step = detail::channel_pass::max_step;
static_assert(fused_step % detail::sum_lanes == 0 && detail::chunk_elements % fused_step == 0);

// A whole layer on one thread: its chunks in order, step by step, each
// chunk's sums as chunk_sums gives them, combined in chunk order. When
// the sums of the first step already make the layer suspect, every step
// goes on to the evidence pass right after the kernel (dropped if the
// first chunk's sums do not make it suspect after all). Two guarded calls:
// the first step, then (the pass allocated in between, only for a layer
// that looks suspect) the rest.
struct fused_layer {
  const prepared* job = nullptr;
  const thresholds* limits = nullptr;
  detail::metric_sums* out = nullptr;
  detail::channel_pass* pass = nullptr;  // set when the first step looked suspect
  detail::lane_sums first_sums;          // the first chunk's sums after the first step
  std::uint64_t first_step = 0;          // elements in the first step
  bool evidence = false;                 // the pass is to hold every step so far
};

void run_first_step(void* p) {
  auto* f = static_cast<fused_layer*>(p);
  f->first_step = std::min(fused_step, f->job->sample.elements);
  detail::add_same_layout(f->job->sample, f->job->bench, 0, f->first_step, f->first_sums);
  const detail::metric_sums s = detail::reduce_lanes(f->first_sums);
  f->evidence = is_suspect(detail::sums_metrics(s, f->first_step), *f->limits);
}

void run_other_steps(void* p) {
  auto* f = static_cast<fused_layer*>(p);
  const tensor_view& a = f->job->sample;
  const tensor_view& b = f->job->bench;
  if (f->evidence) f->pass->add(0, f->first_step);
  detail::metric_sums total;
  for (std::uint64_t first = 0; first < a.elements; first += detail::chunk_elements) {
    const std::uint64_t len = std::min(detail::chunk_elements, a.elements - first);
    detail::lane_sums acc = first == 0 ? f->first_sums : detail::lane_sums{};
    // Without evidence, the rest of a chunk in one call.
    for (std::uint64_t off = first == 0 ? f->first_step : 0, n = 0; off < len; off += n) {
      n = f->evidence ? std::min(fused_step, len - off) : len - off;
      detail::add_same_layout(a, b, first + off, n, acc);
      if (f->evidence) f->pass->add(first + off, n);
    }
    const detail::metric_sums s = detail::reduce_lanes(acc);
    if (first == 0) {
      f->evidence = f->evidence && is_suspect(detail::sums_metrics(s, len), *f->limits);
    }
    total.add(s);
  }
  *f->out = total;
}

// Runs item i, a whole layer, under the guard; returns where a read faulted.
const void* run_layer(const dumps_job& d, std::uint64_t i) {
  prepared& job = (*d.jobs)[(*d.items)[i].job];
  fused_layer f;
  f.job = &job;
  f.limits = &d.options->thresholds;
  f.out = &(*d.sums)[i];
  const void* fault = nullptr;
  const guard_range range{job.sample.mapped(), job.bench.mapped()};
  if (!guarded_read(range, &run_first_step, &f, &fault)) {
    return fault != nullptr ? fault : static_cast<const void*>(&d);
  }
  std::optional<detail::channel_pass> pass;  // allocated here, not under the guard
  if (f.evidence) f.pass = &pass.emplace(job.sample, job.bench, job.result.layout);
  if (!guarded_read(range, &run_other_steps, &f, &fault)) {
    return fault != nullptr ? fault : static_cast<const void*>(&d);
  }
  if (f.evidence) job.early = pass->finish();
  return nullptr;
}

void run_item(void* ctx, std::uint64_t i) {
  auto* d = static_cast<dumps_job*>(ctx);
  d->ahead->starting(i);
  guarded_item g{d, i};
  const work_item& w = (*d->items)[i];
  const prepared& job = (*d->jobs)[w.job];
  const void* fault = nullptr;
  if (w.chunk == whole_layer) {
    (*d->faulted)[i] = run_layer(*d, i);
  } else if (!guarded_read({job.sample.mapped(), job.bench.mapped()}, &run_guarded_item, &g,
                           &fault)) {
    (*d->faulted)[i] = fault != nullptr ? fault : static_cast<const void*>(d);
  }
  if (d->options->progress) {
    const bool whole = w.chunk == whole_layer;
    const std::uint64_t first = whole ? 0 : w.chunk * detail::chunk_elements;
    const std::uint64_t len =
        whole ? job.sample.elements : std::min(detail::chunk_elements, job.sample.elements - first);
    const std::uint64_t per = job.bytes / job.sample.elements;
    const std::uint64_t now = d->done->fetch_add(len * per, std::memory_order_relaxed) + len * per;
    d->options->progress(now, d->total);
  }
  const std::uint32_t j = (*d->items)[i].job;
  if ((*d->left)[j].fetch_sub(1, std::memory_order_acq_rel) == 1) finish_job(*d, j);
}

}  // namespace

result<compare_report> compare_dumps(const dump_file& sample, const dump_file& bench,
                                     const compare_options& options,
                                     const std::vector<quant_param>* quant_params) {
  if (auto e = detail::kernel_error()) return std::unexpected(std::move(*e));
  compare_report report;
  report.sample_path = sample.path();
  report.benchmark_path = bench.path();
  report.thresholds = options.thresholds;
  layer_plan plan = plan_layers(sample, bench, options);
  report.unmatched_sample = std::move(plan.unmatched_sample);
  report.unmatched_benchmark = std::move(plan.unmatched_benchmark);
  report.coverage.sample_layers = plan.sample_layers;
  report.coverage.sample_only_layers = std::move(plan.sample_only);
  report.coverage.benchmark_only = plan.benchmark_only;
  report.warnings = check_inputs(sample, bench, options);

  // Views are taken here, on one thread: text payloads are parsed by view().
  std::vector<prepared> jobs;
  jobs.reserve(plan.pairs.size());
  std::vector<work_item> items;
  std::vector<std::size_t> first_item;
  std::uint64_t total = 0, all_chunks = 0;
  for (const auto& pair : plan.pairs) {
    jobs.push_back(prepare(sample, pair.sample_record, bench, pair.bench_record, true));
    prepared& p = jobs.back();
    p.result.index = static_cast<std::uint32_t>(jobs.size() - 1);
    p.result.rule = pair.rule;
    if (!p.ready) continue;
    total += p.bytes;
    all_chunks += detail::chunk_count(p.sample.elements);
  }
  // With per-channel evidence, a layer read `same` whose chunks are a small
  // share of the work is one item (run_layer): its evidence is then summed
  // with its chunks when it looks suspect, and the threads still share
  // the work. Other layers are one item per chunk.
  const std::uint64_t threads =
      options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  std::unique_ptr<std::atomic<std::uint64_t>[]> left(new std::atomic<std::uint64_t>[jobs.size()]);
  for (std::uint32_t j = 0; j < jobs.size(); ++j) {
    const prepared& p = jobs[j];
    first_item.push_back(items.size());
    left[j] = 0;
    if (!p.ready) continue;
    const std::uint64_t chunks = detail::chunk_count(p.sample.elements);
    if (options.channel_evidence && p.result.layout == layout_choice::same &&
        (chunks == 1 || chunks * 4 * threads <= all_chunks)) {
      items.push_back({j, whole_layer});
      left[j] = 1;
      continue;
    }
    for (std::uint64_t c = 0; c < chunks; ++c) items.push_back({j, c});
    left[j] = chunks;
  }

  std::vector<detail::metric_sums> sums(items.size());
  std::unique_ptr<const void*[]> faulted(new const void*[items.size() + 1]());
  std::atomic<std::uint64_t> done{0};
  detail::read_ahead ahead(item_bytes(jobs, items), read_ahead_window);
  dumps_job ctx{&jobs, &items, &sums, &faulted, &options, &done, total, &ahead, &first_item, &left};
  detail::parallel_for(items.size(), options.threads, &run_item, &ctx);

  for (const prepared& p : jobs) {
    // (A ready job has elements, so chunks: finish_job has run for it.)
    if (p.ready && p.result.error.empty()) report.bytes_compared += p.bytes;
  }
  report.layers.reserve(jobs.size());
  for (prepared& p : jobs) report.layers.push_back(std::move(p.result));
  if (options.channel_evidence) add_channel_evidence(report, sample, bench, false, options.threads);
  summarize(report, sample, quant_params);
  return report;
}

}  // namespace sigdump
