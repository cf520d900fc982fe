#include "remote.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace sigdump::cli::remote {
namespace {

constexpr std::string_view scheme = "ssh://";

std::optional<std::string>& given_host() {
  static std::optional<std::string> v;
  return v;
}

std::optional<std::string>& given_program() {
  static std::optional<std::string> v;
  return v;
}

std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

[[noreturn]] void bad(std::string_view url, const std::string& why) {
  throw std::invalid_argument("bad remote host '" + std::string(url) + "': " + why +
                              "; the form is ssh://[user@]host[:port][/path/to/socket]");
}

// One word for the remote shell: as is when it holds only safe characters,
// else in single quotes.
std::string shell_word(const std::string& w) {
  const bool safe = !w.empty() && std::all_of(w.begin(), w.end(), [](unsigned char c) {
    return std::isalnum(c) ||
           std::string_view("_-./:@%+=,~").find(static_cast<char>(c)) != std::string_view::npos;
  });
  if (safe) return w;
  std::string out = "'";
  for (char c : w) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

bool is_url(std::string_view text) { return text.starts_with(scheme); }

target parse(std::string_view url) {
  if (!is_url(url)) bad(url, "only ssh:// is supported");
  std::string_view rest = url.substr(scheme.size());
  target t;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    t.socket = std::string(rest.substr(slash));
    rest = rest.substr(0, slash);
  }
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    t.user = std::string(rest.substr(0, at));
    rest = rest.substr(at + 1);
    if (t.user.empty()) bad(url, "empty user name");
  }
  std::string_view port;
  if (rest.starts_with('[')) {
    auto close = rest.find(']');
    if (close == std::string_view::npos) bad(url, "'[' without ']'");
    t.host = std::string(rest.substr(1, close - 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) bad(url, "junk after ']'");
    if (!after.empty()) port = after.substr(1);
  } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    t.host = std::string(rest.substr(0, colon));
    port = rest.substr(colon + 1);
  } else {
    t.host = std::string(rest);
  }
  if (t.host.empty()) bad(url, "no host");
  if (t.host.front() == '-') bad(url, "a host cannot start with '-'");
  for (const std::string* part : {&t.user, &t.host, &t.socket}) {
    if (std::any_of(part->begin(), part->end(),
                    [](unsigned char c) { return std::isspace(c) || std::iscntrl(c); })) {
      bad(url, "spaces or control characters");
    }
  }
  if (!port.empty() || rest.ends_with(':')) {
    const bool digits =
        !port.empty() && port.size() <= 5 &&
        std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); });
    if (!digits || std::stoi(std::string(port)) == 0 || std::stoi(std::string(port)) > 65535) {
      bad(url, "the port must be a number from 1 to 65535");
    }
    t.port = std::string(port);
  }
  if (t.socket == "/") t.socket.clear();
  return t;
}

std::string to_url(const target& t) {
  std::string out(scheme);
  if (!t.user.empty()) out += t.user + "@";
  out += t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host;
  if (!t.port.empty()) out += ":" + t.port;
  return out + t.socket;
}

void set_host(std::string url) { given_host() = std::move(url); }
void set_remote_program(std::string path) { given_program() = std::move(path); }
bool host_given() { return given_host().has_value(); }

std::optional<std::string> host() {
  if (given_host() && !given_host()->empty()) return given_host();
  if (const char* v = std::getenv("SIGDUMP_HOST"); v && *v) return std::string(v);
  return std::nullopt;
}

std::vector<std::string> ssh_argv(const target& t) {
  std::vector<std::string> argv;
  std::istringstream words(env_or("SIGDUMP_SSH", "ssh"));
  for (std::string w; words >> w;) argv.push_back(w);
  if (argv.empty()) argv.push_back("ssh");
  argv.push_back("-T");
  if (!(::isatty(STDIN_FILENO) == 1 && ::isatty(STDERR_FILENO) == 1)) {
    argv.insert(argv.end(), {"-o", "BatchMode=yes"});
  }
  if (!t.port.empty()) argv.insert(argv.end(), {"-p", t.port});
  if (!t.user.empty()) argv.insert(argv.end(), {"-l", t.user});
  const std::string program = given_program() && !given_program()->empty()
                                  ? *given_program()
                                  : env_or("SIGDUMP_REMOTE_BIN", "sigdump");
  std::string command = shell_word(program) + " dial-stdio";
  if (!t.socket.empty()) command += " --socket " + shell_word(t.socket);
  argv.insert(argv.end(), {"--", t.host, command});
  return argv;
}

}  // namespace sigdump::cli::remote
