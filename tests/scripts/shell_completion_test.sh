#!/usr/bin/env bash
# The bash, zsh and fish completions of sigdump (cli/completion/) offer the
# same things, all from `sigdump __complete`: commands, options, choices,
# file names, tensor names from a dump file (show) and from a real sigdumpd
# (query), pair names and run ids from that daemon. Each shell runs its real
# completion machinery: bash the completion function with COMP_WORDS, fish
# `complete -C`, zsh compinit and a Tab typed into an interactive zsh on a
# pseudo-terminal (zpty).
# $1: the build's bin folder, $2: source tree.
set -euo pipefail

bin_dir=$(cd "$1" && pwd)
src_dir=$(cd "${2:-$(dirname "$0")/../..}" && pwd)
comp=$src_dir/cli/completion
export PATH=$bin_dir:$PATH

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sigdump-shells-XXXXXX")
daemon_pid=
cleanup() {
  if [[ -n $daemon_pid ]]; then
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# A dump file, and a real daemon with the pair "net" over it whose run ended.
mkdir -p "$tmp/cwd/dumps" "$tmp/w"
sigdump simulate --mode float --out "$tmp/w/float.bin" >/dev/null
sigdump simulate --mode fixed --out "$tmp/w/fixed.bin" >/dev/null
cp "$tmp/w/float.bin" "$tmp/cwd/dump.bin"
sock=$tmp/sock
XDG_CONFIG_HOME=$tmp/no-config sigdumpd --foreground --socket "$sock" --state-dir "$tmp/state" \
  --watch "$tmp/w" --pair "net:$tmp/w/fixed.bin=$tmp/w/float.bin" 2>"$tmp/daemon.log" &
daemon_pid=$!
for ((i = 0; i < 600; i++)); do
  sigdump runs --socket "$sock" --pair net --json 2>/dev/null | grep -q '"run":"r' && break
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.05
done
run_id=$(sigdump runs --socket "$sock" --pair net --json 2>/dev/null |
  grep -o '"run":"r[0-9]*"' | head -1 | sed 's/.*"\(r[0-9]*\)"/\1/') || true
[[ -n $run_id ]] || {
  cat "$tmp/daemon.log" >&2
  fail "sigdumpd did not list a run of pair net"
}

# Candidates sorted, once each; a folder's trailing '/' (fish adds it) dropped.
tidy() { sed 's|/$||; /^$/d' | sort -u; }

# Completes LINE (the cursor at its end) in one shell; prints the candidates
# sorted, one a line, without descriptions.
complete_bash() {
  (cd "$tmp/cwd" && bash -c '
    source "$1"
    read -ra COMP_WORDS <<<"$2"
    [[ $2 == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    _sigdump
    printf "%s\n" "${COMPREPLY[@]}"' _ "$comp/sigdump.bash" "$1" | tidy)
}
complete_fish() {
  (cd "$tmp/cwd" && fish --no-config -c 'source $argv[1]; complete -C $argv[2]' \
    "$comp/sigdump.fish" "$1" | cut -f1 | tidy)
}
mkdir -p "$tmp/fpath"
cp "$comp/sigdump.zsh" "$tmp/fpath/_sigdump"
cat >"$tmp/zpty.zsh" <<'EOF'
# $1: fpath folder, $2: output file, $3: the line; every match zsh adds goes to $2.
zmodload zsh/zpty || exit 3
zpty z "zsh -f -i"
zpty -w z "PROMPT=''; fpath=($1 \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z "compadd() { local -a h; builtin compadd -A h \"\$@\"; (( \$#h )) && print -rl -- \$h >>$2; builtin compadd \"\$@\"; }"
zpty -w z "bindkey '^I' complete-word; comppostfuncs=(exit)"
zpty -n -w z "$3"$'\t'
local line
while zpty -r z line; do :; done
zpty -d z
EOF
complete_zsh() {
  rm -f "$tmp/zsh.out"
  (cd "$tmp/cwd" && timeout 30 zsh -f "$tmp/zpty.zsh" "$tmp/fpath" "$tmp/zsh.out" "$1") || true
  [[ -f $tmp/zsh.out ]] && tidy <"$tmp/zsh.out"
  return 0
}

shells=(bash)
missing=()
for sh in fish zsh; do
  if command -v "$sh" >/dev/null; then shells+=("$sh"); else missing+=("$sh"); fi
done

# expect SHELL LINE WANTED...: every WANTED is offered.
expect() {
  local sh=$1 line=$2 got w
  shift 2
  got=$("complete_$sh" "$line")
  for w in "$@"; do
    grep -qxF -- "$w" <<<"$got" ||
      fail "$sh: '$line<TAB>' does not offer '$w' (got: $(head -20 <<<"$got" | tr '\n' ' '))"
  done
}
# expect_only SHELL LINE WANTED...: exactly these are offered.
expect_only() {
  local sh=$1 line=$2 got want
  shift 2
  got=$("complete_$sh" "$line")
  want=$(printf '%s\n' "$@" | sort -u)
  [[ $got == "$want" ]] ||
    fail "$sh: '$line<TAB>' offered '$(tr '\n' ' ' <<<"$got")', expected '$(tr '\n' ' ' <<<"$want")'"
}

for sh in "${shells[@]}"; do
  expect_only "$sh" "sigdump que" query
  expect "$sh" "sigdump " compare subscribe status query
  expect_only "$sh" "sigdump subscribe --no-r" --no-reconnect
  expect_only "$sh" "sigdump subscribe --since " last now
  expect_only "$sh" "sigdump ls --format " binary text
  expect_only "$sh" "sigdump ls dum" dump.bin dumps
  expect_only "$sh" "sigdump show dump.bin conv3_1/linear/bn" conv3_1/linear/bn_xx
  expect "$sh" "sigdump show dump.bin conv3_1/linear/" conv3_1/linear/bn_xx conv3_1/linear/weights
  expect_only "$sh" "sigdump subscribe --socket $sock --pair " net
  expect "$sh" "sigdump query --socket $sock --run " "$run_id"
  expect_only "$sh" "sigdump query --socket $sock --pair net conv3_1/linear/bn" conv3_1/linear/bn_xx
  # Global options come before the command.
  expect "$sh" "sigdump --h" --help --host
  expect_only "$sh" "sigdump --host ssh://example que" query
  expect_only "$sh" "sigdump --host ssh://example subscribe --no-r" --no-reconnect
done

if ((failures > 0)); then
  echo "$failures failure(s)" >&2
  exit 1
fi
if ((${#missing[@]} > 0)); then
  echo "SKIP: ${missing[*]} not installed (tests/install-deps.sh installs them); checked: ${shells[*]}"
  exit 0
fi
echo "ok: bash, fish and zsh complete commands, options, files, tensors, pairs and runs"
