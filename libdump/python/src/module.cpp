// sigdump._core: the C++ half of the Python package (libdump/python/sigdump
// is the other). Dumps are opened and parsed by libdump; binary payloads are
// handed to numpy as views on the memory mapping, integer payloads are
// dequantized here under libdump's SIGBUS guard; comparisons run without the
// GIL and come back as the JSON `sigdump compare --json` prints.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sigdump/compare.h"
#include "sigdump/dump_file.h"
#include "sigdump/name_map.h"
#include "sigdump/quant_params.h"
#include "sigdump/record.h"
#include "sigdump/record_json.h"
#include "sigdump/report/metric_chart.h"
#include "sigdump/report/report_json.h"
#include "sigdump/tensor.h"
#include "vanish_guard.h"

namespace py = pybind11;

namespace sigdump::python {
namespace {

// A libdump error on its way to Python: sigdump.Error, or its subclasses
// TruncatedError and NotFoundError (defined in sigdump/_errors.py).
struct failure {
  sigdump::error err;
};

[[noreturn]] void fail(sigdump::error e) { throw failure{std::move(e)}; }

void translate(const failure& f) {
  py::module_ errors = py::module_::import("sigdump._errors");
  const char* cls = f.err.code == errc::truncated   ? "TruncatedError"
                    : f.err.code == errc::not_found ? "NotFoundError"
                                                    : "Error";
  py::object type = errors.attr(cls);
  py::object record = f.err.record == no_record ? py::none() : py::cast(f.err.record);
  py::object offset = f.err.offset == no_offset ? py::none() : py::cast(f.err.offset);
  py::object file = f.err.file.empty() ? py::none() : py::cast(f.err.file);
  py::object name = f.err.record_name.empty() ? py::none() : py::cast(f.err.record_name);
  py::object exc = type(f.err.describe(), errc_name(f.err.code), file, record, name, offset);
  PyErr_SetObject(type.ptr(), exc.ptr());
}

std::optional<dump_variant> parse_format(const std::optional<std::string>& f) {
  if (!f) return std::nullopt;
  if (*f == "binary") return dump_variant::binary;
  if (*f == "text") return dump_variant::text;
  throw py::value_error("format: expected 'binary' or 'text', got '" + *f + "'");
}

py::dtype numpy_dtype(dtype t) {
  switch (t) {
    case dtype::f32: return py::dtype("<f4");
    case dtype::u8: return py::dtype("u1");
    case dtype::s8: return py::dtype("i1");
    case dtype::u16: return py::dtype("<u2");
    case dtype::s16: return py::dtype("<i2");
    case dtype::s32: return py::dtype("<i4");
    case dtype::boolean: return py::dtype("u1");
    case dtype::unknown: break;
  }
  throw py::value_error("record of unknown type has no numpy dtype");
}

// What a numpy view over a mapping keeps alive (its `base`), and what
// Tensor.check() asks whether the viewed bytes are still in the file.
struct view_source {
  std::shared_ptr<exposed_mapping> exposed;
  std::shared_ptr<const std::vector<float>> text;              // text payloads instead
  std::shared_ptr<const std::vector<std::int32_t>> text_ints;  // integer text payloads
  std::uint64_t offset = 0, bytes = 0;
  std::int64_t record = no_record;
  std::string name;

  void check() const {
    if (!exposed) return;
    const auto& map = *exposed->map();
    if (exposed->vanished()) {
      fail(sigdump::error{errc::truncated, map.path(), record, name, exposed->vanished_from(),
                          "file shrank while being read: the bytes from this offset are gone"});
    }
    if (bytes > 0 && !map.probe(offset + bytes - 1, 1)) {
      fail(sigdump::error{errc::truncated, map.path(), record, name, offset + bytes - 1,
                          "file shrank while being read: the record's last byte is gone"});
    }
  }
};

std::vector<py::ssize_t> to_ssize(const std::vector<std::int64_t>& v) {
  return {v.begin(), v.end()};
}

// Byte strides of a record's elements in the file: row-major over its shape,
// rows (the innermost dimension) inner_stride elements apart.
std::vector<py::ssize_t> file_strides(const tensor_view& v, std::size_t item) {
  const std::size_t n = v.shape.size();
  std::vector<py::ssize_t> s(n);
  if (n == 0) return s;
  s[n - 1] = static_cast<py::ssize_t>(item);
  if (n >= 2) s[n - 2] = static_cast<py::ssize_t>(v.inner_stride * item);
  for (std::size_t k = n - 2; n >= 3 && k-- > 0;) {
    s[k] = s[k + 1] * static_cast<py::ssize_t>(v.shape[k + 1]);
  }
  return s;
}

py::array read_only(py::array a) {
  a.attr("setflags")(py::arg("write") = false);
  return a;
}

// Real values of a dequantized view, computed under libdump's guard.
py::array dequantized(const tensor_view& v) {
  py::array_t<double> out(to_ssize(v.shape));
  double* dst = out.mutable_data();
  std::optional<sigdump::error> err;
  {
    py::gil_scoped_release nogil;
    constexpr std::uint64_t chunk = 1 << 16;
    for (std::uint64_t first = 0; first < v.elements; first += chunk) {
      const std::uint64_t n = std::min(chunk, v.elements - first);
      auto ok = v.read_checked(first, std::span<double>(dst + first, n));
      if (!ok) {
        err = std::move(ok.error());
        break;
      }
    }
  }
  if (err) fail(std::move(*err));
  return read_only(out);
}

class dump_core {
 public:
  static std::unique_ptr<dump_core> open(const std::string& path,
                                         const std::optional<std::string>& format) {
    parse_options opts;
    opts.variant = parse_format(format);
    result<dump_file> f = [&] {
      py::gil_scoped_release nogil;
      return dump_file::open(path, opts);
    }();
    if (!f) fail(std::move(f.error()));
    auto d = std::unique_ptr<dump_core>(new dump_core(std::move(*f)));
    d->expose();
    return d;
  }

  const dump_file& file() const { return file_; }
  std::size_t size() const { return file_.records().size(); }

  const record& at(std::int64_t i) const {
    const auto n = static_cast<std::int64_t>(size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) throw py::index_error("record index out of range");
    return file_.records()[static_cast<std::size_t>(i)];
  }

  /* Records named `name` in file order: exact matches, else sanitized. */
  std::vector<std::uint32_t> find(const std::string& name) const {
    auto ids = file_.index().find(file_.records(), name);
    if (ids.empty()) ids = file_.index().find_sanitized(file_.records(), name);
    return ids;
  }

  std::vector<std::string> closest(const std::string& name) const {
    return closest_names(file_.records(), name);
  }

  std::string refresh() {
    result<dump_file::refresh_status> s = [&] {
      py::gil_scoped_release nogil;
      return file_.refresh();
    }();
    if (!s) fail(std::move(s.error()));
    expose();
    switch (*s) {
      case dump_file::refresh_status::unchanged: return "unchanged";
      case dump_file::refresh_status::grew: return "grew";
      case dump_file::refresh_status::reset: return "reset";
    }
    return "unchanged";
  }

  py::object pending() const {
    const auto& p = file_.pending();
    if (!p) return py::none();
    py::dict d;
    d["offset"] = p->offset;
    d["record"] = p->record;
    d["name"] = p->name.empty() ? py::object(py::none()) : py::cast(p->name);
    d["needed"] = p->needed;
    d["available"] = p->available;
    return d;
  }

  /* (values, raw) of record i: numpy arrays in the record's shape. */
  py::tuple arrays(std::int64_t index) const {
    const record& r = at(index);
    auto v = file_.view(r.index);
    if (!v) {
      // view() probes the payload's pages: missing ones are a truncation.
      if (v.error().code == errc::io && r.payload_bytes > 0 &&
          !file_.current_mapping()->probe(r.payload_offset, r.payload_bytes)) {
        v.error().code = errc::truncated;
      }
      fail(std::move(v.error()));
    }
    auto src = std::make_shared<view_source>();
    src->record = r.index;
    src->name = r.name;
    if (v->text) {
      src->text = v->text;
      py::object base = py::cast(src);
      py::array q(py::dtype("<f4"), to_ssize(v->shape), file_strides(*v, 4), v->text->data(), base);
      q = read_only(q);
      if (!v->dequantize) return py::make_tuple(q, q);
      return py::make_tuple(dequantized(*v), q);
    }
    if (v->text_ints) {
      src->text_ints = v->text_ints;
      py::object base = py::cast(src);
      py::array q(py::dtype("<i4"), to_ssize(v->shape), file_strides(*v, 4), v->text_ints->data(),
                  base);
      q = read_only(q);
      if (!v->dequantize) return py::make_tuple(q, q);
      return py::make_tuple(dequantized(*v), q);
    }
    src->exposed = exposed_;
    src->offset = r.payload_offset;
    src->bytes = r.payload_bytes;
    src->check();
    const std::size_t item = dtype_size(v->storage);
    py::object base = py::cast(src);
    py::array raw(numpy_dtype(v->storage), to_ssize(v->shape), file_strides(*v, item), v->data,
                  base);
    raw = read_only(raw);
    if (!v->dequantize) return py::make_tuple(raw, raw);
    return py::make_tuple(dequantized(*v), raw);
  }

  py::dict stats(std::int64_t index) const {
    const record& r = at(index);
    auto v = file_.view(r.index);
    if (!v) fail(std::move(v.error()));
    result<tensor_stats> s = [&] {
      py::gil_scoped_release nogil;
      return compute_stats_checked(*v);
    }();
    if (!s) fail(std::move(s.error()));
    py::dict d;
    d["count"] = s->count;
    d["min"] = s->min;
    d["max"] = s->max;
    d["mean"] = s->mean;
    d["std"] = s->std;
    d["zeros"] = s->zeros;
    d["nan"] = s->nans;
    d["inf"] = s->infs;
    return d;
  }

 private:
  explicit dump_core(dump_file f) : file_(std::move(f)) {}
  void expose() {
    auto map = file_.current_mapping();
    if (exposed_ && exposed_->map() == map) return;
    auto e = exposed_mapping::of(std::move(map));
    if (!e) fail(std::move(e.error()));
    exposed_ = std::move(*e);
  }
  dump_file file_;
  std::shared_ptr<exposed_mapping> exposed_;
};

// One comparison: the report, rendered on request.
struct report_core {
  compare_report report;
  std::vector<std::string> warnings;
};

std::unique_ptr<report_core> compare(
    const std::string& sample, const std::string& benchmark, std::optional<double> cos_min,
    std::optional<double> rmse_max, bool include_constants, bool include_inputs,
    std::optional<std::unordered_map<std::string, std::string>> name_map,
    std::optional<std::string> name_map_file, std::optional<std::string> quant_params_file,
    unsigned threads, const std::optional<std::string>& format_sample,
    const std::optional<std::string>& format_benchmark) {
  compare_options options;
  options.channel_evidence = true;  // as `sigdump compare --json` prints
  if (cos_min) options.thresholds.cos_min = *cos_min;
  if (rmse_max) options.thresholds.rmse_max = *rmse_max;
  options.include_constants = include_constants;
  options.include_inputs = include_inputs;
  options.threads = threads;
  parse_options sample_format, bench_format;
  sample_format.variant = parse_format(format_sample);
  bench_format.variant = parse_format(format_benchmark);
  auto out = std::make_unique<report_core>();
  std::optional<sigdump::error> err;
  {
    py::gil_scoped_release nogil;
    [&] {
      if (name_map_file) {
        auto m = load_name_map(*name_map_file);
        if (!m) return void(err = std::move(m.error()));
        options.name_map = std::move(*m);
      }
      if (name_map) {
        for (auto& [k, v] : *name_map) options.name_map[k] = v;
      }
      std::optional<std::vector<quant_param>> qp;
      if (quant_params_file) {
        auto q = load_quant_params(*quant_params_file);
        if (!q) return void(err = std::move(q.error()));
        qp = std::move(*q);
      }
      auto s = dump_file::open(sample, sample_format);
      if (!s) return void(err = std::move(s.error()));
      auto b = dump_file::open(benchmark, bench_format);
      if (!b) return void(err = std::move(b.error()));
      for (const dump_file* f : {&*s, &*b}) {
        if (auto tail = f->parser().tail_error()) {
          out->warnings.push_back(tail->describe() + " (compared the complete records only)");
        }
      }
      auto r = compare_dumps(*s, *b, options, qp ? &*qp : nullptr);
      if (!r) return void(err = std::move(r.error()));
      out->report = std::move(*r);
    }();
  }
  if (err) fail(std::move(*err));
  return out;
}

py::dict record_dict(const record& r) {
  json_writer w;
  w.begin_object();
  write_record_fields(w, r, true);
  w.end_object();
  return py::module_::import("json").attr("loads")(w.str());
}

}  // namespace
}  // namespace sigdump::python

PYBIND11_MODULE(_core, m) {
  using namespace sigdump;
  using namespace sigdump::python;
  m.doc() = "C++ core of sigdump (libdump); use the sigdump package, not this module.";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const failure& f) {
      translate(f);
    }
  });

  py::class_<record>(m, "Record", "One record (tensor) of a dump: its header and where it lies.")
      .def_property_readonly(
          "index", [](const record& r) { return r.index; }, "0-based position in the file")
      .def_property_readonly(
          "kind", [](const record& r) { return r.kind == record_kind::out ? "out" : "in"; },
          "'out' or 'in'")
      .def_property_readonly(
          "output", [](const record& r) { return r.port; }, "K of '//out K' / '//in K'")
      .def_property_readonly("op_index", [](const record& r) { return r.op_index; })
      .def_property_readonly(
          "op", [](const record& r) { return r.op_type; }, "op type")
      .def_property_readonly("name", [](const record& r) { return r.name; })
      .def_property_readonly("sanitized_name",
                             [](const record& r) { return sanitize_name(r.name); })
      .def_property_readonly("shape", [](const record& r) { return py::tuple(py::cast(r.shape)); })
      .def_property_readonly(
          "type", [](const record& r) { return r.type_name; },
          "type: as written ('SGS_S16', 'float', ...)")
      .def_property_readonly("dtype", [](const record& r) { return dtype_short_name(r.type); })
      .def_property_readonly(
          "storage", [](const record& r) { return dtype_short_name(r.storage); },
          "element type of the payload bytes")
      .def_property_readonly("scale", [](const record& r) { return r.scale; })
      .def_property_readonly("zero_point", [](const record& r) { return r.zero_point; })
      .def_property_readonly("constant", [](const record& r) { return r.constant; })
      .def_property_readonly(
          "offset", [](const record& r) { return r.payload_offset; },
          "byte offset of the payload in the file")
      .def_property_readonly("bytes", [](const record& r) { return r.payload_bytes; })
      .def_property_readonly("header_offset", [](const record& r) { return r.header_offset; })
      .def_property_readonly("end_offset", [](const record& r) { return r.end_offset; })
      .def_property_readonly("elements", [](const record& r) { return r.elements; })
      .def_property_readonly("fit", [](const record& r) { return payload_fit_name(r.fit); })
      .def_property_readonly("problem",
                             [](const record& r) -> py::object {
                               if (r.problem.empty()) return py::none();
                               return py::cast(r.problem);
                             })
      .def("to_dict", &record_dict, "The record object of `sigdump ls --json` (details included).")
      .def("__repr__", [](const record& r) {
        return "<Record " + std::to_string(r.index) + " " +
               (r.kind == record_kind::out ? "out" : "in") + " " + r.name + " " + r.type_name +
               " " + format_shape(r.shape) + ">";
      });

  py::class_<view_source, std::shared_ptr<view_source>>(m, "_ViewSource")
      .def("check", &view_source::check);

  py::class_<dump_core>(m, "_Dump")
      .def_static("open", &dump_core::open, py::arg("path"), py::arg("format") = py::none())
      .def("__len__", &dump_core::size)
      .def("record", &dump_core::at, py::arg("index"), py::return_value_policy::copy)
      .def("records",
           [](const dump_core& d) {
             py::list out(d.size());
             for (std::size_t i = 0; i < d.size(); ++i) out[i] = py::cast(d.file().records()[i]);
             return out;
           })
      .def("find", &dump_core::find)
      .def("closest", &dump_core::closest)
      .def("refresh", &dump_core::refresh)
      .def("arrays", &dump_core::arrays)
      .def("stats", &dump_core::stats)
      .def_property_readonly("path", [](const dump_core& d) { return d.file().path(); })
      .def_property_readonly("is_float", [](const dump_core& d) { return d.file().is_float(); })
      .def_property_readonly("variant",
                             [](const dump_core& d) {
                               return d.file().variant() == dump_variant::text ? "text" : "binary";
                             })
      .def_property_readonly("pending", &dump_core::pending)
      .def_property_readonly("size_bytes",
                             [](const dump_core& d) { return d.file().current_mapping()->size(); });

  py::class_<report_core>(m, "_Report")
      .def("json", [](const report_core& r) { return report_json(r.report); })
      .def(
          "chart_svg",
          [](const report_core& r, bool standalone, bool link_rows) {
            chart_options o;
            o.standalone = standalone;
            o.link_rows = link_rows;
            return render_metric_chart_svg(r.report, o);
          },
          py::arg("standalone") = false, py::arg("link_rows") = false)
      .def_readonly("warnings", &report_core::warnings);

  m.def("compare", &compare, py::arg("sample"), py::arg("benchmark"), py::arg("cos_min"),
        py::arg("rmse_max"), py::arg("include_constants"), py::arg("include_inputs"),
        py::arg("name_map"), py::arg("name_map_file"), py::arg("quant_params_file"),
        py::arg("threads"), py::arg("format_sample"), py::arg("format_benchmark"));
  m.def("sanitize_name", [](const std::string& s) { return sanitize_name(s); });
  m.def("_capture_previous_handler", &capture_previous_handler);
  m.def("_install_fault_handler", &install_fault_handler, py::arg("patch"));
  m.def("_take_vanished", [] {
    py::list out;
    for (auto& v : take_vanished()) out.append(py::make_tuple(v.path, v.from));
    return out;
  });
}
