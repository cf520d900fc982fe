#!/usr/bin/env bash
# The README's demo, end to end: real simulator processes, a real sigdumpd,
# a live subscriber; it must end by itself, find the designed layer, fix it
# with the INT16 advice, and leave nothing behind.
set -euo pipefail
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export TMPDIR=$tmp

out=$(timeout 120 "$bin/sigdump" demo --pace-ms 5 --no-color) || {
  echo "FAIL: sigdump demo exited $?"; echo "$out"; exit 1; }
echo "$out"

check() {
  grep -qF -- "$1" <<<"$out" || { echo "FAIL: demo output lacks: $1"; exit 1; }
}
check "first bad layer: 8) conv3_1/linear/bn_xx"
check "tensor_arrays='conv3_1/expand/bn_xx_xx"
check "8) conv3_1/linear/bn_xx"
check "first bad layer now: none"
# The coverage line, the ranked advice (root cause first) and the first bad
# layer's channels, as docs/user-guide.md shows them.
check "coverage: 13 of 13 sample layers compared"
check "1. conv3_1/expand/bn_xx_xx  (root cause: input of 8) conv3_1/linear/bn_xx"
check "channels of conv3_1/linear/bn_xx:"
check "largest |a-b| at n,h,w,c: [0,3,5,23]"
if grep -q "still suspect" <<<"$out"; then echo "FAIL: a layer is still suspect"; exit 1; fi

# Nothing left: no demo folder, no daemon of ours.
if compgen -G "$tmp/sigdump-demo-*" >/dev/null; then
  echo "FAIL: demo folder left behind: $(ls "$tmp")"; exit 1
fi
if pgrep -f "sigdumpd.*$tmp" >/dev/null; then echo "FAIL: sigdumpd still running"; exit 1; fi
echo "PASS: demo"
