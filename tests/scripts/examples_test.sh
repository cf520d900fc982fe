#!/usr/bin/env bash
# Runs docs/examples/subscribe.py (on the sigdump package's client) against a
# real sigdumpd fed by real writers (sigdump simulate), and checks that it prints the suspect layers and that
# its saved clock makes the next start resume exactly after what it saw.
# usage: examples_test.sh BIN_DIR SOURCE_DIR
set -u
bin=${1:?usage: examples_test.sh BIN_DIR SOURCE_DIR}
src=${2:?usage: examples_test.sh BIN_DIR SOURCE_DIR}
example="$src/docs/examples/subscribe.py"

if ! command -v python3 >/dev/null 2>&1; then
  echo "SKIP: python3 is not installed (tests/install-deps.sh installs it)"
  exit 0
fi
for b in sigdump sigdumpd; do
  [ -x "$bin/$b" ] || { echo "FAIL: $bin/$b not built"; exit 1; }
done
# The example uses the sigdump package's client, from the build tree.
if [ ! -d "$bin/../python/sigdump" ]; then
  echo "SKIP: the Python module is not built in this configuration (see the sigdump: Python module line of cmake's output)"
  exit 0
fi
export PYTHONPATH="$(cd "$bin/../python" && pwd)${PYTHONPATH:+:$PYTHONPATH}"
# The interpreter the module was built for (CTest passes it), else python3.
python=${SIGDUMP_PYTHON:-python3}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sigdump-examples-XXXXXX")
daemon_pid=
cleanup() {
  if [ -n "$daemon_pid" ]; then
    kill "$daemon_pid" 2>/dev/null
    wait "$daemon_pid" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  for f in "$tmp"/*.log "$tmp"/*.out; do
    [ -f "$f" ] && { echo "--- $f"; tail -n 40 "$f"; }
  done
  exit 1
}

sock="$tmp/sock"
"$bin/sigdumpd" --foreground --socket "$sock" --state-dir "$tmp/state" \
  --pair "net:$tmp/fixed.bin=$tmp/float.bin" --watch "$tmp" >"$tmp/daemon.out" 2>"$tmp/daemon.log" &
daemon_pid=$!

echo "check: sigdumpd answers on $sock"
for _ in $(seq 1 200); do
  "$bin/sigdump" status --socket "$sock" >/dev/null 2>&1 && break
  kill -0 "$daemon_pid" 2>/dev/null || fail "sigdumpd exited"
  sleep 0.1
done
"$bin/sigdump" status --socket "$sock" >/dev/null 2>&1 || fail "sigdumpd never answered"

# Seed the example's clock file with the daemon's clock before any write, so
# it sees everything that follows however late it connects.
clock=$("$bin/sigdump" status --socket "$sock" --json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["daemon"]["clock"])') ||
  fail "no clock in status --json"
echo "$clock" >"$tmp/clock"

echo "check: subscribe.py prints the suspect layers of a run as it is written"
"$python" "$example" --socket "$sock" --clock-file "$tmp/clock" --pair net --until-run-end \
  --timeout 60 >"$tmp/first.out" 2>&1 &
sub=$!
"$bin/sigdump" simulate --mode float --out "$tmp/float.bin" >/dev/null || fail "simulate float"
"$bin/sigdump" simulate --mode fixed --pace-ms 5 --out "$tmp/fixed.bin" >/dev/null || fail "simulate fixed"
wait "$sub" || fail "subscribe.py exited $?"
grep -q '^SUSPECT run r[0-9]* layer 8 conv3_1/linear/bn_xx ' "$tmp/first.out" ||
  fail "first run: suspect layer conv3_1/linear/bn_xx not printed"
grep -q 'ended: .* first bad 8 conv3_1/linear/bn_xx' "$tmp/first.out" || fail "first run: no run end line"
grep -q '(replay)' "$tmp/first.out" && fail "first run: replayed events though the clock was current"
first_run=$(sed -n 's/^SUSPECT run \(r[0-9]*\) .*/\1/p' "$tmp/first.out" | head -n 1)
saved=$(cat "$tmp/clock")
[ "$saved" != "$clock" ] || fail "clock file not updated"
echo "  saw run $first_run; clock now $saved"

echo "check: a second start resumes from the saved clock (only the new run)"
# Remove first: a byte-identical rewrite in place can finish before the
# daemon looks, and then there is nothing to tell it apart from no write.
rm -f "$tmp/fixed.bin"
"$bin/sigdump" simulate --mode fixed --pace-ms 5 --out "$tmp/fixed.bin" >/dev/null || fail "simulate fixed again"
"$python" "$example" --socket "$sock" --clock-file "$tmp/clock" --pair net --until-run-end \
  --timeout 60 >"$tmp/second.out" 2>&1 || fail "second subscribe.py exited $?"
grep -q 'fresh_instance\|another daemon instance' "$tmp/second.out" && fail "second start was not a resume"
grep -q "^SUSPECT run $first_run " "$tmp/second.out" && fail "second start repeated run $first_run"
grep -q '^SUSPECT run r[0-9]* layer 8 conv3_1/linear/bn_xx ' "$tmp/second.out" ||
  fail "second run: suspect layer not printed"
[ "$(grep -c 'ended:' "$tmp/second.out")" = 1 ] || fail "second run: expected exactly one run end"

echo "check: no daemon gives exit 2 and a message"
"$python" "$example" --socket "$tmp/nothing/sock" --clock-file "$tmp/clock2" >"$tmp/none.out" 2>&1
rc=$?
[ "$rc" = 2 ] || fail "no daemon: exit $rc, expected 2"
grep -q 'no sigdumpd listening' "$tmp/none.out" || fail "no daemon: message missing"

echo "PASS: docs/examples/subscribe.py"
