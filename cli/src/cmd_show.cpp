// `sigdump show`: one tensor of a dump file by name: its header fields,
// statistics of its real values and, on request, a slice of the values.
#include <charconv>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "command.h"
#include "compare_inputs.h"
#include "sigdump/channel_metrics.h"
#include "sigdump/compare.h"
#include "sigdump/dump_file.h"
#include "sigdump/json_util.h"
#include "sigdump/record_index.h"
#include "sigdump/record_json.h"
#include "sigdump/report/report_json.h"
#include "sigdump/report/report_text.h"
#include "sigdump/tensor.h"

namespace sigdump::cli {
namespace {

constexpr const char* show_help =
    R"(usage: sigdump show FILE NAME [--values A:B] [--occurrence K] [--json]
                   [--format binary|text] [--channels --against BENCHMARK]

Shows one tensor of a dump file: its header (kind and port, op index and
type, type, scale and zero point, shape, constant flag, where its payload
lies and how the payload size fits the shape) and statistics of its real
values (count, min, max, mean, std over finite values; zeros, NaN, Inf).
Real values: float payloads as stored; with isFloat: 0, integer payloads
dequantized as (q - z) * s.

NAME is matched exactly, then by the vendor's sanitized form ('/' -> '_',
':' removed). When several records carry the name (inputs and outputs of
the same tensor, repeated runs), the last output record is shown and the
others are listed; --occurrence picks another.

options:
  --values A:B            also print elements A up to (not including) B in
                          row-major order over the shape, at most 65536 of
                          them (A: alone means A..A+16, :B means 0..B)
  --occurrence K          the K-th record of that name in file order (0-based)
  --json                  one JSON object with "record", "occurrences",
                          "stats" and "values" (null unless --values)
  --format binary|text    force the variant instead of detecting it
  --channels              compare the tensor with its benchmark per channel (C of
                          NHWC, else the last axis): the layer's MSE/COS/RMSE, the
                          worst channels, outlier channels, the elements with the
                          largest |a-b| (n,h,w,c) and a table of every channel;
                          with --json, a "comparison" object (docs/compare.md)
  --against BENCHMARK     the benchmark dump for --channels; its record of the
                          same name (exact, then sanitized; the last output one)
  -h, --help              show this help

exit status: 0 shown, 1 the record exists but its values cannot be read
(unknown type, payload smaller than its shape) or, with --channels, it is
suspect against its benchmark or cannot be compared, 2 bad usage, unreadable
file, or no such name (the message lists the closest names).

examples:
  sigdump show sigma_outtensor_dump.bin conv1/bn_xx_xx
  sigdump show run.bin conv1_bn_xx_xx --values 0:32
  sigdump show run.bin data --occurrence 0 --json
  sigdump show fixed.bin conv3_1/linear/bn_xx --channels --against float.bin
)";

constexpr std::uint64_t max_values = 65536;

struct show_args {
  std::string file, name;
  bool json = false;
  parse_options options;
  std::optional<std::uint64_t> occurrence;
  bool values = false;
  std::uint64_t first = 0, last = 0;
  bool last_given = false;
  bool channels = false;
  std::string against;
};

bool parse_u64(std::string_view s, std::uint64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size() && !s.empty();
}

std::string option_value(const std::vector<std::string>& args, std::size_t& i,
                         std::string_view flag, bool& ok) {
  std::string_view a = args[i];
  ok = true;
  if (a.size() > flag.size() && a[flag.size()] == '=')
    return std::string(a.substr(flag.size() + 1));
  if (i + 1 >= args.size()) {
    ok = false;
    return {};
  }
  return args[++i];
}

std::string parse_args(const std::vector<std::string>& args, show_args& out) {
  std::vector<std::string> positional;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    auto is = [&](std::string_view flag) {
      return a == flag || (a.starts_with(flag) && a.size() > flag.size() && a[flag.size()] == '=');
    };
    bool ok = true;
    if (a == "--json") {
      out.json = true;
    } else if (is("--format")) {
      std::string v = option_value(args, i, "--format", ok);
      if (v == "binary") {
        out.options.variant = dump_variant::binary;
      } else if (v == "text") {
        out.options.variant = dump_variant::text;
      } else {
        return "--format must be 'binary' or 'text'";
      }
    } else if (a == "--channels") {
      out.channels = true;
    } else if (is("--against")) {
      out.against = option_value(args, i, "--against", ok);
      if (!ok || out.against.empty()) return "--against needs a BENCHMARK file";
    } else if (is("--occurrence")) {
      std::string v = option_value(args, i, "--occurrence", ok);
      std::uint64_t k = 0;
      if (!ok || !parse_u64(v, k)) return "--occurrence needs a number K >= 0";
      out.occurrence = k;
    } else if (is("--values")) {
      std::string v = option_value(args, i, "--values", ok);
      auto colon = v.find(':');
      if (!ok || colon == std::string::npos) return "--values needs A:B (e.g. 0:32)";
      std::string_view lhs = std::string_view(v).substr(0, colon);
      std::string_view rhs = std::string_view(v).substr(colon + 1);
      if (!lhs.empty() && !parse_u64(lhs, out.first)) return "--values: A in A:B is not a number";
      if (!rhs.empty()) {
        if (!parse_u64(rhs, out.last)) return "--values: B in A:B is not a number";
        out.last_given = true;
        if (out.last < out.first) return "--values: B must not be smaller than A";
      }
      out.values = true;
    } else if (a.size() > 1 && a.front() == '-') {
      return "unknown option '" + std::string(a) + "'; see 'sigdump show --help'";
    } else {
      positional.emplace_back(a);
    }
  }
  if (positional.size() != 2)
    return "expected FILE and NAME; usage: sigdump show FILE NAME [--values A:B] [--json]";
  out.file = positional[0];
  out.name = positional[1];
  if (out.channels && out.against.empty()) return "--channels needs --against BENCHMARK";
  if (!out.channels && !out.against.empty()) return "--against goes with --channels";
  if (out.values && !out.last_given) out.last = out.first + 16;
  return {};
}

void print_channels(const layer_result& l, const std::string& bench_path) {
  std::printf("channels against %s record %lld (layout %s)\n", bench_path.c_str(),
              static_cast<long long>(l.bench_record), layout_name(l.layout));
  if (!l.error.empty()) {
    std::printf("  not comparable: %s\n", l.error.c_str());
    return;
  }
  std::printf("  MSE: %f COS: %f RMSE: %f%s\n", l.metrics.mse, l.metrics.cos, l.metrics.rmse,
              l.suspect ? "  (suspect)" : "");
  const channel_evidence& ev = *l.channels;
  std::fputs(channel_text(ev, l.shape, "  ").c_str(), stdout);
  if (ev.per_channel.empty()) return;
  std::printf("  %6s %10s %10s %12s %12s %12s\n", "c", "COS", "RMSE", "MSE", "max|a-b|", "peak");
  for (const auto& c : ev.per_channel) {
    std::printf("  %6u %10.6f %10.6f %12.6g %12.6g %12.6g%s\n", c.channel, c.cos, c.rmse, c.mse,
                c.max_abs, c.peak, c.all_zero ? "  (zero on both sides)" : "");
  }
}

std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

int run_show(const std::vector<std::string>& args) {
  show_args a;
  if (auto err = parse_args(args, a); !err.empty()) return fail(err);
  auto f = dump_file::open(a.file, a.options);
  if (!f) return fail(f.error().describe());
  auto tail = f->parser().tail_error();
  if (f->records().empty() && tail && tail->code == errc::not_a_dump) return fail(tail->describe());
  if (tail) warn(tail->describe() + " (a dump still being written, or cut)");

  const auto& recs = f->records();
  auto ids = f->index().find(recs, a.name);
  bool sanitized = false;
  if (ids.empty()) {
    ids = f->index().find_sanitized(recs, a.name);
    sanitized = !ids.empty();
  }
  if (ids.empty()) {
    std::string msg = a.file + ": no record named '" + a.name + "'";
    auto near = closest_names(recs, a.name, 5);
    if (!near.empty()) {
      msg += "; closest names:";
      for (std::size_t i = 0; i < near.size(); ++i) msg += (i ? ", '" : " '") + near[i] + "'";
    } else {
      msg += " (" + std::to_string(recs.size()) + " records; see 'sigdump ls " + a.file + "')";
    }
    return fail(msg);
  }
  std::uint32_t chosen = ids.back();
  if (a.occurrence) {
    if (*a.occurrence >= ids.size()) {
      return fail(a.file + ": '" + a.name + "' occurs " + std::to_string(ids.size()) +
                  " time(s); --occurrence must be below that");
    }
    chosen = ids[static_cast<std::size_t>(*a.occurrence)];
  } else {
    for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
      if (recs[*it].kind == record_kind::out) {
        chosen = *it;
        break;
      }
    }
  }
  const record& r = recs[chosen];

  std::optional<tensor_view> view;
  std::string read_error;
  if (auto v = f->view(chosen)) {
    view = std::move(*v);
  } else {
    read_error = v.error().describe();
  }
  std::optional<tensor_stats> stats;
  // Checked reads: a file truncated while we read it is an error, not SIGBUS.
  if (view) {
    if (auto st = compute_stats_checked(*view)) {
      stats = *st;
    } else {
      read_error = st.error().describe();
      view.reset();
    }
  }
  std::vector<double> values;
  std::uint64_t first = 0;
  if (view && a.values) {
    first = std::min(a.first, view->elements);
    std::uint64_t last = std::min({a.last, view->elements, first + max_values});
    values.resize(static_cast<std::size_t>(last - first));
    if (auto ok = view->read_checked(first, values); !ok) {
      read_error = ok.error().describe();
      view.reset();
      stats.reset();
      values.clear();
    }
  }
  const bool dequantized = view ? view->dequantize : (!f->is_float() && r.type != dtype::f32);
  std::optional<layer_result> channels;
  if (a.channels && view) {
    channels.emplace();
    if (auto err = compare_channels(*f, chosen, a.against, *channels); !err.empty()) {
      return fail(err);
    }
  }

  if (a.json) {
    json_writer w;
    w.begin_object();
    w.field("file", f->path());
    w.field("is_float", f->is_float());
    w.key("record").begin_object();
    write_record_fields(w, r, true);
    w.field("dequantized", dequantized);
    w.end_object();
    w.field("matched", sanitized ? "sanitized" : "exact");
    w.key("occurrences").begin_array();
    for (auto id : ids) w.value(static_cast<std::uint64_t>(id));
    w.end_array();
    if (stats) {
      w.key("stats");
      write_stats_json(w, *stats);
    } else {
      w.field_null("stats");
    }
    if (view && a.values) {
      w.key("values").begin_object().field("first", first).key("data").begin_array();
      for (double v : values) w.value(v);
      w.end_array().end_object();
    } else {
      w.field_null("values");
    }
    if (channels) w.key("comparison").raw(layer_json(*channels));
    if (!read_error.empty()) {
      w.field("error", read_error);
    }
    w.end_object();
    std::cout << w.str() << '\n';
    if (channels && (channels->suspect || !channels->error.empty())) return exit_findings;
    return view ? exit_ok : exit_findings;
  }

  std::cout << "record " << r.index << ": " << r.name << '\n';
  if (sanitized) std::cout << "  (matched by sanitized name '" << sanitize_name(a.name) << "')\n";
  std::cout << "  kind        " << (r.kind == record_kind::out ? "out " : "in ") << r.port
            << (r.constant ? "  (constant: bConstant:1)" : "") << '\n';
  std::cout << "  op          " << r.op_index << ' ' << r.op_type << '\n';
  std::cout << "  type        " << r.type_name << "  (payload " << dtype_short_name(r.storage);
  if (r.storage == dtype::unknown) {
    std::cout << ", unknown";
  } else if (dequantized) {
    std::cout << ", real = (q - " << r.zero_point << ") * " << number(r.scale);
  } else {
    std::cout << ", s: " << number(r.scale) << " z: " << r.zero_point << " unused";
  }
  std::cout << ")\n";
  std::cout << "  shape       " << format_shape(r.shape) << "  (" << r.elements << " elements)\n";
  std::cout << "  payload     offset " << r.payload_offset << ", " << r.payload_bytes << " bytes";
  switch (r.fit) {
    case payload_fit::exact: break;
    case payload_fit::unpadded_inner:
      std::cout << " (innermost dimension padded to " << r.inner_stride << "; padding skipped)";
      break;
    case payload_fit::truncated:
      std::cout << " (more than the shape needs; first " << r.elements << " elements used)";
      break;
    case payload_fit::too_small: std::cout << " (fewer than the shape needs)"; break;
  }
  std::cout << '\n';
  if (ids.size() > 1) {
    std::cout << "  occurs      " << ids.size() << " times, records";
    for (auto id : ids) {
      std::cout << ' ' << id << '(' << (recs[id].kind == record_kind::out ? "out" : "in") << ')';
    }
    std::cout << "; showing record " << r.index << " (--occurrence K picks another)\n";
  }
  if (!view) {
    std::cout << "  values      cannot be read: " << (r.problem.empty() ? read_error : r.problem)
              << '\n';
    return exit_findings;
  }
  std::cout << "stats\n";
  std::cout << "  count " << stats->count << "  min " << number(stats->min) << "  max "
            << number(stats->max) << "  mean " << number(stats->mean) << "  std "
            << number(stats->std) << '\n';
  std::cout << "  zeros " << stats->zeros << "  nan " << stats->nans << "  inf " << stats->infs
            << '\n';
  if (a.values) {
    std::cout << "values [" << first << ", " << first + values.size() << ")";
    if (a.last > first + values.size() && first + values.size() == view->elements) {
      std::cout << " (the tensor has " << view->elements << " elements)";
    } else if (a.last > first + values.size()) {
      std::cout << " (at most " << max_values << " at a time)";
    }
    std::cout << '\n';
    for (std::size_t i = 0; i < values.size(); i += 8) {
      std::string line = "  [" + std::to_string(first + i) + "]";
      for (std::size_t k = i; k < values.size() && k < i + 8; ++k) line += ' ' + number(values[k]);
      std::cout << line << '\n';
    }
  }
  if (channels) {
    std::cout.flush();
    print_channels(*channels, a.against);
    std::fflush(stdout);
    if (channels->suspect || !channels->error.empty()) return exit_findings;
  }
  return exit_ok;
}

const command_registrar reg{
    command{"show", "one tensor of a dump file: header, stats, values", show_help, run_show, true}};

}  // namespace
}  // namespace sigdump::cli
