#!/usr/bin/env bash
# Every tracked C++ file (*.cpp, *.h) is formatted as the repository's
# .clang-format says, by Debian 12's clang-format (major version 14: other
# versions format some constructs differently). Lists the files that drift;
# `clang-format -i FILE` fixes one. Registered in CTest with the label
# "format" (tests/CMakeLists.txt).
# $1: source tree (default: the repository holding this script).
set -euo pipefail

src_dir=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
cd "$src_dir"

# Where the check cannot run: SKIP on a developer's machine, a failure in
# CI, where tests/install-deps.sh installs what it needs.
cannot_run() {
  if [[ ${CI:-} == true ]]; then
    echo "FAIL: $1" >&2
    exit 1
  fi
  echo "SKIP: $1"
  exit 0
}

wanted_major=14
fmt=""
for candidate in clang-format-$wanted_major clang-format; do
  command -v "$candidate" >/dev/null 2>&1 || continue
  version=$("$candidate" --version 2>/dev/null || true)
  if [[ $version =~ version\ ([0-9]+)\. ]] && ((BASH_REMATCH[1] == wanted_major)); then
    fmt=$candidate
    break
  fi
done
[[ -n $fmt ]] || cannot_run "no clang-format $wanted_major (Debian 12's: apt-get install clang-format)"
[[ -f .clang-format ]] || cannot_run "no .clang-format in $src_dir"
git rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
  cannot_run "$src_dir is not a git work tree: no list of tracked files"

mapfile -d '' files < <(git ls-files -z -- '*.cpp' '*.h')
((${#files[@]} > 0)) || cannot_run "no tracked *.cpp or *.h file"

present=()
for f in "${files[@]}"; do
  # Not one deleted in the work tree and not yet committed.
  if [[ -f $f ]]; then present+=("$f"); fi
done
checked=${#present[@]}

# One run over every file; each drifting line is reported as
# "FILE:LINE:COLUMN: error: code should be clang-formatted".
report=$(mktemp)
trap 'rm -f "$report"' EXIT
status=0
"$fmt" --dry-run --Werror "${present[@]}" >/dev/null 2>"$report" || status=$?
mapfile -t drifted < <(sed -n 's/^\(.*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' \
  "$report" | sort -u)
if ((status != 0 && ${#drifted[@]} == 0)); then
  cat "$report" >&2
  echo "FAIL: $fmt exited $status" >&2
  exit 1
fi

if ((${#drifted[@]} > 0)); then
  echo "FAIL: ${#drifted[@]} of $checked files are not formatted as .clang-format says ($fmt);" \
    "fix each with: $fmt -i FILE" >&2
  printf '  %s\n' "${drifted[@]}" >&2
  exit 1
fi
echo "ok: $checked files formatted as .clang-format says ($("$fmt" --version))"
