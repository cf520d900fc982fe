#!/bin/bash
# Cold page cache: `sigdump compare --json` against a one-thread mmap
# read-and-sum of the same two files (read_and_sum), each run after the
# page cache was dropped (echo 1 > /proc/sys/vm/drop_caches: root only),
# the two in turns, which one goes first alternating. Prints every run and
# the medians; `ratio` = compare / read (wall seconds).
#   bench/cold_compare.sh BIN_DIR SAMPLE BENCHMARK [RUNS] [-- COMPARE_OPTIONS...]
set -u
if [ $# -lt 3 ]; then
  echo "usage: $0 BIN_DIR SAMPLE BENCHMARK [RUNS] [-- COMPARE_OPTIONS...]" >&2
  exit 2
fi
bin=$1 sample=$2 bench=$3
shift 3
runs=5
if [ $# -gt 0 ] && [ "$1" != "--" ]; then runs=$1; shift; fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
if ! { sync && echo 1 >/proc/sys/vm/drop_caches; } 2>/dev/null; then
  echo "SKIP: cannot drop the page cache here (writing /proc/sys/vm/drop_caches needs root)"
  exit 0
fi

now() { date +%s.%N; }
time_read() {
  sync; echo 1 >/proc/sys/vm/drop_caches
  local t0; t0=$(now)
  "$bin/read_and_sum" "$sample" "$bench" >/dev/null || exit 1
  echo "$(now) - $t0" | bc
}
time_compare() {
  sync; echo 1 >/proc/sys/vm/drop_caches
  local t0 rc; t0=$(now)
  "$bin/sigdump" compare --json "$@" "$sample" "$bench" >/dev/null
  rc=$?
  [ $rc -le 1 ] || { echo "sigdump compare failed (exit $rc)" >&2; exit 1; }
  echo "$(now) - $t0" | bc
}

echo "$(date -u +%FT%TZ) $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), SIGDUMP_ISA=${SIGDUMP_ISA:-}"
reads=() compares=() ratios=() read_first=() compare_first=()
for ((i = 0; i < runs; i++)); do
  if ((i % 2 == 0)); then
    r=$(time_read); c=$(time_compare "$@")
  else
    c=$(time_compare "$@"); r=$(time_read)
  fi
  ratio=$(echo "scale=3; $c / $r" | bc)
  printf 'run %d (%s first): cold read %.3f s, cold compare %.3f s, ratio %.2f\n' "$i" \
    "$( ((i % 2 == 0)) && echo read || echo compare)" "$r" "$c" "$ratio"
  reads+=("$r") compares+=("$c") ratios+=("$ratio")
  if ((i % 2 == 0)); then read_first+=("$ratio"); else compare_first+=("$ratio"); fi
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
printf 'median: cold read %.3f s, cold compare %.3f s, ratio of medians %.2f, median ratio %.2f\n' \
  "$(median "${reads[@]}")" "$(median "${compares[@]}")" \
  "$(echo "scale=3; $(median "${compares[@]}") / $(median "${reads[@]}")" | bc)" "$(median "${ratios[@]}")"
# On a virtual machine the run right after another one can be the slower
# one whichever it is; the geometric mean of the two orders' median ratios
# cancels a penalty for going second.
if ((runs >= 2)); then
  printf 'median ratio with read first %.2f, with compare first %.2f, geometric mean %.2f\n' \
    "$(median "${read_first[@]}")" "$(median "${compare_first[@]}")" \
    "$(echo "sqrt($(median "${read_first[@]}") * $(median "${compare_first[@]}"))" | bc -l)"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
