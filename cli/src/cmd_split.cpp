// `sigdump split`: one file per record, named like the vendor's split folders.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "command.h"
#include "sigdump/dump_file.h"
#include "sigdump/dump_writer.h"

namespace sigdump::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* split_help =
    R"(usage: sigdump split FILE DIR [--text] [--format binary|text]

Writes one file per record of FILE into the new folder DIR, named like the
vendor's split folders: <op index>.<sanitized name>.xx.output<K> for output
records and <op index>.<sanitized name>.xx.inputs for input records
(sanitized: '/' -> '_', ':' removed). A name that repeats (several runs in
one file) gets .1, .2, ... appended from its second occurrence on.

Each file is a one-record dump: the "isFloat" line, then the record's raw
bytes as they are in FILE (header, payload, trailer). With --text each file
holds the text variant instead (values "%.6f", 16 per row); a record whose
values cannot be read is then skipped with a warning.

DIR must not exist (or be empty): it is built in a temp folder beside it and
renamed into place, so it is never half-written.

options:
  --text                  write the text variant
  --format binary|text    force FILE's variant instead of detecting it
  -h, --help              show this help

exit status: 0 written, 1 some records skipped, 2 bad usage, unreadable FILE or
DIR not writable.

example:
  sigdump split sigma_outtensor_dump.bin sigma_split
)";

std::string record_file_name(const record& r) {
  std::string n = std::to_string(r.op_index) + '.' + sanitize_name(r.name) + ".xx.";
  n += r.kind == record_kind::out ? "output" + std::to_string(r.port) : std::string("inputs");
  return n;
}

bool write_all(int fd, const void* data, std::size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    const ssize_t w = ::write(fd, p, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    len -= static_cast<std::size_t>(w);
  }
  return true;
}

struct split_args {
  std::string file, dir;
  bool text = false;
  parse_options format;
};

int run_split(const std::vector<std::string>& args) {
  split_args a;
  std::vector<std::string> pos;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& s = args[i];
    if (s == "--text") {
      a.text = true;
    } else if (s == "--format" || s.starts_with("--format=")) {
      std::string v;
      if (s == "--format") {
        if (i + 1 >= args.size()) return fail("--format needs a value");
        v = args[++i];
      } else {
        v = s.substr(9);
      }
      if (v == "binary") {
        a.format.variant = dump_variant::binary;
      } else if (v == "text") {
        a.format.variant = dump_variant::text;
      } else {
        return fail("--format: expected 'binary' or 'text', got '" + v + "'");
      }
    } else if (s.starts_with("-") && s != "-") {
      return fail("unknown option '" + s + "'; see 'sigdump split --help'");
    } else {
      pos.push_back(s);
    }
  }
  if (pos.size() != 2) return fail("expected FILE and DIR; see 'sigdump split --help'");
  a.file = pos[0];
  a.dir = pos[1];

  auto file = dump_file::open(a.file, a.format);
  if (!file) return fail(file.error().describe());
  if (auto tail = file->parser().tail_error()) {
    warn(tail->describe() + " (split the complete records only)");
  }

  const fs::path target = fs::absolute(fs::path(a.dir)).lexically_normal();
  std::error_code ec;
  if (fs::exists(target, ec) && !(fs::is_directory(target, ec) && fs::is_empty(target, ec))) {
    return fail(a.dir + ": already exists; choose a new folder");
  }
  std::string leaf = ".";
  leaf.append(target.filename().string()).append(".tmp-XXXXXX");
  std::string templ = (target.parent_path() / leaf).string();
  if (::mkdtemp(templ.data()) == nullptr) {
    return fail(templ + ": cannot create temp folder: " + std::strerror(errno));
  }
  const fs::path tmp = templ;
  auto abandon = [&](const std::string& msg) {
    fs::remove_all(tmp, ec);
    return fail(msg);
  };

  const auto bytes = file->current_mapping()->bytes();
  std::string first_line;
  if (file->parser().first_line().starts_with("isFloat:")) {
    first_line = file->is_float() ? "isFloat: 1\n" : "isFloat: 0\n";
  }
  writer_options text_opts;
  text_opts.variant = dump_variant::text;
  text_opts.is_float = file->is_float();
  text_opts.write_first_line = !first_line.empty();

  std::map<std::string, int> used;
  int skipped = 0;
  for (const record& r : file->records()) {
    std::string name = record_file_name(r);
    if (const int n = used[name]++; n > 0) name += '.' + std::to_string(n);
    const std::string path = (tmp / name).string();
    std::string content;
    if (a.text) {
      auto v = file->view(r.index);
      if (!v || !r.ok()) {
        warn(a.file + ": record " + std::to_string(r.index) + " (" + r.name +
             "): skipped: " + (v ? r.problem : v.error().message));
        ++skipped;
        continue;
      }
      // A checked read: the file may be truncated while we split it.
      std::vector<double> real(v->elements);
      if (auto rd = v->read_checked(0, real); !rd) {
        warn(rd.error().describe() + ": skipped");
        ++skipped;
        continue;
      }
      tensor_spec spec;
      spec.kind = r.kind;
      spec.port = r.port;
      spec.scale = r.scale;
      spec.zero_point = r.zero_point;
      spec.type = r.type;
      spec.type_name = r.type_name;
      spec.name = r.name;
      spec.constant = r.constant;
      spec.shape = r.shape;
      spec.op_index = r.op_index;
      spec.op_type = r.op_type;
      content = dump_writer::render_first_line(text_opts) +
                dump_writer::render(text_opts, spec, std::span<const double>(real));
    }
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return abandon(path + ": cannot create: " + std::strerror(errno));
    bool ok;
    if (a.text) {
      ok = write_all(fd, content.data(), content.size());
    } else {
      // write(2) straight from the mapping: a page that vanished gives EFAULT, not SIGBUS.
      ok = write_all(fd, first_line.data(), first_line.size()) &&
           write_all(fd, bytes.data() + r.header_offset, r.end_offset - r.header_offset);
    }
    const int err = errno;
    if (::close(fd) != 0) ok = false;
    if (!ok) return abandon(path + ": cannot write: " + std::strerror(err));
  }
  ::chmod(tmp.c_str(), 0755);
  if (fs::exists(target, ec)) ::rmdir(target.c_str());
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    return abandon(a.dir + ": cannot rename the temp folder into place: " + std::strerror(errno));
  }
  return skipped ? exit_findings : exit_ok;
}

const command_registrar reg{
    command{"split", "write one file per record, named like the vendor's split folders", split_help,
            run_split, true}};

}  // namespace
}  // namespace sigdump::cli
