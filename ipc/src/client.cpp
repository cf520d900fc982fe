#include "sigdump/ipc/client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>

#include "sigdump/json_util.h"
#include "sigdump/unique_fd.h"

namespace sigdump::ipc {

namespace {

using clock_type = std::chrono::steady_clock;

// Milliseconds left before `deadline` for poll(); -1 when unbounded.
int poll_ms(std::optional<clock_type::time_point> deadline) {
  if (!deadline) return -1;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - clock_type::now());
  if (left.count() <= 0) return 0;
  return left.count() > 1000000 ? 1000000 : static_cast<int>(left.count());
}

std::optional<clock_type::time_point> deadline_after(std::chrono::milliseconds timeout) {
  if (timeout.count() < 0) return std::nullopt;
  return clock_type::now() + timeout;
}

std::string minified(simdjson::dom::element e) { return simdjson::minify(e); }

// Waits up to `timeout` for the child to exit (pidfd where the kernel has
// it, else one look); its wait status, or nullopt while it runs.
std::optional<int> reap_within(pid_t pid, std::chrono::milliseconds timeout) {
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) == pid) return status;
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    while (::poll(&p, 1, static_cast<int>(timeout.count())) < 0 && errno == EINTR) {
    }
    ::close(pidfd);
  }
  if (::waitpid(pid, &status, WNOHANG) == pid) return status;
  return std::nullopt;
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           ::strsignal(WTERMSIG(status)) + ")";
  }
  return "stopped";
}

}  // namespace

namespace {

// Our uid, root, and $SIGDUMP_TRUST_UIDS.
bool trusted_uid(uid_t uid) {
  if (uid == ::geteuid() || uid == 0) return true;
  const char* env = std::getenv("SIGDUMP_TRUST_UIDS");
  if (env == nullptr) return false;
  std::string_view list(env);
  while (!list.empty()) {
    const auto comma = list.find(',');
    const std::string_view item = list.substr(0, comma);
    unsigned long long v = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (ec == std::errc{} && end == item.data() + item.size() && v == uid) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

std::string trusted_peer_error(int fd, const std::string& socket_path) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return std::string("cannot read the credentials of the process serving it: ") +
           std::strerror(errno);
  }
  if (!trusted_uid(cred.uid)) {
    return "it is served by uid " + std::to_string(cred.uid) + " (pid " + std::to_string(cred.pid) +
           "), not by you (uid " + std::to_string(::geteuid()) +
           ") or root; refusing to talk to it (set SIGDUMP_TRUST_UIDS=" + std::to_string(cred.uid) +
           " if that is a daemon you mean to use)";
  }
  const auto slash = socket_path.find_last_of('/');
  const std::string dir =
      slash == std::string::npos ? "." : socket_path.substr(0, slash + (slash == 0));
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    return "cannot stat its folder " + dir + ": " + std::strerror(errno);
  }
  if (!trusted_uid(st.st_uid)) {
    return "its folder " + dir + " is owned by uid " + std::to_string(st.st_uid) +
           ", not by you or root; refusing to talk to it";
  }
  if ((st.st_mode & 022) != 0) {
    return "its folder " + dir +
           " is writable by group or others, so anyone could have put the socket there; "
           "refusing to talk to it (use a private folder, mode 0700)";
  }
  return {};
}

std::string no_daemon_message(const std::string& socket_path) {
  return "no sigdumpd listening on " + socket_path +
         "; start it with 'sigdumpd --foreground' or 'systemctl --user start sigdumpd.socket'";
}

result<message> parse_message(std::string_view line) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(line);
  simdjson::dom::element doc;
  if (auto err = parser.parse(padded).get(doc); err) {
    return make_error(
        errc::protocol, {}, no_record, no_offset,
        std::string("daemon sent a line that is not JSON: ") + simdjson::error_message(err));
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) {
    return make_error(errc::protocol, {}, no_record, no_offset,
                      "daemon sent a JSON value that is not an object");
  }
  message m;
  m.line.assign(line);
  simdjson::dom::element v;
  if (!obj["id"].get(v)) m.id = minified(v);
  std::string_view s;
  if (!obj["event"].get(v) && !v.get_string().get(s)) m.event.assign(s);
  if (!obj["clock"].get(v) && !v.get_string().get(s)) m.clock.assign(s);
  if (!obj["result"].get(v)) m.result = minified(v);
  if (!obj["error"].get(v)) {
    m.is_error = true;
    simdjson::dom::object e;
    if (!v.get_object().get(e)) {
      if (!e["code"].get(v) && !v.get_string().get(s)) m.error_code.assign(s);
      if (!e["message"].get(v) && !v.get_string().get(s)) m.error_message.assign(s);
    } else if (!v.get_string().get(s)) {
      m.error_message.assign(s);
    }
    if (m.error_code.empty()) m.error_code = "internal";
  }
  return m;
}

struct client::impl {
  unique_fd fd;
  std::string peer;
  std::uint64_t next_id = 1;
  std::string inbuf;
  std::size_t scan_from = 0;  // bytes of inbuf already known to hold no '\n'
  bool eof = false;
  std::string broken;  // non-empty: why the connection can no longer be read
  std::deque<message> events;
  std::map<std::string, message> replies;  // by id text
  std::deque<message> orphan_errors;       // error lines with "id":null
  pid_t child = -1;                        // spawn(): the transport process
  std::string child_name;
  std::optional<int> child_status;  // its wait status once reaped

  impl() = default;
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;
  ~impl() {
    if (child <= 0 || child_status) return;
    fd.reset();  // EOF first, so a transport that is done can exit by itself
    ::kill(child, SIGTERM);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
  }

  // "daemon closed the connection", with how the transport exited.
  std::string closed_text() {
    std::string text = "daemon closed the connection";
    if (child <= 0) return text;
    if (!child_status) child_status = reap_within(child, std::chrono::seconds(2));
    if (child_status) {
      text += " (" + child_name + " " + describe_exit(*child_status) +
              "; its message, if any, is above)";
    }
    return text;
  }

  error io_error(std::string what) const {
    return error{errc::io, peer, no_record, {}, no_offset, std::move(what)};
  }

  // Moves complete lines out of inbuf into the queues.
  result<void> drain_lines() {
    for (;;) {
      auto nl = inbuf.find('\n', scan_from);
      if (nl == std::string::npos) {
        scan_from = inbuf.size();
        if (inbuf.size() > max_line_bytes) {
          broken = "daemon sent a line longer than " + std::to_string(max_line_bytes) + " bytes";
          return std::unexpected(io_error(broken));
        }
        return {};
      }
      if (nl > max_line_bytes) {
        broken = "daemon sent a line longer than " + std::to_string(max_line_bytes) + " bytes";
        return std::unexpected(io_error(broken));
      }
      std::string_view line(inbuf.data(), nl);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!line.empty()) {
        auto m = parse_message(line);
        if (!m) {
          broken = m.error().message;
          return std::unexpected(io_error(broken));
        }
        if (m->is_event()) {
          events.push_back(std::move(*m));
        } else if (m->id.empty() || m->id == "null") {
          orphan_errors.push_back(std::move(*m));
        } else {
          auto key = m->id;
          replies.insert_or_assign(std::move(key), std::move(*m));
        }
      }
      inbuf.erase(0, nl + 1);
      scan_from = 0;
    }
  }

  // Reads what is available, waiting until the deadline for something.
  // Returns false on timeout or EINTR (nothing read).
  result<bool> fill(std::optional<clock_type::time_point> deadline) {
    if (!broken.empty()) return std::unexpected(io_error(broken));
    if (eof) return std::unexpected(io_error(closed_text()));
    pollfd p{fd.get(), POLLIN, 0};
    int n = ::poll(&p, 1, poll_ms(deadline));
    if (n < 0) {
      if (errno == EINTR) return false;
      return std::unexpected(io_error(std::string("poll: ") + std::strerror(errno)));
    }
    if (n == 0) return false;
    char buf[65536];
    for (;;) {
      ssize_t got = ::recv(fd.get(), buf, sizeof buf, 0);
      if (got > 0) {
        inbuf.append(buf, static_cast<std::size_t>(got));
        if (auto r = drain_lines(); !r) return std::unexpected(r.error());
        if (static_cast<std::size_t>(got) < sizeof buf) return true;
        continue;
      }
      // A reset is a close too: a transport process that exits with our
      // request unread resets its end of the socket pair.
      if (got == 0 || (got < 0 && errno == ECONNRESET)) {
        eof = true;
        return true;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      broken = std::string("read from daemon: ") + std::strerror(errno);
      return std::unexpected(io_error(broken));
    }
  }
};

client::client(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
client::client(client&& other) noexcept = default;
client& client::operator=(client&& other) noexcept = default;
client::~client() = default;

int client::fd() const noexcept { return impl_ ? impl_->fd.get() : -1; }
bool client::has_buffered_event() const noexcept { return impl_ && !impl_->events.empty(); }

client client::adopt(int fd, std::string peer_name) {
  auto p = std::make_unique<impl>();
  p->fd.reset(fd);
  p->peer = std::move(peer_name);
  int fl = ::fcntl(fd, F_GETFL);
  if (fl >= 0) ::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  int fdfl = ::fcntl(fd, F_GETFD);
  if (fdfl >= 0) ::fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC);
  return client(std::move(p));
}

result<client> client::spawn(const std::vector<std::string>& argv, std::string peer_name) {
  if (argv.empty()) {
    return make_error(errc::usage, peer_name, no_record, no_offset, "no transport command given");
  }
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return make_error(errc::io, peer_name, no_record, no_offset,
                      std::string("socketpair: ") + std::strerror(errno));
  }
  unique_fd ours(sv[0]), theirs(sv[1]);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // A pipe that exec closes: a byte on it is the child's exec errno.
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    return make_error(errc::io, peer_name, no_record, no_offset,
                      std::string("pipe: ") + std::strerror(errno));
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(report[0]);
    ::signal(SIGINT, SIG_IGN);
    ::signal(SIGQUIT, SIG_IGN);
    ::signal(SIGPIPE, SIG_DFL);
    if (::dup2(theirs.get(), STDIN_FILENO) >= 0 && ::dup2(theirs.get(), STDOUT_FILENO) >= 0) {
      ::execvp(args[0], args.data());
    }
    const int e = errno;
    (void)!::write(report[1], &e, sizeof e);
    ::_exit(127);
  }
  ::close(report[1]);
  const int fork_errno = errno;
  theirs.reset();
  if (pid < 0) {
    ::close(report[0]);
    return make_error(errc::io, peer_name, no_record, no_offset,
                      std::string("fork: ") + std::strerror(fork_errno));
  }
  int exec_errno = 0;
  ssize_t got;
  while ((got = ::read(report[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {
  }
  ::close(report[0]);
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return make_error(errc::io, peer_name, no_record, no_offset,
                      "cannot run " + argv[0] + ": " + std::strerror(exec_errno));
  }
  client c = adopt(ours.release(), std::move(peer_name));
  c.impl_->child = pid;
  c.impl_->child_name = argv[0].substr(argv[0].find_last_of('/') + 1);
  return c;
}

result<client> client::connect(const std::string& socket_path, std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof addr.sun_path) {
    return make_error(errc::usage, socket_path, no_record, no_offset,
                      "socket path is empty or longer than " +
                          std::to_string(sizeof addr.sun_path - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return make_error(errc::io, socket_path, no_record, no_offset,
                      std::string("socket: ") + std::strerror(errno));
  }
  auto owner = adopt(fd, socket_path);
  const auto deadline = deadline_after(timeout);
  for (;;) {
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) break;
    const int e = errno;
    if (e == EINTR) continue;
    if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR) {
      return make_error(errc::io, {}, no_record, no_offset, no_daemon_message(socket_path));
    }
    if (e == EAGAIN) {
      // The listener's backlog is full: try again until the deadline.
      if (poll_ms(deadline) == 0) {
        return make_error(errc::io, socket_path, no_record, no_offset,
                          "sigdumpd did not accept the connection in time (backlog full)");
      }
      ::poll(nullptr, 0, 10);
      continue;
    }
    return make_error(errc::io, socket_path, no_record, no_offset,
                      std::string("connect: ") + std::strerror(e));
  }
  if (std::string why = trusted_peer_error(fd, socket_path); !why.empty()) {
    return make_error(errc::io, socket_path, no_record, no_offset,
                      "not using this sigdumpd socket: " + why);
  }
  return owner;
}

result<std::uint64_t> client::send(std::string_view method, std::string_view params_json,
                                   std::chrono::milliseconds timeout) {
  auto& m = *impl_;
  const std::uint64_t id = m.next_id++;
  std::string line = "{\"id\":";
  json_append_number(line, id);
  line += ",\"method\":";
  json_append_string(line, method);
  if (!params_json.empty()) {
    line += ",\"params\":";
    line += params_json;
  }
  line += '}';
  if (line.size() > max_line_bytes) {
    return make_error(errc::usage, m.peer, no_record, no_offset,
                      "request of " + std::to_string(line.size()) + " bytes exceeds the " +
                          std::to_string(max_line_bytes) + "-byte line limit");
  }
  line += '\n';
  const auto deadline = deadline_after(timeout);
  std::size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::send(m.fd.get(), line.data() + done, line.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{m.fd.get(), POLLOUT, 0};
      int r = ::poll(&p, 1, poll_ms(deadline));
      if (r == 0) {
        return make_error(errc::io, m.peer, no_record, no_offset,
                          "sending to sigdumpd timed out (it is not reading)");
      }
      continue;
    }
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
      return make_error(errc::io, m.peer, no_record, no_offset, m.closed_text());
    }
    return make_error(errc::io, m.peer, no_record, no_offset,
                      std::string("send: ") + std::strerror(errno));
  }
  return id;
}

result<message> client::wait_reply(std::uint64_t id, std::chrono::milliseconds timeout) {
  auto& m = *impl_;
  const std::string key = std::to_string(id);
  const auto deadline = deadline_after(timeout);
  for (;;) {
    if (auto it = m.replies.find(key); it != m.replies.end()) {
      message out = std::move(it->second);
      m.replies.erase(it);
      return out;
    }
    if (!m.orphan_errors.empty()) {
      message out = std::move(m.orphan_errors.front());
      m.orphan_errors.pop_front();
      return out;
    }
    if (poll_ms(deadline) == 0) {
      return make_error(errc::io, m.peer, no_record, no_offset,
                        "no reply from sigdumpd within " + std::to_string(timeout.count()) + " ms");
    }
    auto got = m.fill(deadline);
    if (!got) return std::unexpected(got.error());
    // EINTR or a timeout: the loop re-checks the deadline.
  }
}

result<message> client::call(std::string_view method, std::string_view params_json,
                             std::chrono::milliseconds timeout) {
  auto id = send(method, params_json, timeout);
  if (!id) return std::unexpected(id.error());
  return wait_reply(*id, timeout);
}

result<std::optional<message>> client::next_event(std::chrono::milliseconds timeout) {
  auto& m = *impl_;
  const auto deadline = deadline_after(timeout);
  for (;;) {
    if (!m.events.empty()) {
      message out = std::move(m.events.front());
      m.events.pop_front();
      return std::optional<message>(std::move(out));
    }
    if (!m.orphan_errors.empty()) {
      message e = std::move(m.orphan_errors.front());
      m.orphan_errors.pop_front();
      return make_error(
          errc::protocol, m.peer, no_record, no_offset,
          "sigdumpd: " + e.error_code + (e.error_message.empty() ? "" : ": " + e.error_message));
    }
    auto got = m.fill(deadline);
    if (!got) return std::unexpected(got.error());
    if (!*got) return std::optional<message>();  // timeout or signal
    if (m.eof && m.events.empty() && m.orphan_errors.empty()) {
      return make_error(errc::io, m.peer, no_record, no_offset, m.closed_text());
    }
  }
}

}  // namespace sigdump::ipc
