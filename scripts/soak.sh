#!/usr/bin/env bash
# The long reliability modes (docs/reliability.md); CI runs short versions.
#
#   scripts/soak.sh --minutes 30          soak test under LD_PRELOAD for 30 min
#   scripts/soak.sh --fuzz 10             every fuzzer 10 min (two at a time)
#   scripts/soak.sh --python              CPython's whole test suite on strata
#                                         vs glibc (about an hour on 2 cores)
# Options (any order, several modes at once): --threads N (soak, default 8),
# --build DIR (default build-soak; configured Release and built if needed).
# Exits non-zero when any mode fails; prints the figures each mode reports.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-soak"
minutes="" fuzz="" python=0 threads=8
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --fuzz) fuzz=$2; shift 2 ;;
    --python) python=1; shift ;;
    --threads) threads=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "soak.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$minutes$fuzz" ] && [ $python = 0 ]; then minutes=30; fi

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null
lib="$build/interpose/libstrata.so"
status=0

if [ -n "$minutes" ]; then
  echo "=== soak: $minutes min, $threads threads"
  LD_PRELOAD="$lib" "$build/tests/reliability/reliability_soak" --seconds $((minutes * 60)) --threads "$threads" \
    || status=1
fi

if [ -n "$fuzz" ]; then
  echo "=== fuzz: $fuzz min per fuzzer, two at a time"
  pids=()
  for name in buddy heap tlsf bitmap_page bitmap_id runtime; do
    sh "$root/tests/fuzz/run_fuzz.sh" "$build/tests/fuzz/${name}_fuzz" "$root/tests/fuzz/corpus/$name" \
      $((fuzz * 60)) >"$build/fuzz-$name.log" 2>&1 &
    pids+=($!)
    if [ ${#pids[@]} -eq 2 ]; then
      for p in "${pids[@]}"; do wait "$p" || status=1; done
      pids=()
    fi
  done
  for p in "${pids[@]}"; do wait "$p" || status=1; done
  for name in buddy heap tlsf bitmap_page bitmap_id runtime; do tail -1 "$build/fuzz-$name.log"; done
fi

if [ $python = 1 ]; then
  echo "=== CPython's test suite, glibc vs strata"
  LD_PRELOAD="$lib" sh "$root/tests/reliability/programs.sh" python_long || status=1
fi
exit $status
