#!/usr/bin/env bash
# Instructions per malloc+free pair on the fast path, counted by callgrind.
#
# Runs bench/fastpath.c (free(malloc(n)) through volatile function pointers,
# after a warm-up) under `valgrind --tool=callgrind` for each allocator at
# n = 32 and 512, once with ITERS iterations and once with 0, and reports
# (total(ITERS) - total(0)) / ITERS. Instruction counts do not depend on the
# machine's load, unlike times. About 12-14 instructions of each figure are
# the loop and the two indirect calls. BENCH.md lists the peers' figures
# measured the same way (glibc 138/138, jemalloc 76/80, tcmalloc 76/76,
# mimalloc 114/137): reproducing them checks the method.
#
# Usage: bench/instructions.sh FASTPATH OUTFILE NAME=LIB...
#   (scripts/bench.sh --instructions passes these); an empty LIB means no
#   preload (glibc). ITERS defaults to 1000000; SIZES to "32 512".
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
fastpath=$1 outfile=$2; shift 2
iters=${ITERS:-1000000}
sizes=(${SIZES:-32 512})
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed" >&2; exit 1; }

# Total instructions callgrind collected for one run: fastpath ITERATIONS SIZE.
count() {
  local pre=() log
  [ -n "$1" ] && pre=("LD_PRELOAD=$1")
  log=$(env -u LD_PRELOAD "${pre[@]}" valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$fastpath" "$2" "$3" 2>&1) || { echo "instructions.sh: valgrind failed: $log" >&2; return 1; }
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' <<<"$log"
}

{
  printf '%-10s' allocator
  for n in "${sizes[@]}"; do printf ' %9s' "n=$n"; done
  printf '   (instructions per malloc+free pair, %d iterations minus 0)\n' "$iters"
  for pair in "$@"; do
    name=${pair%%=*} lib=${pair#*=}
    printf '%-10s' "$name"
    for n in "${sizes[@]}"; do
      full=$(count "$lib" "$iters" "$n") empty=$(count "$lib" 0 "$n")
      printf ' %9.1f' "$(awk -v a="$full" -v b="$empty" -v n="$iters" 'BEGIN { print (a - b) / n }')"
    done
    printf '\n'
  done
} | tee "$outfile"
