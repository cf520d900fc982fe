#!/usr/bin/env bash
# The Neovim plugin (docs/examples/nvim) against a real sigdumpd: it must
# show the first bad layer while the miniature simulator writes the fixed
# dump, then, after the daemon restarts and a fixed run with INT16 lands,
# reconnect by itself and show that run's layers as ok.
# usage: nvim_plugin_test.sh BIN_DIR SOURCE_DIR
set -euo pipefail

bin=${1:?usage: nvim_plugin_test.sh BIN_DIR SOURCE_DIR}
src=${2:?usage: nvim_plugin_test.sh BIN_DIR SOURCE_DIR}

if ! command -v nvim >/dev/null 2>&1; then
  echo "SKIP: nvim not installed"
  exit 0
fi
if ! nvim --headless -u NONE -i NONE -n \
  --cmd 'lua if not (vim.json and vim.loop) then vim.cmd("cquit") end' --cmd 'qall!' </dev/null; then
  echo "SKIP: this nvim has no vim.json (Neovim 0.7 or newer is needed)"
  exit 0
fi

t=$(mktemp -d)
daemon_pid=
nvim_pid=
sshd_pid=
cleanup() {
  if [[ -n $sshd_pid ]]; then
    kill "$sshd_pid" 2>/dev/null || true
  fi
  if [[ -n $nvim_pid ]]; then
    kill "$nvim_pid" 2>/dev/null || true
  fi
  if [[ -n $daemon_pid ]]; then
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$t"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  for f in "$t"/daemon*.log "$t"/nvim.log "$t"/result* "$t"/remote[0-9] "$t"/ssh/sshd.log; do
    [[ -f $f ]] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
  done
  exit 1
}

# Waits up to $2 seconds (default 30) for file $1 to exist.
wait_for() {
  local i
  for ((i = 0; i < ${2:-30} * 10; i++)); do
    [[ -e $1 ]] && return 0
    sleep 0.1
  done
  return 1
}

mkdir -p "$t/fixed" "$t/float" "$t/config"
fixed=$t/fixed/sigma_outtensor_dump.bin
float=$t/float/sigma_outtensor_dump.bin
"$bin/sigdump" simulate --mode float --out "$float" >/dev/null

start_daemon() {
  XDG_CONFIG_HOME=$t/config "$bin/sigdumpd" --foreground --socket "$t/sock" \
    --state-dir "$t/state" --watch "$t/fixed" --watch "$t/float" \
    --pair "demo:$fixed=$float" >>"$t/daemon$1.log" 2>&1 &
  daemon_pid=$!
  wait_for "$t/sock" 30 || fail "sigdumpd did not create its socket $t/sock"
}
start_daemon 1

# The daemon must serve subscriptions (hello + subscribe over the socket);
# checked apart so that a daemon fault is not reported as a plugin fault.
if command -v python3 >/dev/null 2>&1 && ! python3 - "$t/sock" <<'EOF'; then
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b'{"id":1,"method":"hello","params":{"client":"nvim-test","protocol":1}}\n'
          b'{"id":2,"method":"subscribe","params":{"pair":"demo"}}\n')
f = s.makefile("rb")
replies = [json.loads(f.readline()) for _ in range(2)]
sys.exit(0 if all("result" in r for r in replies) else 1)
EOF
  fail "sigdumpd at $t/sock does not answer hello and subscribe with a result"
fi

# The editor: set up the plugin, wait for the first bad layer, record the
# statusline; then wait for the INT16 run after a daemon restart.
cat >"$t/check.lua" <<'EOF'
local t = os.getenv('SIGDUMP_TEST_DIR')
local sigdump = require('sigdump')
sigdump.setup({ socket = t .. '/sock', pair = 'demo', retry_ms = 100 })
local function save(name, ok)
  local f = io.open(t .. '/' .. name .. '.tmp', 'w')
  f:write((ok and 'ok' or 'timeout') .. '\n' .. sigdump.statusline() .. '\n')
  f:write(sigdump.status_text() .. '\n')
  f:close()
  os.rename(t .. '/' .. name .. '.tmp', t .. '/' .. name)
end
local function shows(text)
  return function() return sigdump.statusline():find(text, 1, true) ~= nil end
end
local ok = vim.wait(60000, shows('first bad 8) conv3_1/linear/bn_xx'), 50)
save('result1', ok)
if ok then
  -- Reconnect to the same daemon: the subscription resumes from our clock.
  sigdump.setup(sigdump.options())
  ok = vim.wait(30000, function() return sigdump.status_text():find('resumed from', 1, true) end, 50)
  save('result1b', ok)
  -- Run 2 has no bad layer; the daemon is restarted before it is written.
  ok = vim.wait(60000, function()
    -- Ended (no "so far") and connected (no "[retrying]").
    return sigdump.statusline():find(': 13 layers ok$') ~= nil
  end, 50)
  save('result2', ok)
end
sigdump.stop()
vim.cmd('qall!')
EOF
SIGDUMP_TEST_DIR=$t nvim --headless -u NONE -i NONE -n --cmd "set rtp+=$src/docs/examples/nvim" \
  -c "runtime plugin/sigdump.lua" -c "luafile $t/check.lua" >"$t/nvim.log" 2>&1 </dev/null &
nvim_pid=$!

"$bin/sigdump" simulate --mode fixed --out "$fixed" --pace-ms 20 >/dev/null
wait_for "$t/result1" 70 || fail "nvim wrote no result for the first run"
grep -qx ok "$t/result1" || fail "the statusline never named the first bad layer"
grep -q '^sigdump demo r[0-9]*: first bad 8) conv3_1/linear/bn_xx COS 0\.94[0-9]$' "$t/result1" ||
  fail "unexpected statusline for the first run"

wait_for "$t/result1b" 40 || fail "nvim wrote no result for the reconnection"
grep -qx ok "$t/result1b" || fail "reconnecting to the same daemon did not resume from the clock"
grep -q 'first bad 8) conv3_1/linear/bn_xx' "$t/result1b" || fail "the state was lost on reconnection"

# Restart the daemon (same state folder), then run the fixed model with
# both suspect convolution inputs in INT16: the plugin must reconnect.
kill "$daemon_pid"
wait "$daemon_pid" 2>/dev/null || true
daemon_pid=
start_daemon 2
"$bin/sigdump" simulate --mode fixed --int16 conv3_1/expand/bn_xx_xx,conv3_1/linear/bn_xx \
  --out "$fixed" --pace-ms 20 >/dev/null
wait "$nvim_pid" || true
nvim_pid=
[[ -f $t/result2 ]] || fail "nvim wrote no result for the second run"
grep -qx ok "$t/result2" || fail "the statusline never showed the INT16 run as ok"
grep -q '^sigdump demo r[0-9]*: 13 layers ok$' "$t/result2" ||
  fail "unexpected statusline for the second run"
grep -Eq '\(([3-9]|[1-9][0-9]+) connections\)' "$t/result2" || fail "the plugin did not reconnect after the restart"
grep -q 'fresh state from the daemon' "$t/result2" || fail "a new daemon instance must send its state whole"

# Over ssh (setup{host=}), as `sigdump --host` goes: a throwaway sshd
# (tests/support/start_sshd.sh) in front of the same daemon. The plugin shows
# its state, and when its ssh is killed it reconnects and resumes.
rc=0
port=$(bash "$src/tests/support/start_sshd.sh" "$t/ssh") || rc=$?
if ((rc == 77)); then
  echo "PASS: $(sed -n 2p "$t/result1") / $(sed -n 2p "$t/result2") (over ssh: not run, $port)"
  exit 0
fi
((rc == 0)) || fail "start_sshd.sh could not start sshd"
sshd_pid=$(cat "$t/ssh/sshd.pid")
cat >"$t/remote.lua" <<'LUA'
local t = os.getenv('SIGDUMP_TEST_DIR')
local sigdump = require('sigdump')
sigdump.setup({ host = os.getenv('SIGDUMP_TEST_HOST'), socket = t .. '/sock', pair = 'demo',
                retry_ms = 100 })
local function save(name, ok)
  local f = io.open(t .. '/' .. name .. '.tmp', 'w')
  f:write((ok and 'ok' or 'timeout') .. '\n' .. sigdump.statusline() .. '\n')
  f:write(sigdump.status_text() .. '\n')
  f:close()
  os.rename(t .. '/' .. name .. '.tmp', t .. '/' .. name)
end
local ok = vim.wait(30000, function() return sigdump.statusline():find(': 13 layers ok$') ~= nil end, 50)
save('remote1', ok)
if ok then
  -- The test kills our ssh now.
  vim.wait(30000, function() return vim.loop.fs_stat(t .. '/killed') ~= nil end, 50)
  ok = vim.wait(30000, function()
    local s = sigdump.status_text()
    return s:find('(2 connections)', 1, true) and s:find('resumed from', 1, true)
      and sigdump.statusline():find(': 13 layers ok$')
  end, 50)
  save('remote2', ok)
end
sigdump.stop()
vim.cmd('qall!')
LUA
SIGDUMP_TEST_DIR=$t SIGDUMP_TEST_HOST=ssh://127.0.0.1:$port SIGDUMP_SSH="ssh -F $t/ssh/ssh_config" \
  SIGDUMP_REMOTE_BIN="$(cd "$bin" && pwd)/sigdump" nvim --headless -u NONE -i NONE -n \
  --cmd "set rtp+=$src/docs/examples/nvim" -c "runtime plugin/sigdump.lua" \
  -c "luafile $t/remote.lua" >"$t/nvim.log" 2>&1 </dev/null &
nvim_pid=$!
wait_for "$t/remote1" 40 || fail "nvim wrote no result over ssh"
grep -qx ok "$t/remote1" || fail "over ssh the statusline never showed the daemon's state"
grep -q "^socket ssh://127.0.0.1:$port$t/sock: connected" "$t/remote1" ||
  fail "status_text does not name the remote daemon"
ssh_pid=$(pgrep -P "$nvim_pid" -x ssh) || fail "nvim runs no ssh"
kill -KILL "$ssh_pid"
touch "$t/killed"
wait_for "$t/remote2" 40 || fail "nvim wrote no result after its ssh was killed"
grep -qx ok "$t/remote2" || fail "the plugin did not reconnect over ssh and resume from its clock"
wait "$nvim_pid" || true
nvim_pid=
echo "PASS: $(sed -n 2p "$t/result1") / $(sed -n 2p "$t/result2") / over ssh: $(sed -n 2p "$t/remote2")"
