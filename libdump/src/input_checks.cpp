#include "sigdump/input_checks.h"

#include <sys/stat.h>

#include <cstring>

#include "sigdump/matching.h"

namespace sigdump {

namespace {

input_warning warning(std::string code, const std::string& file, std::string message,
                      const record* r = nullptr) {
  input_warning w;
  w.code = std::move(code);
  w.where.code = errc::mismatch;
  w.where.file = file;
  w.where.message = std::move(message);
  if (r != nullptr) {
    w.where.record = r->index;
    w.where.record_name = r->name;
    w.where.offset = r->header_offset;
  }
  return w;
}

struct equal_bytes {
  const std::byte* a;
  const std::byte* b;
  std::size_t n;
  bool equal = false;
};

void compare_bytes(void* p) {
  auto* e = static_cast<equal_bytes*>(p);
  e->equal = std::memcmp(e->a, e->b, e->n) == 0;
}

bool same_file(const dump_file& a, const dump_file& b, bool compare_content) {
  struct stat sa {
  }, sb{};
  if (::stat(a.path().c_str(), &sa) == 0 && ::stat(b.path().c_str(), &sb) == 0 &&
      sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino) {
    return true;
  }
  if (!compare_content) return false;
  const auto ba = a.current_mapping()->bytes(), bb = b.current_mapping()->bytes();
  if (ba.size() != bb.size() || ba.empty()) return false;
  // Under the SIGBUS guard: a file truncated meanwhile is "not identical".
  equal_bytes e{ba.data(), bb.data(), ba.size()};
  return guarded_read({ba, bb}, &compare_bytes, &e) && e.equal;
}

void zero_scales(const dump_file& f, const compare_options& options,
                 std::vector<input_warning>& out) {
  if (f.is_float()) return;
  for (const record& r : f.records()) {
    if (r.type == dtype::f32 || r.type == dtype::unknown || r.scale != 0) continue;
    if (!is_compared(r, options)) continue;
    out.push_back(warning("zero_scale", f.path(),
                          "scale 0 (s: 0) in an isFloat: 0 file: every value of this " +
                              std::string(dtype_vendor_name(r.type)) +
                              " record reads as 0, so it compares as all zero",
                          &r));
  }
}

}  // namespace

std::vector<input_warning> check_inputs(const dump_file& sample, const dump_file& bench,
                                        const compare_options& options, bool compare_content) {
  std::vector<input_warning> out;
  if (sample.is_float() && !bench.is_float()) {
    out.push_back(warning("swapped_arguments", sample.path(),
                          "the sample is a float dump (isFloat: 1) and the benchmark " +
                              bench.path() +
                              " a fixed-point one (isFloat: 0): the arguments are probably "
                              "swapped (the model under test comes first, its reference second)"));
  }
  if (same_file(sample, bench, compare_content)) {
    out.push_back(warning("identical_files", sample.path(),
                          "the sample and the benchmark " + bench.path() +
                              " are the same file or hold the same bytes: every layer will "
                              "match exactly, whatever the model does"));
  }
  zero_scales(sample, options, out);
  zero_scales(bench, options, out);
  return out;
}

}  // namespace sigdump
