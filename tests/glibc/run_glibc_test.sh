#!/bin/sh
# run_glibc_test.sh TEST_EXE [REGEX]
#
# Runs one of glibc's malloc tests (built by tests/glibc/CMakeLists.txt)
# under the LD_PRELOAD=libstrata.so that ctest puts in the environment, and
# passes when
#   - glibc's test driver reports success (exit status 0; a test that must
#     die of a signal, like tst-tcfree1/2, reports 0 when it did),
#   - strata really ran in the process: STRATA_CONF carries an unknown key,
#     which strata reports once, at its first allocation, on stderr,
#   - REGEX, when given, matches the output (e.g. strata's double-free line).
# TIMEOUTFACTOR (glibc's) stretches the tests' own 20 s deadlines: ctest
# runs them beside other tests on a small machine.
set -u
exe=$1 want=${2:-}
out=$(mktemp "${TMPDIR:-/tmp}/strata-glibc.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT
case "${LD_PRELOAD:-}" in
  *libstrata*) ;;
  *) echo "run_glibc_test: LD_PRELOAD does not name libstrata ('${LD_PRELOAD:-}')"; exit 1 ;;
esac
ulimit -c 0 2>/dev/null
STRATA_CONF=glibc_suite_canary:1 TIMEOUTFACTOR=${TIMEOUTFACTOR:-3} "$exe" >"$out" 2>&1
rc=$?
cat "$out"
if [ $rc -ne 0 ]; then
  echo "FAIL $(basename "$exe"): exit status $rc"
  exit 1
fi
if ! grep -q '<strata>: invalid conf pair: glibc_suite_canary:1' "$out"; then
  echo "FAIL $(basename "$exe"): no sign of strata in the process (LD_PRELOAD=$LD_PRELOAD)"
  exit 1
fi
if [ -n "$want" ] && ! grep -Eq "$want" "$out"; then
  echo "FAIL $(basename "$exe"): output does not match '$want'"
  exit 1
fi
echo "PASS $(basename "$exe") on strata"
