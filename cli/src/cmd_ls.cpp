// `sigdump ls`: every record of a dump file, one row each, as the parser
// sees it, plus a summary (records, payload bytes, a cut tail).
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "command.h"
#include "sigdump/dump_file.h"
#include "sigdump/json_util.h"
#include "sigdump/record_json.h"

namespace sigdump::cli {
namespace {

constexpr const char* ls_help =
    R"(usage: sigdump ls FILE [--json] [--format binary|text]

Lists every tensor record of a dump (simulator binary with any trailer,
ONNX/Caffe binary, or text; see docs/format.md), one row per record:
index, in/out with the op's port (out+1 = the op's second output), op index,
op type, name, shape, type as written, constant flag (bConstant), where the
payload lies (byte offset and bytes) and, when the record cannot be read,
why. A summary follows: record count, payload bytes, and a record cut by
the end of the file (a dump still being written), if any.

options:
  --json                  one JSON object:
                          {"file":..,"is_float":..,"records":[{"index":..,
                          "kind":"out"|"in","output":K,"op_index":..,"op":..,
                          "name":..,"shape":[..],"type":..,"constant":bool,
                          "offset":..,"bytes":..,"problem":null|".."}],
                          "pending":null|{"offset":..}}
  --format binary|text    force the variant instead of detecting it (only
                          needed for ambiguous files, e.g. a first record of
                          zero elements)
  -h, --help              show this help

exit status: 0 listed (also when the file ends inside a record: the complete
records are listed and the cut is reported as a warning on stderr), 2 bad
usage, unreadable file or not a dump (one error line on stderr).

examples:
  sigdump ls sigma_outtensor_dump.bin
  sigdump ls dumpData/onnx_NHWC_outtensor_dump.bin --json | jq '.records[].name'
)";

struct ls_args {
  std::string file;
  bool json = false;
  parse_options options;
};

std::string parse_args(const std::vector<std::string>& args, ls_args& out) {
  std::vector<std::string> positional;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--json") {
      out.json = true;
    } else if (a == "--format" || a.starts_with("--format=")) {
      std::string v;
      if (a == "--format") {
        if (i + 1 >= args.size()) return "--format needs a value: binary or text";
        v = args[++i];
      } else {
        v = std::string(a.substr(9));
      }
      if (v == "binary") {
        out.options.variant = dump_variant::binary;
      } else if (v == "text") {
        out.options.variant = dump_variant::text;
      } else {
        return "--format must be 'binary' or 'text', not '" + v + "'";
      }
    } else if (a.size() > 1 && a.front() == '-') {
      return "unknown option '" + std::string(a) + "'; see 'sigdump ls --help'";
    } else {
      positional.emplace_back(a);
    }
  }
  if (positional.size() != 1)
    return "expected one FILE; usage: sigdump ls FILE [--json] [--format binary|text]";
  out.file = positional[0];
  return {};
}

std::string kind_text(const record& r) {
  std::string k = r.kind == record_kind::out ? "out" : "in";
  if (r.port != 0) {
    k += '+';
    k += std::to_string(r.port);
  }
  return k;
}

std::string render_json(const dump_file& f) {
  json_writer w;
  w.begin_object();
  w.field("file", f.path());
  w.field("is_float", f.is_float());
  w.key("records").begin_array();
  for (const record& r : f.records()) {
    w.begin_object();
    write_record_fields(w, r, false);
    w.end_object();
  }
  w.end_array();
  if (f.pending()) {
    w.key("pending").begin_object().field("offset", f.pending()->offset).end_object();
  } else {
    w.field_null("pending");
  }
  w.end_object();
  return w.take();
}

void print_table(const dump_file& f) {
  struct row {
    std::string cells[10];
    std::string problem;
  };
  const char* titles[10] = {"#",     "kind", "op",    "op type", "name",
                            "shape", "type", "const", "offset",  "bytes"};
  std::vector<row> rows;
  rows.reserve(f.records().size());
  std::size_t width[10];
  for (int c = 0; c < 10; ++c) width[c] = std::string_view(titles[c]).size();
  for (const record& r : f.records()) {
    row x;
    x.cells[0] = std::to_string(r.index);
    x.cells[1] = kind_text(r);
    x.cells[2] = std::to_string(r.op_index);
    x.cells[3] = r.op_type;
    x.cells[4] = r.name;
    x.cells[5] = format_shape(r.shape);
    x.cells[6] = r.type_name;
    x.cells[7].assign(1, r.constant ? '1' : '0');
    x.cells[8] = std::to_string(r.payload_offset);
    x.cells[9] = std::to_string(r.payload_bytes);
    x.problem = r.problem;
    if (r.problem.empty() && r.fit == payload_fit::unpadded_inner) {
      x.problem = "note: innermost dimension padded to ";
      x.problem += std::to_string(r.inner_stride);
      x.problem += " in the file";
    } else if (r.problem.empty() && r.fit == payload_fit::truncated) {
      x.problem = "note: payload larger than the shape; first ";
      x.problem += std::to_string(r.elements);
      x.problem += " elements used";
    }
    for (int c = 0; c < 10; ++c) width[c] = std::max(width[c], x.cells[c].size());
    rows.push_back(std::move(x));
  }
  auto print_row = [&](const std::string* cells, const std::string& tail) {
    std::string line;
    for (int c = 0; c < 10; ++c) {
      // Numbers right-aligned, text left-aligned; the last column unpadded.
      bool numeric = c == 0 || c == 2 || c == 8 || c == 9;
      std::size_t pad = width[c] - cells[c].size();
      if (numeric) line.append(pad, ' ');
      line += cells[c];
      if (!numeric && c != 9) line.append(pad, ' ');
      if (c != 9) line += "  ";
    }
    if (!tail.empty()) line += "  " + tail;
    std::cout << line << '\n';
  };
  std::string header[10];
  for (int c = 0; c < 10; ++c) header[c] = titles[c];
  print_row(header, {});
  for (const row& x : rows) print_row(x.cells, x.problem);
}

int run_ls(const std::vector<std::string>& args) {
  ls_args a;
  if (auto err = parse_args(args, a); !err.empty()) return fail(err);
  auto f = dump_file::open(a.file, a.options);
  if (!f) return fail(f.error().describe());
  auto tail = f->parser().tail_error();
  if (f->records().empty() && tail && tail->code == errc::not_a_dump) {
    return fail(tail->describe());  // empty file or garbage too short to judge
  }
  if (tail) warn(tail->describe() + " (a dump still being written, or cut)");

  if (a.json) {
    std::cout << render_json(*f) << '\n';
    return exit_ok;
  }
  if (f->records().empty()) {
    std::cout << a.file << ": no records";
    if (f->pending()) std::cout << " (one record cut at offset " << f->pending()->offset << ")";
    std::cout << '\n';
    return exit_ok;
  }
  print_table(*f);
  std::uint64_t payload = 0;
  std::size_t problems = 0, outputs = 0, constants = 0;
  for (const record& r : f->records()) {
    payload += r.payload_bytes;
    if (!r.ok()) ++problems;
    if (r.is_layer_output()) ++outputs;
    if (r.constant) ++constants;
  }
  auto plural = [](std::size_t n, const char* one, const char* many) {
    return std::to_string(n) + ' ' + (n == 1 ? one : many);
  };
  std::cout << '\n'
            << plural(f->records().size(), "record", "records") << " ("
            << plural(outputs, "layer output", "layer outputs") << ", "
            << plural(constants, "constant", "constants") << "), " << payload << " payload bytes; "
            << (f->variant() == dump_variant::text ? "text" : "binary")
            << ", isFloat: " << (f->is_float() ? 1 : 0) << '\n';
  if (problems) std::cout << problems << " record(s) cannot be read (see the last column)\n";
  if (f->pending()) {
    const auto& p = *f->pending();
    std::cout << "pending: record " << p.record;
    if (!p.name.empty()) std::cout << " (" << p.name << ")";
    std::cout << " at offset " << p.offset << " is cut by the end of the file";
    if (p.needed) std::cout << " (" << p.available << " of " << p.needed << " bytes present)";
    std::cout << '\n';
  }
  return exit_ok;
}

const command_registrar reg{
    command{"ls", "list the records of a dump file", ls_help, run_ls, true}};

}  // namespace
}  // namespace sigdump::cli
