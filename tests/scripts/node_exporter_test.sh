#!/usr/bin/env bash
# The monitoring export through a real node_exporter: sigdumpd writes its
# textfile (--metrics-dir), Debian's prometheus-node-exporter reads it with
# its textfile collector only, and a scrape of its /metrics must show the
# pair's run with the numbers `sigdump compare --json` gives for the same two
# dumps; after SIGTERM the scrape must say sigdump_daemon_up 0. The pair's
# name has a quote, a backslash and UTF-8 so node_exporter also checks our
# label escaping. A trigger (--on-first-bad true) puts the trigger series
# in the file. Skips (exit 0, "SKIP: ...") without the package.
# $1: the build's bin folder, $2: source tree (unused).
set -euo pipefail

bin=$(cd "$1" && pwd)
ne=/usr/bin/prometheus-node-exporter
if [ ! -x "$ne" ]; then
  echo "SKIP: prometheus-node-exporter is not installed (apt-get install prometheus-node-exporter)"
  exit 0
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/sigdump-ne-XXXXXX")
daemon=
exporter=
cleanup() {
  for p in $exporter $daemon; do kill "$p" 2>/dev/null || true; done
  for p in $exporter $daemon; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
  echo "FAIL: $*"
  for f in "$T/daemon.log" "$T/ne.log"; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done
  exit 1
}

mkdir -p "$T/w" "$T/prom"
pair='né "v2"\x'
"$bin/sigdump" simulate --mode float --out "$T/w/float.bin"
XDG_CONFIG_HOME=$T/config "$bin/sigdumpd" --foreground --socket "$T/sock" --state-dir "$T/state" \
  --watch "$T/w" --pair "$pair:$T/w/fixed.bin=$T/w/float.bin" \
  --metrics-dir "$T/prom" --metrics-interval-ms 200 --on-first-bad true 2>"$T/daemon.log" &
daemon=$!
for _ in $(seq 200); do [ -f "$T/prom/sigdumpd.prom" ] && break; sleep 0.05; done
[ -f "$T/prom/sigdumpd.prom" ] || fail "sigdumpd wrote no $T/prom/sigdumpd.prom"

# Our own node_exporter on a free loopback port (not the packaged service's
# 9100); a port taken between the probe and the bind is tried again.
port=
for _ in 1 2 3 4 5; do
  p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$ne" --web.listen-address="127.0.0.1:$p" --collector.disable-defaults --collector.textfile \
    --collector.textfile.directory="$T/prom" >"$T/ne.log" 2>&1 &
  exporter=$!
  for _ in $(seq 100); do
    if ! kill -0 "$exporter" 2>/dev/null; then break; fi
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$p/metrics', timeout=2)" 2>/dev/null; then
      port=$p
      break
    fi
    sleep 0.05
  done
  [ -n "$port" ] && break
  kill "$exporter" 2>/dev/null || true
  wait "$exporter" 2>/dev/null || true
  exporter=
done
[ -n "$port" ] || fail "node_exporter did not start"

"$bin/sigdump" simulate --mode fixed --out "$T/w/fixed.bin"
set +e
"$bin/sigdump" compare --json "$T/w/fixed.bin" "$T/w/float.bin" >"$T/compare.json"
rc=$?
set -e
[ $rc -le 1 ] || fail "sigdump compare exited $rc"

cat >"$T/check.py" <<'EOF'
# Scrapes node_exporter until the pair's run ended (bounded), then checks
# the values against compare --json. argv: port, pair, compare.json, mode
# ("run" or "down").
import json, math, sys, time, urllib.request

port, pair, compare_path, mode = sys.argv[1:5]

def unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append({"n": "\n", "\\": "\\", '"': '"'}.get(s[i + 1], "\\" + s[i + 1]))
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)

def parse(text):
    series = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        labels = {}
        if "{" in line:
            name, rest = line.split("{", 1)
            i = 0
            while rest[i] != "}":
                eq = rest.index("=", i)
                key = rest[i:eq].strip(", ")
                j = eq + 2
                val = []
                while rest[j] != '"':
                    if rest[j] == "\\":
                        val.append(rest[j:j + 2])
                        j += 2
                    else:
                        val.append(rest[j])
                        j += 1
                labels[key] = unescape("".join(val))
                i = j + 1
                if rest[i] == ",":
                    i += 1
            value = rest[i + 1:].split()[0]
        else:
            name, value = line.split()[:2]
        series[(name, tuple(sorted(labels.items())))] = float(value)
    return series

def scrape():
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode("utf-8")
    with open(compare_path + ".scrape", "w") as f:
        f.write(text)
    return parse(text)

def runs_of(s):
    return {dict(k[1])["run"] for k in s if k[0] == "sigdump_run_live" and dict(k[1]).get("pair") == pair}

def get(s, name, **labels):
    return s.get((name, tuple(sorted(labels.items()))))

deadline = time.monotonic() + 30
while True:
    s = scrape()
    if mode == "down":
        ok = get(s, "sigdump_daemon_up") == 0
    else:
        live = [r for r in runs_of(s) if get(s, "sigdump_run_current", pair=pair, run=r) == 1]
        ok = len(live) == 1 and get(s, "sigdump_run_live", pair=pair, run=live[0]) == 0
    if ok:
        break
    if time.monotonic() > deadline:
        sys.exit(f"FAIL: timed out waiting for mode {mode}; pair runs seen: {sorted(runs_of(s))}")
    time.sleep(0.1)

errors = []
def expect(what, got, want):
    same = (got == want) or (got is not None and want is not None and math.isnan(got) and math.isnan(want))
    if not same:
        errors.append(f"{what}: scraped {got}, expected {want}")

expect("node_textfile_scrape_error", get(s, "node_textfile_scrape_error"), 0)
if mode == "down":
    run = [r for r in runs_of(s) if get(s, "sigdump_run_current", pair=pair, run=r) == 1]
    expect("a current run is still there after stop", len(run), 1)
else:
    run = live[0]
    c = json.load(open(compare_path))
    layers = c["layers"]
    ok = [l for l in layers if l["error"] is None]
    fb = c["first_bad"]["index"] if c.get("first_bad") else -1
    L = dict(pair=pair, run=run)
    expect("layers", get(s, "sigdump_run_layers_compared", **L), len(layers))
    expect("suspect", get(s, "sigdump_run_suspect_layers", **L),
           sum(1 for l in layers if l["suspect"] or l["error"] is not None))
    expect("first bad", get(s, "sigdump_run_first_bad_layer", **L), fb)
    expect("worst cos", get(s, "sigdump_run_worst_cos", **L), min(l["cos"] for l in ok))
    expect("worst rmse", get(s, "sigdump_run_worst_rmse", **L), max(l["rmse"] for l in ok))
    expect("latest index", get(s, "sigdump_run_latest_layer_index", **L), layers[-1]["index"])
    expect("latest cos", get(s, "sigdump_run_latest_layer_cos", **L), layers[-1]["cos"])
    expect("latest rmse", get(s, "sigdump_run_latest_layer_rmse", **L), layers[-1]["rmse"])
    expect("latest mse", get(s, "sigdump_run_latest_layer_mse", **L), layers[-1]["mse"])
    expect("runs finished", (get(s, "sigdump_pair_runs_finished_total", pair=pair) or 0) >= 1, True)
    expect("up", get(s, "sigdump_daemon_up"), 1)
    expect("tracked files", get(s, "sigdump_daemon_tracked_files"), 2)
    print(f"scraped: run {run}: {len(layers)} layers, first bad {fb}, "
          f"worst COS {get(s, 'sigdump_run_worst_cos', **L)}")
if errors:
    sys.exit("FAIL: " + "; ".join(errors))
EOF

python3 "$T/check.py" "$port" "$pair" "$T/compare.json" run || fail "values after the run"

# The docs and the Grafana example name only metrics that exist.
src=${2:-}
if [ -n "$src" ] && [ -f "$src/docs/examples/grafana-panel.json" ]; then
  python3 -m json.tool "$src/docs/examples/grafana-panel.json" >/dev/null ||
    fail "docs/examples/grafana-panel.json is not valid JSON"
  for n in $(grep -ohE 'sigdump_[a-z_]+[a-z]' "$src/docs/examples/grafana-panel.json" "$src/docs/monitoring.md" | sort -u); do
    grep -q "^$n[{ ]" "$T/compare.json.scrape" || fail "the docs name $n, which the scrape does not have"
  done
fi
kill -TERM "$daemon"
wait "$daemon" || fail "sigdumpd exited $? on SIGTERM"
daemon=
python3 "$T/check.py" "$port" "$pair" "$T/compare.json" down || fail "values after SIGTERM"
echo "PASS: node_exporter serves sigdumpd's metrics"
