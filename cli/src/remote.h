// Reaching sigdumpd on another machine: `--host ssh://[user@]host[:port][/socket]`
// (or $SIGDUMP_HOST) runs the OpenSSH client with the user's own keys and
// configuration, and talks through `sigdump dial-stdio` on the other side,
// which bridges to the daemon's local socket there. No port is opened on
// the daemon's machine besides sshd's (docs/user-guide.md, "Remote daemons").
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sigdump::cli::remote {

/* Where a remote daemon is: the parts of an ssh:// URL. */
struct target {
  std::string user;    // empty: ssh's default (its config, else our login)
  std::string host;    // a name, an address, or an ssh config alias
  std::string port;    // empty: ssh's default
  std::string socket;  // the daemon's socket there; empty: its default
};

/* Parses "ssh://[user@]host[:port][/path/to/socket]" (an IPv6 address in
   brackets); throws std::invalid_argument naming what is wrong. */
target parse(std::string_view url);
/* The URL again, in the form parse() reads. */
std::string to_url(const target& t);
/* Whether text is an ssh:// URL (a remote endpoint rather than a socket path). */
bool is_url(std::string_view text);

/* The host the command line gave (--host URL), if any. */
void set_host(std::string url);
/* The remote sigdump program (--remote-sigdump PATH). */
void set_remote_program(std::string path);
/* --host, else $SIGDUMP_HOST (empty counts as unset). */
std::optional<std::string> host();
/* Whether --host was given on the command line (not only in the environment). */
bool host_given();

/* The command to run: $SIGDUMP_SSH (split at spaces; default "ssh"), then
   -T, -o BatchMode=yes unless stdin and stderr are terminals (then ssh may
   ask for a passphrase or a host key), -p PORT, -l USER, and
   "-- HOST 'sigdump' dial-stdio [--socket S]", the program being
   --remote-sigdump, else $SIGDUMP_REMOTE_BIN, else sigdump from the remote
   PATH. */
std::vector<std::string> ssh_argv(const target& t);

}  // namespace sigdump::cli::remote
