#!/usr/bin/env bash
# Opens a real HTML report in headless Chromium: two dumps from the built-in
# simulator (fixed vs float), the report written by `sigdump compare --html`
# (or `sigdump report` when compare lacks the flag), then a screenshot that
# must not be blank and the DOM after the page's scripts ran, which must hold
# the chart, the threshold lines, one table row per layer and one histogram
# section per suspect layer. Also checks `sigdump report` itself (exit
# status, SVG output, errors). Skips (exit 0, "SKIP: ...") without
# `sigdump simulate`, and skips the browser part without Chromium.
# $1: the build's bin folder, $2: source tree (unused; kept for symmetry).
# Set SIGDUMP_KEEP_SCREENSHOT=FILE to keep the screenshot.
set -euo pipefail

bin_dir=$(cd "$1" && pwd)
sigdump=$bin_dir/sigdump

if ! "$sigdump" simulate --help >/dev/null 2>&1; then
  echo "FAIL: 'sigdump simulate --help' failed in $bin_dir" >&2
  exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sigdump-html-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
# Runs a command, storing its exit status in $rc (set -e would stop at 1).
run() {
  set +e
  "$@"
  rc=$?
  set -e
}

"$sigdump" simulate --mode float --out "$tmp/float.bin"
"$sigdump" simulate --mode fixed --out "$tmp/fixed.bin"

# `sigdump report` on its own (no browser needed): exit status like
# compare (1: suspect layers, 0: none, 2: usage or output errors), the SVG
# chart standalone, errors naming the file, no temporary file left behind.
if "$sigdump" report --help >/dev/null 2>&1; then
  run "$sigdump" report "$tmp/fixed.bin" "$tmp/float.bin" --plot "$tmp/chart.svg" >"$tmp/r.out"
  [[ $rc -eq 1 ]] || fail "report fixed float --plot exited $rc, expected 1 (suspect layers)"
  head -c 100 "$tmp/chart.svg" | grep -q '^<?xml' || fail "chart.svg lacks the XML declaration"
  grep -q 'xmlns="http://www.w3.org/2000/svg" id="metric-chart"' "$tmp/chart.svg" ||
    fail "chart.svg is not a standalone metric chart"
  grep -q "chart.svg: .* suspect" "$tmp/r.out" || fail "report printed no summary: $(cat "$tmp/r.out")"
  run "$sigdump" report "$tmp/float.bin" "$tmp/float.bin" --out "$tmp/same.html" >/dev/null
  [[ $rc -eq 0 ]] || fail "report float float exited $rc, expected 0"
  grep -q 'No layer breaks the thresholds' "$tmp/same.html" || fail "same.html reports a bad layer"
  run "$sigdump" report "$tmp/fixed.bin" >/dev/null 2>"$tmp/usage.err"
  [[ $rc -eq 2 ]] || fail "report with one file exited $rc, expected 2"
  grep -q '^sigdump: error: ' "$tmp/usage.err" || fail "no error message for bad usage"
  run "$sigdump" report "$tmp/fixed.bin" "$tmp/float.bin" --out "$tmp/no/such/r.html" \
    >/dev/null 2>"$tmp/write.err"
  [[ $rc -eq 2 ]] || fail "report into a missing folder exited $rc, expected 2"
  grep -q "$tmp/no/such/r.html" "$tmp/write.err" || fail "write error does not name the file"
  if compgen -G "$tmp/*.tmp*" >/dev/null; then fail "temporary files left in $tmp"; fi
fi

html=$tmp/report.html
# Exit 1 means "suspect layers found", which the fixed model has.
if "$sigdump" compare --help 2>/dev/null | grep -q -- '--html'; then
  how="sigdump compare --html"
  run "$sigdump" compare "$tmp/fixed.bin" "$tmp/float.bin" --html "$html" >"$tmp/compare.out"
elif "$sigdump" report --help >/dev/null 2>&1; then
  how="sigdump report"
  run "$sigdump" report "$tmp/fixed.bin" "$tmp/float.bin" --out "$html" >"$tmp/compare.out"
else
  echo "FAIL: neither 'sigdump compare --help' lists --html nor 'sigdump report --help' works" >&2
  exit 1
fi
if [[ $rc -ne 0 && $rc -ne 1 ]]; then
  fail "$how exited $rc"
fi
if [[ ! -s $html ]]; then
  echo "FAIL: $how wrote no $html" >&2
  exit 1
fi
# Written atomically: no temporary file left beside it.
if compgen -G "$html.tmp*" >/dev/null; then fail "temporary file left beside $html"; fi

browser=
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then
    browser=$(command -v "$b")
    break
  fi
done
if [[ -z $browser || -z $(command -v python3) ]]; then
  if [[ $failures -ne 0 ]]; then exit 1; fi
  echo "SKIP: no chromium (apt-get install chromium) or no python3: browser checks skipped"
  exit 0
fi

# Chromium must not reach the network: the page is self-contained.
chrome() {
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-dev-shm-usage --user-data-dir="$(mktemp -d "$tmp/profile-XXXXXX")" "$@"
}

# A copy of the page with a probe that sorts the table by COS both ways,
# as a click on the header does, and records the order it got.
python3 - "$html" "$tmp/probe.html" <<'EOF'
import sys
page = open(sys.argv[1], encoding="utf-8").read()
probe = """<script>(function(){
var t=document.getElementById('layer-table'),th=t.tHead.rows[0].cells[6];
function col(){var r=t.tBodies[0].rows,v=[];for(var i=0;i<r.length;i++)v.push(r[i].cells[6].getAttribute('data-v'));return v.join(' ');}
th.click();document.body.setAttribute('data-probe-up',col());
th.click();document.body.setAttribute('data-probe-down',col());})();</script>"""
open(sys.argv[2], "w", encoding="utf-8").write(page.replace("</body>", probe + "</body>"))
EOF

shot=$tmp/shot.png
chrome --screenshot="$shot" --window-size=1400,2000 "file://$html" >"$tmp/shot.log" 2>&1 ||
  fail "chromium --screenshot failed: $(tail -3 "$tmp/shot.log")"
# One DOM dump serves every check below: the probe only reorders rows.
chrome --dump-dom "file://$tmp/probe.html" >"$tmp/dom.html" 2>"$tmp/dom.log" ||
  fail "chromium --dump-dom failed: $(tail -3 "$tmp/dom.log")"
python3 - "$tmp/dom.html" <<'EOF' || fail "sorting the table by clicking the COS header"
import re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
def order(name):
    m = re.search(name + r'="([^"]*)"', dom)
    if not m:
        sys.exit(f"{name} missing: the page's script did not sort")
    return [float(v) for v in m.group(1).split()]
up, down = order("data-probe-up"), order("data-probe-down")
if up != sorted(up) or down != sorted(down, reverse=True) or len(up) < 2:
    sys.exit(f"not sorted: up {up[:5]}..., down {down[:5]}...")
print(f"table sorts by COS both ways ({len(up)} rows)")
EOF

# The screenshot: a real PNG of the requested size, not one flat colour.
python3 - "$shot" <<'EOF' || fail "screenshot check"
import struct, sys, zlib

path = sys.argv[1]
data = open(path, "rb").read()
if len(data) < 20000:
    sys.exit(f"{path}: only {len(data)} bytes, a blank page compresses to less")
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit(f"{path}: not a PNG")
pos, idat, width = 8, b"", 0
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        width, height, depth, color = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + length
if depth != 8 or color not in (2, 6):
    sys.exit(f"{path}: unexpected PNG format depth {depth} colour {color}")
if (width, height) != (1400, 2000):
    sys.exit(f"{path}: {width}x{height}, expected 1400x2000")
bpp = 3 if color == 2 else 4
raw = zlib.decompress(idat)
stride = width * bpp
prev = bytearray(stride)
colours, inked = set(), 0
for y in range(height):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    if f == 1:
        for i in range(bpp, stride):
            line[i] = (line[i] + line[i - bpp]) & 255
    elif f == 2:
        line = bytearray((a + b) & 255 for a, b in zip(line, prev))
    elif f == 3:
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
    elif f == 4:
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            line[i] = (line[i] + pred) & 255
    prev = line
    if y % 4 == 0:  # a sample of rows is plenty
        for x in range(0, stride, bpp * 2):
            px = bytes(line[x:x + 3])
            colours.add(px)
            if px != b"\xff\xff\xff":
                inked += 1
sampled = (height // 4) * (width // 2)
if len(colours) < 16:
    sys.exit(f"{path}: only {len(colours)} distinct colours: a blank or broken page")
if inked < sampled // 100:
    sys.exit(f"{path}: {inked} of {sampled} sampled pixels are not white")
print(f"screenshot {width}x{height}: {len(colours)} colours, {100 * inked / sampled:.1f}% inked")
EOF

# The DOM after the scripts ran (and ran to the end without an exception).
dom=$tmp/dom.html
grep -q 'data-script="ran"' "$dom" || fail "the page's script did not run to its end"
for id in metric-chart cos-panel rmse-panel mse-panel cos-threshold rmse-threshold \
          first-bad-marker layer-table advice-config copy-advice histograms; do
  grep -q "id=\"$id\"" "$dom" || fail "DOM lacks id=\"$id\""
done
layers=$(sed -n 's/.*id="layer-count">\([0-9]*\)<.*/\1/p' "$dom" | head -1)
suspect=$(sed -n 's/.*id="suspect-count"[^>]*>\([0-9]*\)<.*/\1/p' "$dom" | head -1)
rows=$(grep -o '<tr id="layer-[0-9]*"' "$dom" | wc -l)
hists=$(grep -o 'class="layer-hist"' "$dom" | wc -l)
hits=$(grep -o '<rect class="hit"[^>]*data-layer=' "$dom" | wc -l)
if [[ -z $layers || $layers -lt 5 ]]; then fail "layer count '$layers' in the DOM"; fi
if [[ $rows -ne ${layers:-0} ]]; then fail "$rows table rows for $layers layers"; fi
if [[ $hits -ne ${layers:-0} ]]; then fail "$hits chart hover areas for $layers layers"; fi
if [[ -z $suspect || $suspect -lt 1 ]]; then fail "the fixed model shows no suspect layer"; fi
expect=$(( ${suspect:-0} < 32 ? ${suspect:-0} : 32 ))
if [[ $hists -ne $expect ]]; then fail "$hists histogram sections for $suspect suspect layers"; fi
# Values went through: every histogram drew its bins, none failed to read.
if grep -q 'hist-error' "$dom"; then fail "a histogram could not read its values"; fi
if ! grep -q 'class="bin"' "$dom"; then fail "no histogram bins in the DOM"; fi

if [[ -n ${SIGDUMP_KEEP_SCREENSHOT:-} ]]; then cp "$shot" "$SIGDUMP_KEEP_SCREENSHOT"; fi

if [[ $failures -ne 0 ]]; then
  echo "$failures check(s) failed ($how)" >&2
  exit 1
fi
echo "ok: $how -> $layers layers, $suspect suspect, $rows rows, $hists histogram sections"
