#!/bin/sh
# run_fuzz.sh FUZZER SEED_DIR SECONDS [extra libFuzzer flags...]
#
# One bounded fuzzing run, as ctest runs it (label `fuzz`) and as
# scripts/soak.sh --fuzz runs it for longer: the committed seeds
# (tests/fuzz/corpus/<name>/) are copied into a scratch corpus, the fuzzer
# runs for SECONDS, and the result is one summary line with libFuzzer's
# final figures (executions, coverage points `cov`, features `ft`,
# corpus size). A crash, a failed FUZZ_CHECK, a leak or a timeout fails
# the run; libFuzzer then prints the input (and writes it to the scratch
# directory, which is kept and named, so it can be replayed:
# `FUZZER crash-<sha>`). FUZZ_KEEP_CORPUS=DIR keeps the grown corpus there.
set -u
fuzzer=$1 seeds=$2 seconds=$3
shift 3
name=$(basename "$fuzzer")
work=$(mktemp -d "${TMPDIR:-/tmp}/strata-$name.XXXXXX") || exit 1
corpus=${FUZZ_KEEP_CORPUS:-$work/corpus}
mkdir -p "$corpus"
[ -d "$seeds" ] && cp "$seeds"/* "$corpus"/ 2>/dev/null
cd "$work" || exit 1
"$fuzzer" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=3072 -print_final_stats=1 \
  -artifact_prefix="$work/" "$@" "$corpus" >"$work/log" 2>&1
rc=$?
done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$work/log" | tail -1)
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
if [ $rc -ne 0 ] || [ -z "$done_line" ]; then
  tail -60 "$work/log"
  echo "FAIL $name (exit $rc): inputs and log kept in $work"
  exit 1
fi
echo "PASS $name: ${seconds}s, $execs executions; $done_line"
rm -rf "$work"
exit 0
