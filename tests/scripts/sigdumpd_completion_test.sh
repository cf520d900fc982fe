#!/usr/bin/env bash
# The bash completion of sigdumpd (cli/completion/sigdumpd.bash) offers
# exactly the options of the daemon's option table, as `sigdumpd
# --list-options` prints them, each with the same kind of value; and it
# completes those values as promised (folders for a DIR, file names for a
# FILE or PATH and after a pair's NAME:, nothing for a number).
# $1: the build's bin folder, $2: source tree.
set -euo pipefail

bin_dir=$(cd "$1" && pwd)
src_dir=$(cd "${2:-$(dirname "$0")/../..}" && pwd)
comp=$src_dir/cli/completion/sigdumpd.bash

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sigdumpd-completion-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

bash -n "$comp" || fail "$comp is not valid bash"

"$bin_dir/sigdumpd" --list-options | sort >"$tmp/table" ||
  fail "sigdumpd --list-options exited $?"
[[ -s $tmp/table ]] || fail "sigdumpd --list-options printed nothing"
bash -c 'source "$1"; printf "%s\n" "${_sigdumpd_options[@]}"' _ "$comp" | sort >"$tmp/completion"
if ! diff -u --label "sigdumpd --list-options" --label "$comp" "$tmp/table" "$tmp/completion" \
  >"$tmp/diff"; then
  cat "$tmp/diff" >&2
  fail "the completion's option list differs from sigdumpd's option table (- table, + completion)"
fi

# Runs the completion on the words given; prints the candidates sorted.
complete_words() {
  (cd "$tmp/cwd" && bash -c '
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _sigdumpd
    printf "%s\n" "${COMPREPLY[@]}"' _ "$comp" "$@" | sort)
}
mkdir -p "$tmp/cwd/dumps"
touch "$tmp/cwd/dump.bin"

got=$(complete_words sigdumpd --)
while read -r opt _; do
  [[ $opt == --* ]] || continue
  grep -qx -- "$opt" <<<"$got" || fail "'sigdumpd --<TAB>' lacks $opt"
done <"$tmp/table"
got=$(complete_words sigdumpd "")
grep -qx -- "--watch" <<<"$got" || fail "'sigdumpd <TAB>' does not offer the options (got: $got)"

got=$(complete_words sigdumpd --state-dir "")
[[ $got == dumps ]] || fail "'sigdumpd --state-dir <TAB>' offered '$got', expected the folder 'dumps'"
got=$(complete_words sigdumpd --state-dir=d)
[[ $got == dumps ]] || fail "'sigdumpd --state-dir=d<TAB>' offered '$got', expected 'dumps'"
got=$(complete_words sigdumpd --watch "")
[[ $got == $'dump.bin\ndumps' ]] || fail "'sigdumpd --watch <TAB>' offered '$got'"
got=$(complete_words sigdumpd --config = d)
[[ $got == $'dump.bin\ndumps' ]] || fail "'sigdumpd --config = d<TAB>' offered '$got'"
got=$(complete_words sigdumpd --quiet-ms "")
[[ -z $got ]] || fail "'sigdumpd --quiet-ms <TAB>' offered '$got', expected nothing"
# --pair NAME:SAMPLE=BENCHMARK: nothing for the name, then file names after
# the ':' and after the '=', whether bash broke the word at them or not.
got=$(complete_words sigdumpd --pair "")
[[ -z $got ]] || fail "'sigdumpd --pair <TAB>' offered '$got', expected nothing (the name comes first)"
got=$(complete_words sigdumpd --pair net : d)
[[ $got == $'dump.bin\ndumps' ]] || fail "'sigdumpd --pair net:d<TAB>' (broken at ':') offered '$got'"
got=$(complete_words sigdumpd --pair net:d)
[[ $got == $'net:dump.bin\nnet:dumps' ]] || fail "'sigdumpd --pair net:d<TAB>' offered '$got'"
got=$(complete_words sigdumpd --pair net : dump.bin = d)
[[ $got == $'dump.bin\ndumps' ]] || fail "'sigdumpd --pair net:dump.bin=d<TAB>' offered '$got'"
got=$(complete_words sigdumpd --pair=net:dump.bin=d)
[[ $got == $'--pair=net:dump.bin=dump.bin\n--pair=net:dump.bin=dumps' ]] ||
  fail "'sigdumpd --pair=net:dump.bin=d<TAB>' offered '$got'"
got=$(complete_words sigdumpd --debug "")
grep -qx -- "--watch" <<<"$got" || fail "'sigdumpd --debug <TAB>' does not offer the options"

if ((failures > 0)); then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "ok: completion matches the option table ($(wc -l <"$tmp/table") spellings)"
