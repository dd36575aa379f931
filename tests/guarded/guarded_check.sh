#!/bin/sh
# Runs guarded_probe <mode> with libstrata preloaded and guarded_sample_rate:1
# (or STRATA_CONF=$GUARDED_TEST_CONF when that is set: "" for the defaults);
# checks the exit status (signal) and that the report names the kind and
# the probe's functions. Usage: guarded_check.sh <lib> <probe> <mode> <status> <kind> [<fn>...]
lib=$1 probe=$2 mode=$3 status=$4 kind=$5
shift 5
out=$(mktemp)
STRATA_CONF=${GUARDED_TEST_CONF-guarded_sample_rate:1} LD_PRELOAD=$lib "$probe" "$mode" >"$out" 2>&1
rc=$?
cat "$out"
fail=0
if [ "$rc" != "$status" ]; then echo "FAIL: exit status $rc, want $status"; fail=1; fi
if [ -n "$kind" ] && ! grep -q "strata: ERROR: $kind" "$out"; then echo "FAIL: no '$kind' report"; fail=1; fi
for fn in "$@"; do
  if ! grep -q " in $fn+" "$out"; then echo "FAIL: the report does not name $fn"; fail=1; fi
done
rm -f "$out"
exit $fail
