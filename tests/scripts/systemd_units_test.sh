#!/usr/bin/env bash
# Installs the build into a temporary prefix and checks the installed systemd
# user units with `systemd-analyze verify` (user manager, else system
# manager), plus the properties the product promises (socket path and modes,
# Type=notify with a watchdog, hardening that leaves the dump folders
# visible). SKIP (exit 0) when systemd-analyze is not installed, or when it
# cannot run here for reasons that are not the units' fault.
# $1: the build's bin folder (its parent is the build tree), $2: source tree.
set -euo pipefail

bin_dir=$(cd "$1" && pwd)
build_dir=$(dirname "$bin_dir")
src_dir=$(cd "$2" && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sigdump-units-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/usr

# An absolute unit folder would make `cmake --install --prefix` write into
# the real system: refuse rather than touch it.
unit_dir=$(sed -n 's/^SIGDUMP_SYSTEMD_USER_UNIT_DIR:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)
if [[ $unit_dir == /* ]]; then
  echo "SKIP: SIGDUMP_SYSTEMD_USER_UNIT_DIR is absolute ($unit_dir); not installing from a test"
  exit 0
fi

units=$prefix/${unit_dir:-lib/systemd/user}

if ! cmake --install "$build_dir" --prefix "$prefix" >"$tmp/install.log" 2>&1; then
  cat "$tmp/install.log" >&2
  echo "FAIL: cmake --install $build_dir --prefix $prefix" >&2
  exit 1
fi
socket=$units/sigdumpd.socket
service=$units/sigdumpd.service
for f in "$socket" "$service"; do
  [[ -s $f ]] || { echo "FAIL: $f not installed" >&2; exit 1; }
done

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
# key=value present in the unit, exactly.
has() { grep -qx -- "$2" "$1" || fail "$(basename "$1") lacks '$2'"; }
lacks() { ! grep -qE -- "^$2" "$1" || fail "$(basename "$1") must not set $2: $(grep -E "^$2" "$1")"; }

has "$socket" "ListenStream=%t/sigdump/sock"
has "$socket" "SocketMode=0600"
has "$socket" "DirectoryMode=0700"
has "$socket" "WantedBy=sockets.target"
has "$service" "Type=notify"
has "$service" "ExecStart=$prefix/bin/sigdumpd --foreground"
has "$service" "Restart=on-failure"
has "$service" "NoNewPrivileges=yes"
# The watcher runs from login, not only once a client connects.
has "$service" "WantedBy=default.target"
has "$service" "Also=sigdumpd.socket"
grep -qE '^WatchdogSec=[1-9]' "$service" || fail "sigdumpd.service has no WatchdogSec="
# The dumps live under ~ and /tmp: neither may be hidden. A RuntimeDirectory=
# would delete the socket folder when the service stops.
lacks "$service" "ProtectHome="
lacks "$service" "PrivateTmp="
lacks "$service" "RuntimeDirectory="
if grep -qx 'ProtectSystem=strict' "$service"; then
  grep -qE '^ReadWritePaths=.*%S/sigdump' "$service" ||
    fail "ProtectSystem=strict without ReadWritePaths= for %S/sigdump"
fi

# The archive and metrics folders the documentation recommends are
# writable under the installed unit's sandbox: by the unit itself, or by
# the drop-in it ships (docs/examples/systemd/sigdumpd-paths.conf) for
# folders under the home folder. Paths are compared after expanding the
# specifiers and ~ for a sample user.
dropin=$prefix/share/doc/sigdump/examples/systemd/sigdumpd-paths.conf
[[ -s $dropin ]] || fail "the drop-in example $dropin is not installed"
expand() {
  sed -e 's|^-||' -e "s|^%S|/home/u/.local/state|" -e "s|^%h|/home/u|" -e "s|^~|/home/u|" \
    -e "s|^%t|/run/user/1000|" -e 's|^\$HOME|/home/u|'
}
writable_in() { sed -n 's/^ReadWritePaths=//p' "$@" | tr ' ' '\n' | grep -v '^$' | expand; }
inside() { # inside DIR PATHS...: DIR is one of PATHS or below one
  local d=$1 p
  shift
  for p in "$@"; do [[ $d == "$p" || $d == "$p"/* ]] && return 0; done
  return 1
}
mapfile -t unit_rw < <(writable_in "$service")
mapfile -t dropin_rw < <(writable_in "$service" "$dropin")
mapfile -t recommended < <(grep -hoE -- '--(archive-dir|metrics-dir) [~/$][^ `]*|"(archive_dir|textfile_dir)": *"[~/$][^"]*"' \
  "$src_dir/README.md" "$src_dir"/docs/*.md | sed -E 's/^--[a-z-]+ //; s/^"[a-z_]+": *"//; s/"$//' | sort -u)
((${#recommended[@]} >= 2)) || fail "found no recommended archive or metrics folder in the docs (${recommended[*]})"
for d in "${recommended[@]}"; do
  inside "$(expand <<<"$d")" "${unit_rw[@]}" ||
    fail "the docs recommend $d, which sigdumpd.service leaves read-only (ReadWritePaths: ${unit_rw[*]})"
done
# The drop-in's own example: an archive in the home folder.
inside /home/u/sigdump-archive "${dropin_rw[@]}" ||
  fail "the drop-in example does not make ~/sigdump-archive writable (ReadWritePaths: ${dropin_rw[*]})"
inside /home/u/sigdump-archive "${unit_rw[@]}" &&
  fail "~/sigdump-archive is writable without the drop-in: the example would be pointless"

# What enabling sigdumpd.service installs, checked offline
# in a scratch root (the units are where a package puts them under it).
if command -v systemctl >/dev/null && [[ $units == "$tmp/usr/lib/systemd/user" ]]; then
  # --global: the user units of every user, the offline form of --user.
  if systemctl --global --root="$tmp" enable sigdumpd.service >"$tmp/enable.log" 2>&1; then
    for link in default.target.wants/sigdumpd.service sockets.target.wants/sigdumpd.socket; do
      [[ -L $tmp/etc/systemd/user/$link ]] || fail "enable did not create $link: $(cat "$tmp/enable.log")"
    done
  else
    fail "systemctl --global --root enable sigdumpd.service: $(cat "$tmp/enable.log")"
  fi
fi

if ! command -v systemd-analyze >/dev/null; then
  if ((failures > 0)); then exit 1; fi
  echo "SKIP: systemd-analyze not installed (package systemd); unit properties checked, not verified"
  exit 0
fi

# systemd-analyze looks up man: references; point it at the installed pages
# when man is there, else do not ask.
man_opt=(--man=no)
if command -v man >/dev/null; then
  export MANPATH=$prefix/share/man:
  man_opt=(--man=yes)
fi

# verify prints parse problems as warnings and still exits 0, so any output
# that names our units is an error. Output that does not name them while
# verify fails is the environment's (no user runtime folder, no manager).
verify() {
  local mode=$1 out rc=0
  shift
  out=$(cd "$units" && "$@" systemd-analyze verify "$mode" "${man_opt[@]}" sigdumpd.socket sigdumpd.service 2>&1) || rc=$?
  if grep -q 'sigdumpd' <<<"$out"; then
    echo "systemd-analyze verify $mode: unit errors:" >&2
    echo "$out" >&2
    return 1
  fi
  if ((rc != 0)); then
    echo "systemd-analyze verify $mode: cannot run here (exit $rc): $(tr '\n' ' ' <<<"$out")" >&2
    return 2
  fi
  echo "systemd-analyze verify $mode: ok"
  return 0
}

# The drop-in is verified with the units, from where systemd reads drop-ins.
mkdir -p "$units/sigdumpd.service.d"
cp "$dropin" "$units/sigdumpd.service.d/paths.conf"
mkdir -m 0700 "$tmp/runtime"
rc=0
verify --user env XDG_RUNTIME_DIR="$tmp/runtime" || rc=$?
if ((rc == 2)); then
  # The system manager mode checks the same syntax and ExecStart=.
  rc=0
  verify --system env || rc=$?
fi
case $rc in
  0) ;;
  1) fail "systemd-analyze verify reported errors in the units" ;;
  2)
    if ((failures > 0)); then exit 1; fi
    echo "SKIP: systemd-analyze cannot verify in this environment (see above); unit properties checked"
    exit 0
    ;;
esac

if ((failures > 0)); then
  exit 1
fi
echo "systemd_units_test: ok"
