// Running a layer's metrics: its chunks summed on worker threads
// (parallel_for), each under the SIGBUS guard so a page the writer cut away
// is an error naming the record and offset, chunks summed earlier reused
// (a layer streamed while it was written), and the sums combined in chunk
// order, so the result is the same for any thread count. One chunk alone:
// compute_chunk. The sums of a chunk are metrics.cpp's.
#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "metrics_kernel.h"
#include "sigdump/mapping.h"
#include "sigdump/metrics.h"
#include "sigdump/record.h"

namespace sigdump {

namespace detail {

void parallel_for(std::uint64_t count, unsigned threads, void (*fn)(void*, std::uint64_t),
                  void* ctx) {
  unsigned t = threads ? threads : std::max(1u, std::thread::hardware_concurrency());
  if (count < t) t = static_cast<unsigned>(count);
  if (t <= 1) {
    for (std::uint64_t i = 0; i < count; ++i) fn(ctx, i);
    return;
  }
  std::atomic<std::uint64_t> next{0};
  auto work = [&] {
    for (;;) {
      const std::uint64_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= count) return;
      fn(ctx, i);
    }
  };
  std::vector<std::jthread> pool;
  pool.reserve(t - 1);
  for (unsigned k = 1; k < t; ++k) pool.emplace_back(work);
  work();
}

}  // namespace detail

namespace {

struct metrics_job {
  const tensor_view* sample;
  const tensor_view* bench;
  layout_choice layout;
  detail::metric_sums* out;
  const void** faulted;  // per chunk: null, or where the guard caught a fault
};

struct guarded_chunk {
  const metrics_job* job;
  std::uint64_t chunk;
};

void run_guarded_chunk(void* p) {
  auto* g = static_cast<guarded_chunk*>(p);
  g->job->out[g->chunk] =
      detail::chunk_sums(*g->job->sample, *g->job->bench, g->job->layout, g->chunk);
}

void run_metrics_chunk(void* ctx, std::uint64_t chunk) {
  auto* job = static_cast<metrics_job*>(ctx);
  guarded_chunk g{job, chunk};
  const void* fault = nullptr;
  if (!guarded_read({job->sample->mapped(), job->bench->mapped()}, &run_guarded_chunk, &g,
                    &fault)) {
    // Never null: a lost page has an address (and a null one would be the
    // sample's anyway).
    job->faulted[chunk] = fault != nullptr ? fault : static_cast<const void*>(job);
  }
}

}  // namespace

error detail::vanished_error(const tensor_view& sample, const tensor_view& bench,
                             const void* fault_address) {
  const bool in_bench = bench.owner && bench.owner->offset_of(fault_address) != no_offset;
  return sigdump::vanished_error(in_bench ? bench : sample, fault_address);
}

void partial_sums::add(const partial_sums& o) noexcept {
  ab += o.ab;
  aa += o.aa;
  bb += o.bb;
  dd += o.dd;
  abs_d += o.abs_d;
  abs_b += o.abs_b;
  max_d = std::max(max_d, o.max_d);
  max_nan = max_nan || o.max_nan;
}

std::uint64_t compare_chunk_elements() noexcept { return detail::chunk_elements; }

result<partial_sums> compute_chunk(const tensor_view& sample, const tensor_view& bench,
                                   std::uint64_t chunk) {
  if (auto e = detail::kernel_error()) return std::unexpected(std::move(*e));
  if (sample.elements != bench.elements) {
    return make_error(errc::mismatch, {}, no_record, no_offset,
                      "element count differs: sample has " + std::to_string(sample.elements) +
                          ", benchmark " + std::to_string(bench.elements));
  }
  if (chunk >= detail::chunk_count(sample.elements)) {
    return make_error(errc::usage, {}, no_record, no_offset,
                      "chunk " + std::to_string(chunk) + " of a layer of " +
                          std::to_string(sample.elements) + " elements");
  }
  struct call {
    const tensor_view* sample;
    const tensor_view* bench;
    std::uint64_t chunk;
    partial_sums out;
  } c{&sample, &bench, chunk, {}};
  const void* fault = nullptr;
  if (!guarded_read(
          {sample.mapped(), bench.mapped()},
          [](void* p) {
            auto* x = static_cast<call*>(p);
            x->out = detail::chunk_sums(*x->sample, *x->bench, layout_choice::same, x->chunk);
          },
          &c, &fault)) {
    return std::unexpected(detail::vanished_error(sample, bench, fault));
  }
  return c.out;
}

result<layer_metrics> compute_metrics(const tensor_view& sample, const tensor_view& bench,
                                      layout_choice layout, unsigned threads) {
  return detail::compute_metrics_reusing(sample, bench, layout, threads, nullptr);
}

result<layer_metrics> detail::compute_metrics_reusing(const tensor_view& sample,
                                                      const tensor_view& bench,
                                                      layout_choice layout, unsigned threads,
                                                      const chunk_sums_so_far* done) {
  if (auto e = detail::kernel_error()) return std::unexpected(std::move(*e));
  if (sample.elements != bench.elements) {
    return make_error(errc::mismatch, {}, no_record, no_offset,
                      "element count differs: sample " + format_shape(sample.shape) + " has " +
                          std::to_string(sample.elements) + ", benchmark " +
                          format_shape(bench.shape) + " has " + std::to_string(bench.elements));
  }
  if (sample.elements == 0) {
    return make_error(errc::mismatch, {}, no_record, no_offset, "no elements to compare");
  }
  if (layout != layout_choice::same && bench.shape.size() != 4) {
    return make_error(errc::mismatch, {}, no_record, no_offset,
                      std::string("layout ") + layout_name(layout) + " needs a 4-D benchmark");
  }
  const std::uint64_t chunks = detail::chunk_count(sample.elements);
  std::vector<detail::metric_sums> sums(chunks);
  std::unique_ptr<const void*[]> faulted(new const void*[chunks]());
  // Chunks summed earlier (only ever for the `same` layout) are not read again.
  std::vector<std::uint64_t> missing;
  const bool reuse = done != nullptr && layout == layout_choice::same;
  for (std::uint64_t c = 0; c < chunks; ++c) {
    if (reuse && c < done->size() && (*done)[c]) {
      sums[c] = *(*done)[c];
    } else {
      missing.push_back(c);
    }
  }
  metrics_job job{&sample, &bench, layout, sums.data(), faulted.get()};
  if (missing.size() == chunks) {
    detail::parallel_for(chunks, threads, &run_metrics_chunk, &job);
  } else {
    struct subset {
      metrics_job* job;
      const std::vector<std::uint64_t>* which;
    } sub{&job, &missing};
    detail::parallel_for(
        missing.size(), threads,
        [](void* p, std::uint64_t i) {
          auto* x = static_cast<subset*>(p);
          run_metrics_chunk(x->job, (*x->which)[i]);
        },
        &sub);
  }
  detail::metric_sums total;
  for (std::uint64_t c = 0; c < chunks; ++c) {
    if (faulted[c] != nullptr) {
      return std::unexpected(detail::vanished_error(sample, bench, faulted[c]));
    }
    total.add(sums[c]);
  }
  return detail::finish_metrics(total, sample, bench, layout);
}

}  // namespace sigdump
