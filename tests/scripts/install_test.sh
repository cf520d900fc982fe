#!/usr/bin/env bash
# Installs the build into a temporary prefix (cmake --install) and checks
# what a user gets: the installed programs run, and the man pages, systemd
# user units, bash completion and documentation are where they belong.
# $1: the build's bin folder (its parent is the build tree), $2: source tree.
set -euo pipefail

bin_dir=$(cd "$1" && pwd)
build_dir=$(dirname "$bin_dir")
src_dir=${2:-$(cd "$(dirname "$0")/../.." && pwd)}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sigdump-install-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/usr

# An absolute unit folder would make `cmake --install --prefix` write into
# the real system: refuse rather than touch it.
unit_dir=$(sed -n 's/^SIGDUMP_SYSTEMD_USER_UNIT_DIR:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)
if [[ $unit_dir == /* ]]; then
  echo "SKIP: SIGDUMP_SYSTEMD_USER_UNIT_DIR is absolute ($unit_dir); not installing from a test"
  exit 0
fi

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

if ! cmake --install "$build_dir" --prefix "$prefix" >"$tmp/install.log" 2>&1; then
  cat "$tmp/install.log" >&2
  echo "FAIL: cmake --install $build_dir --prefix $prefix" >&2
  exit 1
fi

# Programs: installed, runnable from the prefix, same version as the project.
version=$(sed -n 's/^project(sigdump VERSION \([0-9.]*\).*/\1/p' "$src_dir/CMakeLists.txt")
for prog in sigdump sigdumpd; do
  exe=$prefix/bin/$prog
  if [[ ! -x $exe ]]; then
    fail "$exe not installed"
    continue
  fi
  out=$("$exe" --version 2>&1) || fail "$prog --version exited $?: $out"
  [[ $out == "$prog $version "* ]] || fail "$prog --version printed '$out', expected '$prog $version ...'"
done
help=$("$prefix/bin/sigdump" --help 2>&1) || fail "sigdump --help exited $?"
grep -q '^usage: sigdump' <<<"$help" || fail "sigdump --help has no usage line: $help"
commands=$(awk '/^commands:/{f=1;next} f&&/^[^ ]/{f=0} f&&/^  [a-z]/{print $1}' <<<"$help")
[[ -n $commands ]] || fail "sigdump --help lists no commands"
dhelp=$("$prefix/bin/sigdumpd" --help 2>&1) || fail "sigdumpd --help exited $?"

# Man pages: present, and groff renders them without a warning.
for page in sigdump.1 sigdumpd.1; do
  f=$prefix/share/man/man1/$page
  if [[ ! -s $f ]]; then
    fail "$f not installed"
    continue
  fi
  if command -v groff >/dev/null; then
    warnings=$(groff -man -Tutf8 -ww -z "$f" 2>&1) || fail "groff failed on $page"
    [[ -z $warnings ]] || fail "groff warnings in $page: $warnings"
  fi
  if command -v mandoc >/dev/null; then
    lint=$(mandoc -T lint -W warning "$f" 2>&1) || fail "mandoc -T lint on $page: $lint"
  fi
done
# Every command and every long flag of the programs is in their man page.
man_text() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$prefix/share/man/man1/$1"; }
if [[ -s $prefix/share/man/man1/sigdump.1 ]]; then
  page=$(man_text sigdump.1)
  for c in $commands; do
    grep -q -- "$c" <<<"$page" || fail "sigdump.1 does not document command '$c'"
    flags=$("$prefix/bin/sigdump" "$c" --help 2>/dev/null | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u || true)
    for fl in $flags; do
      grep -q -- "$fl" <<<"$page" || fail "sigdump.1 does not document '$c $fl'"
    done
  done
fi
if [[ -s $prefix/share/man/man1/sigdumpd.1 ]]; then
  page=$(man_text sigdumpd.1)
  while read -r fl; do
    grep -q -- "$fl" <<<"$page" || fail "sigdumpd.1 does not document '$fl'"
  done < <(grep -oE -- '--[a-z][a-z0-9-]+' <<<"$dhelp" | sort -u)
fi

# systemd user units, configured for this prefix.
units=$prefix/${unit_dir:-lib/systemd/user}
for u in sigdumpd.socket sigdumpd.service; do
  [[ -s $units/$u ]] || fail "$units/$u not installed"
done
if [[ -s $units/sigdumpd.service ]]; then
  grep -qx "ExecStart=$prefix/bin/sigdumpd --foreground" "$units/sigdumpd.service" ||
    fail "ExecStart of the installed service does not name $prefix/bin/sigdumpd: $(grep ExecStart "$units/sigdumpd.service")"
  ! grep -n '@[A-Z_]*@' "$units/sigdumpd.service" "$units/sigdumpd.socket" ||
    fail "unsubstituted @VARIABLE@ in the installed units"
fi

# Bash completion: installed under the name bash-completion loads on demand,
# valid bash, and completes the commands sigdump --help lists.
comp=$prefix/share/bash-completion/completions/sigdump
if [[ ! -s $comp ]]; then
  fail "$comp not installed"
else
  bash -n "$comp" || fail "$comp is not valid bash"
  got=$(PATH="$prefix/bin:$PATH" bash -c '
    source "$1"
    COMP_WORDS=(sigdump ""); COMP_CWORD=1; _sigdump; printf "%s\n" "${COMPREPLY[@]}"' _ "$comp" | sort)
  for c in $commands; do
    grep -qx -- "$c" <<<"$got" || fail "completion of 'sigdump <TAB>' lacks '$c' (got: $(tr '\n' ' ' <<<"$got"))"
  done
  for c in $commands; do
    flags=$(PATH="$prefix/bin:$PATH" bash -c '
      source "$1"
      COMP_WORDS=(sigdump "$2" --); COMP_CWORD=2; _sigdump; printf "%s\n" "${COMPREPLY[@]}"' _ "$comp" "$c")
    grep -qx -- "--help" <<<"$flags" || fail "completion of 'sigdump $c --<TAB>' lacks --help (got: $(tr '\n' ' ' <<<"$flags"))"
  done
fi

# zsh and fish completions: where Debian's zsh and fish look for them.
[[ -s $prefix/share/zsh/vendor-completions/_sigdump ]] ||
  fail "$prefix/share/zsh/vendor-completions/_sigdump not installed"
[[ -s $prefix/share/fish/vendor_completions.d/sigdump.fish ]] ||
  fail "$prefix/share/fish/vendor_completions.d/sigdump.fish not installed"

# Documentation.
doc=$prefix/share/doc/sigdump
[[ -s $doc/README.md ]] || fail "$doc/README.md not installed"
for f in "$src_dir"/docs/*.md; do
  [[ -e $f ]] || continue
  [[ -s $doc/$(basename "$f") ]] || fail "$doc/$(basename "$f") not installed"
done
if [[ -d $src_dir/docs/examples ]]; then
  [[ -d $doc/examples ]] || fail "$doc/examples not installed"
fi
[[ ! -e $doc/man ]] || fail "man page sources installed under $doc/man"

if ((failures > 0)); then
  echo "install_test: $failures failure(s); installed tree:" >&2
  (cd "$prefix" && find . -type f | sort) >&2
  exit 1
fi
echo "install_test: ok ($(cd "$prefix" && find . -type f | wc -l) files installed under a temporary prefix)"
