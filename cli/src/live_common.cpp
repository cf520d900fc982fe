#include "live_common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "command.h"
#include "remote.h"
#include "sigdump/ipc/socket_path.h"

namespace sigdump::cli::live {

bool parsed_args::has(std::string_view name) const {
  return values.contains(std::string(name)) ||
         std::find(flags.begin(), flags.end(), name) != flags.end();
}

std::optional<std::string> parsed_args::get(std::string_view name) const {
  auto it = values.find(std::string(name));
  if (it == values.end()) return std::nullopt;
  return it->second;
}

std::optional<parsed_args> parse_args(std::string_view command,
                                      const std::vector<std::string>& args,
                                      std::vector<option_spec> spec, std::size_t max_positional) {
  spec.push_back({"socket", true});
  parsed_args out;
  const std::string see = "; see 'sigdump " + std::string(command) + " --help'";
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!options_done && a == "--") {
      options_done = true;
      continue;
    }
    if (options_done || a.size() < 2 || a[0] != '-' ||
        (a[1] != '-' && a.size() > 1 && std::isdigit(static_cast<unsigned char>(a[1])))) {
      if (out.positional.size() >= max_positional) {
        fail("unexpected argument '" + a + "'" + see);
        return std::nullopt;
      }
      out.positional.push_back(a);
      continue;
    }
    std::string name = a.substr(a[1] == '-' ? 2 : 1);
    std::optional<std::string> inline_value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
    }
    auto it = std::find_if(spec.begin(), spec.end(),
                           [&](const option_spec& s) { return s.name == name; });
    if (it == spec.end() || a[1] != '-') {
      fail("unknown option '" + a + "'" + see);
      return std::nullopt;
    }
    if (!it->takes_value) {
      if (inline_value) {
        fail("option '--" + name + "' takes no value" + see);
        return std::nullopt;
      }
      out.flags.push_back(name);
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) {
        fail("option '--" + name + "' needs a value" + see);
        return std::nullopt;
      }
      inline_value = args[++i];
    }
    out.values[name] = *inline_value;
  }
  return out;
}

std::string socket_path_of(const parsed_args& args) {
  auto s = args.get("socket");
  if (auto host = remote::host()) {
    remote::target t = remote::parse(*host);
    if (s && !s->empty()) {
      if (!t.socket.empty() && t.socket != *s) {
        throw std::invalid_argument("the remote socket is given twice, as " + t.socket +
                                    " in the host URL and as --socket " + *s);
      }
      t.socket = *s;
    }
    return remote::to_url(t);
  }
  if (s && !s->empty()) return *s;
  return ipc::default_socket_path();
}

bool is_remote(const std::string& endpoint) { return remote::is_url(endpoint); }

result<ipc::client> dial(const std::string& endpoint, std::chrono::milliseconds timeout) {
  if (is_remote(endpoint)) {
    return ipc::client::spawn(remote::ssh_argv(remote::parse(endpoint)), endpoint);
  }
  return ipc::client::connect(endpoint, timeout);
}

std::optional<ipc::client> connect(const std::string& socket_path) {
  auto c = dial(socket_path);
  if (!c) {
    fail(c.error().describe());
    return std::nullopt;
  }
  return std::move(*c);
}

namespace {

// The result of a reply, or why there is none.
std::expected<std::string, request_failure> result_of(const result<ipc::message>& r) {
  if (!r) return std::unexpected(request_failure{r.error().describe(), true});
  if (r->is_error) {
    return std::unexpected(request_failure{
        "sigdumpd: " + r->error_code + (r->error_message.empty() ? "" : ": " + r->error_message)});
  }
  return r->result;
}

// The value, or nullopt after printing the failure.
template <class T>
std::optional<T> printed(std::expected<T, request_failure> r) {
  if (!r) {
    fail(r.error().message);
    return std::nullopt;
  }
  return std::move(*r);
}

}  // namespace

std::optional<std::string> call(ipc::client& c, std::string_view method,
                                std::string_view params_json, std::chrono::milliseconds timeout) {
  return printed(result_of(c.call(method, params_json, timeout)));
}

std::optional<std::string> ask(const std::string& socket_path, std::string_view method,
                               std::string_view params_json) {
  auto c = connect(socket_path);
  if (!c) return std::nullopt;
  return call(*c, method, params_json);
}

std::expected<subscribed, request_failure> try_subscribe(ipc::client& c,
                                                         std::string_view params_json) {
  auto id = c.send("subscribe", params_json);
  if (!id) return std::unexpected(request_failure{id.error().describe(), true});
  auto result = result_of(c.wait_reply(*id, std::chrono::seconds(30)));
  if (!result) return std::unexpected(std::move(result.error()));
  return subscribed{std::to_string(*id), std::move(*result)};
}

std::optional<subscribed> subscribe(ipc::client& c, std::string_view params_json) {
  return printed(try_subscribe(c, params_json));
}

std::optional<std::uint64_t> parse_count(std::string_view command, std::string_view option,
                                         std::string_view text) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || p != text.data() + text.size() || v == 0) {
    fail("option '--" + std::string(option) + "' wants a positive integer, not '" +
         std::string(text) + "'; see 'sigdump " + std::string(command) + " --help'");
    return std::nullopt;
  }
  return v;
}

bool color_wanted() {
  const char* no = std::getenv("NO_COLOR");
  return ::isatty(STDOUT_FILENO) == 1 && !(no && *no);
}

std::optional<simdjson::dom::element> member(simdjson::dom::element e, std::string_view key) {
  simdjson::dom::object obj;
  if (e.get_object().get(obj)) return std::nullopt;
  simdjson::dom::element v;
  if (obj[key].get(v) || v.is_null()) return std::nullopt;
  return v;
}

std::string str(simdjson::dom::element e, std::string_view key, std::string_view fallback) {
  auto v = member(e, key);
  if (!v) return std::string(fallback);
  std::string_view s;
  if (!v->get_string().get(s)) return std::string(s);
  return simdjson::minify(*v);
}

std::optional<double> num(simdjson::dom::element e, std::string_view key) {
  auto v = member(e, key);
  if (!v) return std::nullopt;
  double d;
  if (!v->get_double().get(d)) return d;
  std::int64_t i;
  if (!v->get_int64().get(i)) return static_cast<double>(i);
  std::uint64_t u;
  if (!v->get_uint64().get(u)) return static_cast<double>(u);
  return std::nullopt;
}

std::optional<std::int64_t> integer(simdjson::dom::element e, std::string_view key) {
  auto v = member(e, key);
  if (!v) return std::nullopt;
  std::int64_t i;
  if (!v->get_int64().get(i)) return i;
  double d;
  if (!v->get_double().get(d)) return static_cast<std::int64_t>(d);
  return std::nullopt;
}

std::optional<bool> boolean(simdjson::dom::element e, std::string_view key) {
  auto v = member(e, key);
  if (!v) return std::nullopt;
  bool b;
  if (!v->get_bool().get(b)) return b;
  return std::nullopt;
}

std::string fixed6(std::optional<double> v) {
  if (!v) return "-";
  if (std::isnan(*v)) return "nan";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%f", *v);
  return buf;
}

std::string general(std::optional<double> v) {
  if (!v) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", *v);
  return buf;
}

std::string duration(std::int64_t s) {
  if (s < 0) s = 0;
  char buf[64];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  }
  return buf;
}

std::string clock_file_path() {
  std::string base;
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) {
    base = x;
  } else if (const char* h = std::getenv("HOME"); h && *h) {
    base = std::string(h) + "/.local/state";
  } else {
    base = "/tmp/sigdump-state-" + std::to_string(::getuid());
  }
  return base + "/sigdump/subscribe.clock";
}

namespace {

std::vector<std::pair<std::string, std::string>> read_clock_lines(const std::string& file) {
  std::vector<std::pair<std::string, std::string>> out;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    auto tab = line.rfind('\t');
    if (tab == std::string::npos) continue;  // a torn or foreign line: ignore it
    out.emplace_back(line.substr(0, tab), line.substr(tab + 1));
  }
  return out;
}

}  // namespace

std::optional<std::string> load_clock(const std::string& socket_path) {
  for (auto& [sock, clock] : read_clock_lines(clock_file_path())) {
    if (sock == socket_path && !clock.empty()) return clock;
  }
  return std::nullopt;
}

bool save_clock(const std::string& socket_path, const std::string& clock) {
  const std::string file = clock_file_path();
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(file).parent_path(), ec);
  auto lines = read_clock_lines(file);
  bool found = false;
  for (auto& [sock, c] : lines) {
    if (sock == socket_path) {
      c = clock;
      found = true;
    }
  }
  if (!found) lines.emplace_back(socket_path, clock);
  std::string text;
  for (auto& [sock, c] : lines) text += sock + '\t' + c + '\n';
  // Temp file + rename: a crash leaves the old file or the new one, never half.
  std::string tmp = file + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmp.c_str(), file.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace sigdump::cli::live
