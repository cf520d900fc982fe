#!/usr/bin/env bash
# `sigdump report RUN`: a run a real sigdumpd recorded for a pair becomes an
# HTML report; unknown runs and runs of no pair are clear errors (exit 2).
set -euo pipefail
bin=$1
T=$(mktemp -d)
daemon=
cleanup() { [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
mkdir -p "$T/float" "$T/fixed"
"$bin/sigdump" simulate --mode float --out "$T/float/sigma_outtensor_dump.bin"
XDG_CONFIG_HOME=$T/config "$bin/sigdumpd" --foreground --socket "$T/sock" --state-dir "$T/state" \
  --watch "$T/fixed" --watch "$T/float" \
  --pair "demo:$T/fixed/sigma_outtensor_dump.bin=$T/float/sigma_outtensor_dump.bin" 2>"$T/daemon.log" &
daemon=$!
for _ in $(seq 200); do [ -S "$T/sock" ] && break; sleep 0.05; done
[ -S "$T/sock" ] || { echo "FAIL: daemon did not listen"; cat "$T/daemon.log"; exit 1; }
"$bin/sigdump" simulate --mode fixed --out "$T/fixed/sigma_outtensor_dump.bin"
# Wait until the pair's run has all 13 layers (column 5: RUN STATE PAIR AGAINST LAYERS).
run=
for _ in $(seq 200); do
  line=$("$bin/sigdump" runs --socket "$T/sock" --pair demo | awk 'NR==2')
  if [ "$(awk '{print $5}' <<<"$line")" = 13 ]; then run=$(awk '{print $1}' <<<"$line"); break; fi
  sleep 0.05
done
[ -n "$run" ] || { echo "FAIL: the pair's run never reached 13 layers"; exit 1; }

set +e
out=$("$bin/sigdump" report "$run" --html "$T/r.html" --socket "$T/sock"); rc=$?
set -e
[ $rc -eq 1 ] || { echo "FAIL: report $run exited $rc (want 1: suspect layers)"; exit 1; }
grep -q "first bad #8 conv3_1/linear/bn_xx" <<<"$out" || { echo "FAIL: summary: $out"; exit 1; }
grep -q "<svg" "$T/r.html" || { echo "FAIL: no chart in the report"; exit 1; }

set +e
err=$("$bin/sigdump" report r999 --socket "$T/sock" 2>&1); rc=$?
set -e
[ $rc -eq 2 ] && grep -q "no run 'r999'" <<<"$err" || { echo "FAIL: unknown run: $rc $err"; exit 1; }
set +e
err=$("$bin/sigdump" report r1 --socket "$T/nosuch" 2>&1); rc=$?
set -e
[ $rc -eq 2 ] && grep -q "no sigdumpd listening" <<<"$err" || { echo "FAIL: no daemon: $rc $err"; exit 1; }
echo "PASS: report RUN"
