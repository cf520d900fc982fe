#!/usr/bin/env bash
# Starts a throwaway OpenSSH server for the remote-daemon tests (C++ and
# Python share it): a host key and a user key made here, its own
# sshd_config (StrictModes no, UsePAM no, keys and pid file in DIR),
# listening on a free loopback port, as the current user (as root too).
#
#   start_sshd.sh DIR     prints the port on stdout; writes DIR/ssh_config
#                         (for `ssh -F`: the user key, DIR/known_hosts with
#                         the host key, StrictHostKeyChecking yes) and
#                         DIR/sshd.pid (stop it with kill $(cat DIR/sshd.pid))
#
# Exit 0 when sshd listens (its pid file is written); 77 with "SKIP: why"
# when a program is missing; 1 with sshd's log when it could not start.
set -euo pipefail
dir=$1
mkdir -p "$dir"
chmod 700 "$dir"
sshd=$(command -v sshd || true)
[ -z "$sshd" ] && [ -x /usr/sbin/sshd ] && sshd=/usr/sbin/sshd
for p in "$sshd" ssh ssh-keygen; do
  if [ -z "$p" ] || ! command -v "$p" >/dev/null 2>&1; then
    echo "SKIP: OpenSSH is not installed (sshd, ssh, ssh-keygen: Debian's openssh-server and openssh-client)"
    exit 77
  fi
done
# sshd running as root wants its privilege separation folder.
if [ "$(id -u)" -eq 0 ] && [ ! -d /run/sshd ]; then
  mkdir -p -m 0755 /run/sshd
fi
ssh-keygen -q -t ed25519 -N '' -C sigdump-test-host -f "$dir/host_key" </dev/null
ssh-keygen -q -t ed25519 -N '' -C sigdump-test-user -f "$dir/user_key" </dev/null
cp "$dir/user_key.pub" "$dir/authorized_keys"
cat >"$dir/ssh_config" <<CONF
Host *
  IdentityFile $dir/user_key
  IdentitiesOnly yes
  UserKnownHostsFile $dir/known_hosts
  StrictHostKeyChecking yes
  PasswordAuthentication no
  LogLevel ERROR
CONF
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  port=$((20000 + (RANDOM * 32768 + RANDOM + $$ + attempt) % 40000))
  echo "[127.0.0.1]:$port $(cat "$dir/host_key.pub")" >"$dir/known_hosts"
  cat >"$dir/sshd_config" <<CONF
ListenAddress 127.0.0.1:$port
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding no
X11Forwarding no
LogLevel VERBOSE
CONF
  rm -f "$dir/sshd.pid" "$dir/sshd.log"
  # Without -D sshd forks into the background *before* it binds the port:
  # its exit status says only that the configuration was read. The child
  # writes the pid file once it listens, or logs that it cannot bind and
  # exits. Until one of them, a client is refused (on a loaded machine,
  # often enough to fail a test that connects at once).
  "$sshd" -f "$dir/sshd_config" -E "$dir/sshd.log" || break
  for ((wait = 0; wait < 3000; ++wait)); do # 60 s
    if [ -s "$dir/sshd.pid" ]; then
      echo "$port"
      exit 0
    fi
    grep -q "Bind to port\|Cannot bind" "$dir/sshd.log" 2>/dev/null && continue 2
    sleep 0.02
  done
  echo "sshd wrote no pid file in 60 s" >&2
  break
done
echo "sshd did not start:" >&2
cat "$dir/sshd.log" >&2 || true
exit 1
