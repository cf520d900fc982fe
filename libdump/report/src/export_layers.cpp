// The vendor's per-layer value folders (<net>_<bench>_DumpDebug_out/<N>/),
// written into a temp folder and renamed into place: never half-written.
#include "sigdump/report/export_layers.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "sigdump/mapping.h"
#include "sigdump/unique_fd.h"

namespace sigdump {

namespace {

namespace fs = std::filesystem;

std::unexpected<error> io_error(const std::string& path, const std::string& what, int err) {
  return make_error(errc::io, path, no_record, no_offset, what + ": " + std::strerror(err));
}

// An earlier export holds only numbered folders.
bool looks_like_export(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos) return false;
    if (!e.is_directory(ec)) return false;
  }
  return !ec;
}

result<void> write_values(const std::string& path, const std::string& title, const tensor_view& v,
                          layout_choice layout, bool one_per_row) {
  unique_fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) return io_error(path, "cannot create", errno);
  std::string buf = title + '\n';
  const std::uint64_t per_row = one_per_row ? 1 : 16;
  double vals[1024];
  char num[64];
  bool ok = true;
  int err = 0;
  auto flush = [&](bool force) {
    if (!ok || (!force && buf.size() < (std::size_t{1} << 16))) return;
    std::size_t off = 0;
    while (off < buf.size()) {
      const ssize_t w = ::write(fd.get(), buf.data() + off, buf.size() - off);
      if (w < 0) {
        if (errno == EINTR) continue;
        ok = false;
        err = errno;
        return;
      }
      off += static_cast<std::size_t>(w);
    }
    buf.clear();
  };
  for (std::uint64_t first = 0; first < v.elements && ok; first += 1024) {
    const std::uint64_t n = std::min<std::uint64_t>(1024, v.elements - first);
    // One SIGBUS guard per block: the file may be truncated while we read it.
    struct block_read {
      const tensor_view* v;
      layout_choice layout;
      std::uint64_t first;
      std::span<double> out;
    } blk{&v, layout, first, std::span<double>(vals, n)};
    const void* fault = nullptr;
    if (!guarded_read(
            {v.mapped()},
            [](void* p) {
              auto* x = static_cast<block_read*>(p);
              read_values(*x->v, x->layout, x->first, x->out);
            },
            &blk, &fault)) {
      fd.reset();
      ::unlink(path.c_str());
      return std::unexpected(vanished_error(v, fault));
    }
    for (std::uint64_t k = 0; k < n; ++k) {
      const std::uint64_t i = first + k;
      std::snprintf(num, sizeof num, "%.6f", vals[k]);
      buf += num;
      buf += ((i + 1) % per_row == 0 || i + 1 == v.elements) ? "\n" : ", ";
    }
    flush(false);
  }
  flush(true);
  // Closed here rather than by the owner: a failed close is reported.
  if (::close(fd.release()) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) return io_error(path, "cannot write", err);
  return {};
}

result<void> fill_export(const compare_report& report, const dump_file& sample,
                         const dump_file& bench, const fs::path& tmp, bool one_per_row) {
  for (const layer_result& l : report.layers) {
    if (!l.error.empty() || l.bench_record < 0) continue;
    auto va = sample.view(l.sample_record);
    if (!va) return std::unexpected(va.error());
    auto vb = bench.view(static_cast<std::uint32_t>(l.bench_record));
    if (!vb) return std::unexpected(vb.error());
    const fs::path d = tmp / std::to_string(l.index);
    if (::mkdir(d.c_str(), 0755) != 0) return io_error(d.string(), "cannot create folder", errno);
    auto r = write_values((d / "sample.txt").string(), l.name + ' ' + format_shape(va->shape), *va,
                          layout_choice::same, one_per_row);
    if (!r) return r;
    std::string title = l.benchmark_name + ' ' + format_shape(layout_shape(vb->shape, l.layout));
    if (l.layout != layout_choice::same) {
      title +=
          std::string(" (read ") + layout_name(l.layout) + " from " + format_shape(vb->shape) + ")";
    }
    r = write_values((d / "benchmark.txt").string(), title, *vb, l.layout, one_per_row);
    if (!r) return r;
  }
  return {};
}

}  // namespace

result<void> export_layers(const compare_report& report, const dump_file& sample,
                           const dump_file& bench, const std::string& dir, bool one_per_row) {
  const fs::path target = fs::absolute(fs::path(dir)).lexically_normal();
  fs::path parent = target.parent_path();
  std::string leaf = ".";
  leaf.append(target.filename().string()).append(".tmp-XXXXXX");
  std::string templ = (parent / leaf).string();
  if (::mkdtemp(templ.data()) == nullptr)
    return io_error(templ, "cannot create temp folder", errno);
  const fs::path tmp = templ;
  std::error_code ec;
  auto cleanup = [&] { fs::remove_all(tmp, ec); };

  if (auto r = fill_export(report, sample, bench, tmp, one_per_row); !r) {
    cleanup();
    return r;
  }
  ::chmod(tmp.c_str(), 0755);
  if (fs::exists(target, ec)) {
    if (!fs::is_directory(target, ec) || !looks_like_export(target)) {
      cleanup();
      return make_error(errc::usage, dir, no_record, no_offset,
                        "exists and is not an earlier export (only numbered folders): "
                        "refusing to replace it");
    }
    // Swap atomically, then drop the old export (now at the temp name).
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) != 0) {
      const int err = errno;
      cleanup();
      return io_error(dir, "cannot replace", err);
    }
    cleanup();
    return {};
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    const int err = errno;
    cleanup();
    return io_error(dir, "cannot rename the temp folder into place", err);
  }
  return {};
}

}  // namespace sigdump
