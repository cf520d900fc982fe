#!/bin/bash
# Cold page cache: `sigdump compare --json` against a one-thread mmap
# read-and-sum of the same two files (read_and_sum), each run after the
# page cache was dropped (echo 1 > /proc/sys/vm/drop_caches: root only).
# The two go in blocks of RUNS runs, BLOCKS times in turn; the first run of
# each block is left out of the medians: on the build machine (a VM) the
# run after a switch of command pays for the host giving back memory the
# guest had freed (up to 8x for the one-thread read, counted as user time).
# Runs later in a block can pay that price too (seen as user time several
# times the command's least): the medians are printed for all the runs
# kept and again without those. Prints every run (wall s, user/sys s), the
# medians and the spread (fastest-slowest); ratio = compare / read.
#   bench/cold_compare.sh BIN_DIR SAMPLE BENCHMARK [BLOCKS [RUNS]] [-- COMPARE_OPTIONS...]
set -u
if [ $# -lt 3 ]; then
  echo "usage: $0 BIN_DIR SAMPLE BENCHMARK [BLOCKS [RUNS]] [-- COMPARE_OPTIONS...]" >&2
  exit 2
fi
bin=$1 sample=$2 bench=$3
shift 3
blocks=3 runs=3
if [ $# -gt 0 ] && [ "$1" != "--" ]; then blocks=$1; shift; fi
if [ $# -gt 0 ] && [ "$1" != "--" ]; then runs=$1; shift; fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
options=("$@")
if ! { sync && echo 1 >/proc/sys/vm/drop_caches; } 2>/dev/null; then
  echo "SKIP: cannot drop the page cache here (writing /proc/sys/vm/drop_caches needs root)"
  exit 0
fi

times=$(mktemp)
trap 'rm -f "$times"' EXIT
# Runs one command on a cold page cache; prints "WALL USER SYS".
cold() {
  sync; echo 1 >/proc/sys/vm/drop_caches
  local t0 rc; t0=$(date +%s.%N)
  /usr/bin/time -f '%U %S' -o "$times" "$@" >/dev/null
  rc=$?
  [ $rc -le 1 ] || { echo "$* failed (exit $rc)" >&2; exit 1; }
  echo "$(echo "$(date +%s.%N) - $t0" | bc) $(tail -1 "$times")"
}

echo "$(date -u +%FT%TZ) $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), SIGDUMP_ISA=${SIGDUMP_ISA:-}"
reads=() compares=() read_users=() compare_users=()
for ((b = 0; b < blocks; b++)); do
  for what in read compare; do
    line="block $b $what:"
    for ((i = 0; i < runs; i++)); do
      if [ $what = read ]; then
        set -- $(cold "$bin/read_and_sum" "$sample" "$bench")
      else
        set -- $(cold "$bin/sigdump" compare --json "${options[@]}" "$sample" "$bench")
      fi
      line+=$(printf ' %.3f (%s/%s)' "$1" "$2" "$3")
      if ((i > 0)); then
        if [ $what = read ]; then
          reads+=("$1") read_users+=("$2")
        else
          compares+=("$1") compare_users+=("$2")
        fi
      fi
    done
    echo "$line"
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
spread() { printf '%s\n' "$@" | sort -g | sed -n '1p;$p' | xargs printf '%.3f-%.3f s' ; }
# Runs of a command whose user time is more than twice its least: those
# that still paid the host (user time, not wall, so load does not decide).
paid() { # WALLS... -- USERS...
  local w=() u=() k
  while [ "$1" != -- ]; do w+=("$1"); shift; done
  shift
  u=("$@")
  local least; least=$(printf '%s\n' "${u[@]}" | sort -g | head -1)
  for k in "${!w[@]}"; do
    if [ "$(echo "${u[$k]} <= 2 * $least + 0.02" | bc)" = 1 ]; then echo "${w[$k]}"; fi
  done
}
report() { # LABEL READS... -- COMPARES...
  local label=$1 rs=() cs=()
  shift
  while [ "$1" != -- ]; do rs+=("$1"); shift; done
  shift
  cs=("$@")
  local r c; r=$(median "${rs[@]}") c=$(median "${cs[@]}")
  printf '%s: cold read %.3f s (%d runs, %s), cold compare %.3f s (%d runs, %s), ratio %.2f\n' \
    "$label" "$r" ${#rs[@]} "$(spread "${rs[@]}")" "$c" ${#cs[@]} "$(spread "${cs[@]}")" \
    "$(echo "scale=3; $c / $r" | bc)"
}
report "median, all runs but each block's first" "${reads[@]}" -- "${compares[@]}"
mapfile -t clean_reads < <(paid "${reads[@]}" -- "${read_users[@]}")
mapfile -t clean_compares < <(paid "${compares[@]}" -- "${compare_users[@]}")
report "median, runs whose user time is at most twice the command's least" \
  "${clean_reads[@]}" -- "${clean_compares[@]}"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
