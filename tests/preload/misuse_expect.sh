#!/bin/sh
# misuse_expect.sh PROGRAM CASE FN FAULT_REGEX
#
# Driver of one misuse test: runs `PROGRAM CASE` (the misuse program, with
# LD_PRELOAD already in the environment) and passes only when
#   - the process was killed by SIGABRT (exit status 134 as the shell sees it),
#   - stderr is exactly one line,
#   - that line is `strata: FN(): <fault> <ptr>`, where <fault> matches the
#     extended regex FAULT_REGEX and <ptr> is the pointer the program
#     announced on stdout (`ptr=0x...`) before committing the fault.
set -u
prog=$1 case=$2 fn=$3 fault=$4
work=$(mktemp -d "${TMPDIR:-/tmp}/strata-misuse.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
ulimit -c 0 2>/dev/null  # an expected abort needs no core dump

# exec in a subshell: the shell's own "Aborted" notice must not reach the file.
( exec "$prog" "$case" ) >"$work/out" 2>"$work/err"
rc=$?

fail() {
  echo "FAIL misuse $case: $*"
  echo "--- stdout"; cat "$work/out"
  echo "--- stderr"; cat "$work/err"
  exit 1
}

ptr=$(sed -n 's/^ptr=//p' "$work/out")
[ -n "$ptr" ] || fail "the program did not reach the fault (no ptr= line)"
if [ "$rc" -ne 134 ]; then
  if grep -q '^misuse not detected' "$work/out"; then fail "strata did not detect it (exit $rc)"; fi
  fail "expected SIGABRT (status 134), got status $rc"
fi
lines=$(wc -l <"$work/err")
[ "$lines" -eq 1 ] || fail "expected one line on stderr, got $lines"
# The fn and the pointer are literal text; escape the regex specials in fn.
fn_re=$(printf '%s' "$fn" | sed 's/[][\.*^$()+?{}|]/\\&/g')
if ! grep -Eqx "strata: ${fn_re}\(\): (${fault}) ${ptr}" "$work/err"; then
  fail "stderr does not match 'strata: $fn(): ($fault) $ptr'"
fi
echo "PASS misuse $case: $(cat "$work/err")"
exit 0
