// `sigdump dial-stdio`: the remote end of `sigdump --host ssh://...`. It
// connects to this machine's daemon socket with the checks every client
// makes and copies stdin to the socket and the socket to stdout until the
// daemon closes the connection or nobody reads stdout any more.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "command.h"
#include "live_common.h"
#include "sigdump/ipc/socket_path.h"

namespace sigdump::cli {
namespace {

constexpr const char* dial_stdio_help =
    R"(usage: sigdump dial-stdio [--socket PATH]

Connects to the local sigdumpd and bridges stdin and stdout to its socket,
for 'sigdump --host ssh://HOST COMMAND' on another machine, which runs
'ssh HOST sigdump dial-stdio' (docs/user-guide.md, "Remote daemons"). The
socket is checked as by every command: it must be served by you or root,
from a folder only you or root can write. The end of stdin is passed on as
the end of the request stream (the replies still come); the bridge ends
when the daemon closes the connection or stdout is closed.

options:
  --socket PATH   daemon socket (default: $SIGDUMP_SOCKET, else
                  $XDG_RUNTIME_DIR/sigdump/sock, else /tmp/sigdump-$UID/sock)
  -h, --help      show this help

exit status: 0 the connection ended; 2 no daemon, an untrusted socket, or
a read or write error (the message says which).
)";

// Bytes on their way from one descriptor to another.
struct lane {
  int from, to;
  std::string buf;
  bool eof = false;  // `from` ended; once buf is empty, `to` gets the end
};

// Moves what `from` has into the buffer: false on a read error.
bool read_into(lane& l) {
  char chunk[65536];
  const ssize_t n = ::read(l.from, chunk, sizeof chunk);
  if (n > 0) l.buf.append(chunk, static_cast<std::size_t>(n));
  if (n == 0) l.eof = true;
  return n >= 0 || errno == EINTR || errno == EAGAIN;
}

// Writes what it can of the buffer: false on a write error.
bool write_from(lane& l) {
  const ssize_t n = ::write(l.to, l.buf.data(), l.buf.size());
  if (n > 0) l.buf.erase(0, static_cast<std::size_t>(n));
  return n >= 0 || errno == EINTR || errno == EAGAIN;
}

// The end of one direction: shut the sending side of a socket (the other
// direction may still run over it), or close a pipe.
void end_of(int fd) {
  if (::shutdown(fd, SHUT_WR) != 0 && errno == ENOTSOCK) ::close(fd);
}

int bridge(int sock) {
  lane up{STDIN_FILENO, sock, {}};     // requests: stdin -> daemon
  lane down{sock, STDOUT_FILENO, {}};  // replies and events: daemon -> stdout
  bool up_done = false;
  for (;;) {
    if (up.eof && up.buf.empty() && !up_done) {
      ::shutdown(sock, SHUT_WR);
      up_done = true;
    }
    if (down.eof && down.buf.empty()) {
      end_of(STDOUT_FILENO);
      return exit_ok;
    }
    // Read a side only while its lane is empty: backpressure, no busy loop.
    const short sock_events = static_cast<short>((down.buf.empty() && !down.eof ? POLLIN : 0) |
                                                 (up.buf.empty() ? 0 : POLLOUT));
    pollfd p[3] = {{up.eof || !up.buf.empty() ? -1 : STDIN_FILENO, POLLIN, 0},
                   {sock_events != 0 ? sock : -1, sock_events, 0},
                   // Always watched: POLLERR or POLLHUP here means nobody reads us.
                   {STDOUT_FILENO, static_cast<short>(down.buf.empty() ? 0 : POLLOUT), 0}};
    if (::poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return fail(std::string("dial-stdio: poll: ") + std::strerror(errno));
    }
    if ((p[2].revents & (POLLERR | POLLHUP)) != 0 && down.buf.empty()) {
      return exit_ok;  // the other end went away: nothing left to deliver to
    }
    if ((p[0].revents & (POLLIN | POLLHUP)) != 0 && !read_into(up)) {
      return fail(std::string("dial-stdio: reading stdin: ") + std::strerror(errno));
    }
    if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && (sock_events & POLLIN) != 0 &&
        !read_into(down)) {
      return fail(std::string("dial-stdio: reading from sigdumpd: ") + std::strerror(errno));
    }
    if (!up.buf.empty() && (p[1].revents & POLLOUT) != 0 && !write_from(up)) {
      return fail(std::string("dial-stdio: writing to sigdumpd: ") + std::strerror(errno));
    }
    if (!down.buf.empty() && (p[2].revents & POLLOUT) != 0 && !write_from(down)) {
      return exit_ok;  // stdout closed under us (EPIPE): the client is gone
    }
  }
}

int run_dial_stdio(const std::vector<std::string>& args) {
  auto a = live::parse_args("dial-stdio", args, {});
  if (!a) return exit_error;
  // Always this machine's daemon: $SIGDUMP_HOST here must not send us on.
  std::string sock = a->get("socket").value_or("");
  if (sock.empty()) sock = ipc::default_socket_path();
  auto c = ipc::client::connect(sock, std::chrono::seconds(5));
  if (!c) return fail(c.error().describe());
  const int fd = ::dup(c->fd());  // the client never read from it: nothing buffered
  if (fd < 0) return fail(std::string("dial-stdio: dup: ") + std::strerror(errno));
  ::signal(SIGPIPE, SIG_IGN);  // a closed stdout is EPIPE, handled above
  const int status = bridge(fd);
  ::close(fd);
  return status;
}

command_registrar reg{command{"dial-stdio",
                              "bridge stdin/stdout to the local sigdumpd (the far end of --host)",
                              dial_stdio_help, run_dial_stdio, true}};

}  // namespace
}  // namespace sigdump::cli
