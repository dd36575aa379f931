#!/bin/sh
# real_programs.sh python|sqlite|git
#
# Runs a real Debian program twice on the same generated input, once on
# glibc's malloc (LD_PRELOAD removed) and once on strata (LD_PRELOAD as given
# to this script, normally by CTest's ENVIRONMENT), and passes when stdout
# and stderr of both runs are identical and the strata run provably used
# strata:
#
#   python  /usr/bin/python3 (Debian's, not a pyenv one on PATH) with
#           PYTHONMALLOC=malloc runs a chunk of its own test suite
#           (libpython3.11-testsuite); the pass/fail summary is compared, not
#           timings. The run is started through a small wrapper that first
#           checks, with ctypes, that a bytes object Python allocated is a
#           strata block (strata_malloc_usable_size knows it), or that strata
#           is absent in the glibc run.
#   sqlite  sqlite3 builds a 200,000-row table with indexes, JSON, window
#           functions, joins, deletes, updates and VACUUM from a generated
#           script (STRATA_SHOW_STATS=1 proves strata ran: its exit report).
#   git     git init/add/commit on a generated repository (15 commits of 200
#           files), then log -p, diff, grep, blame, gc, fsck (same proof).
#
# Internal: `real_programs.sh --body CASE DIR` is one run, in DIR.
set -eu

PY=/usr/bin/python3
PY_TESTS="test_dict test_list test_set test_tuple test_json test_re test_unicode test_bytes test_string
  test_collections test_functools test_struct test_heapq test_bisect test_sort test_math test_long test_decimal
  test_memoryview test_zlib test_hashlib test_csv test_xml_etree test_thread test_ctypes test_mmap"
BANNER_BEGIN='___ Begin strata statistics ___'
BANNER_END='___ End strata statistics ___'

# ---- one run of a case (stdout/stderr are what gets compared) ---------------

body_python() {
  # EXPECT=strata|glibc: the wrapper refuses to run on the wrong allocator.
  PYTHONMALLOC=malloc PYTHONHASHSEED=0 "$PY" -c '
import ctypes, os, sys
libc = ctypes.CDLL(None)
on_strata = hasattr(libc, "strata_malloc_usable_size")
if on_strata:  # a block Python itself allocated must be one strata knows
    usable = libc.strata_malloc_usable_size
    usable.restype, usable.argtypes = ctypes.c_size_t, [ctypes.c_void_p]
    probe = bytes(range(256)) * 8
    on_strata = usable(id(probe)) >= len(probe)
if on_strata != (os.environ["EXPECT"] == "strata"):
    sys.exit("real_programs: python is %son strata, expected %s" % ("" if on_strata else "not ", os.environ["EXPECT"]))
from test.libregrtest import main
main()
' $PY_TESTS >raw.out 2>raw.err || true
  if grep -q '^real_programs:' raw.err; then grep '^real_programs:' raw.err >&2; exit 1; fi
  # Only the summary: which tests passed, failed or were skipped.
  awk '/^== Tests result/ { p = 1 } p && !/^Total duration/' raw.out
  grep -E '^(FAIL|ERROR):' raw.out raw.err | sort || true
}

body_sqlite() {
  cat >gen.sql <<'EOF'
.bail on
CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v INTEGER, b BLOB);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000)
INSERT INTO t SELECT x, printf('key-%08d-%s', (x * 7919) % 200000, hex(x)), (x * 2654435761) % 1000003,
                     zeroblob(x % 300) FROM c;
CREATE INDEX t_k ON t(k);
CREATE INDEX t_v ON t(v);
SELECT count(*), sum(v), min(k), max(k), sum(length(b)) FROM t;
SELECT v % 97 AS g, count(*), sum(length(k)), length(group_concat(id % 10, '')) FROM t GROUP BY g ORDER BY g LIMIT 12;
SELECT k FROM t WHERE k BETWEEN 'key-00100000' AND 'key-00100040' ORDER BY k;
SELECT id, v, sum(v) OVER (ORDER BY id ROWS BETWEEN 50 PRECEDING AND CURRENT ROW) FROM t WHERE id % 20000 = 0;
CREATE TABLE u AS SELECT id, upper(k) AS k2,
  json_object('id', id, 'v', v, 'tags', json_array(v % 3, v % 5, v % 7), 'name', k) AS j FROM t WHERE id % 3 = 0;
SELECT count(*), sum(json_extract(j, '$.v')), max(length(j)) FROM u;
SELECT a.id, b.k2, json_extract(b.j, '$.tags[2]') FROM t a JOIN u b ON a.id = b.id WHERE a.v < 60 ORDER BY a.id;
DELETE FROM t WHERE id % 2 = 0;
UPDATE t SET k = k || '-updated', b = zeroblob(700) WHERE id % 5 = 1;
SELECT count(*), sum(length(k)), sum(length(b)) FROM t;
VACUUM;
PRAGMA integrity_check;
SELECT length(group_concat(k, ',')), substr(group_concat(k, ','), 1, 120) FROM (SELECT k FROM t ORDER BY k);
SELECT v % 1000 AS m, count(*) FROM t GROUP BY m HAVING count(*) > 112 ORDER BY m;
EOF
  sqlite3 :memory: <gen.sql
}

body_git() {
  export HOME="$PWD/home" GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=strata GIT_AUTHOR_EMAIL=strata@example.org \
    GIT_COMMITTER_NAME=strata GIT_COMMITTER_EMAIL=strata@example.org
  mkdir -p home
  git init -q -b main repo
  cd repo
  git config gc.auto 0
  for d in $(seq -w 0 16); do mkdir -p "dir$d"; done
  i=1
  while [ $i -le 15 ]; do
    # One awk writes the commit's files: 200 files, each edited by every third commit or so.
    awk -v c=$i 'BEGIN {
      for (f = 0; f < 200; f++) {
        if ((f + c) % 3 != 0 && c > 1) continue
        name = sprintf("dir%02d/file%03d.txt", f % 17, f)
        for (l = 0; l < 40 + (f * c) % 60; l++) printf "line %d of file %d, commit %d: %s\n", l, f, c, (l * f + c) % 9973 >name
        close(name)
      }
    }'
    if [ $((i % 7)) -eq 0 ]; then  # now and then a file goes away
      f=$((i * 10))
      git rm -qf "dir$(printf %02d $((f % 17)))/file$(printf %03d $f).txt"
    fi
    git add -A
    GIT_AUTHOR_DATE="2020-01-01T00:00:${i}Z" GIT_COMMITTER_DATE="2020-01-01T00:00:${i}Z" git commit -q -m "commit $i"
    i=$((i + 1))
  done
  git log --oneline
  git log -p | cksum
  git diff --stat HEAD~10 HEAD | tail -3
  git grep -c 'commit 15' | tail -5
  git blame -s dir01/file001.txt | cksum
  git gc -q
  git count-objects -v | grep -E '^(count|in-pack|packs|garbage)'
  git fsck --full --no-progress
  git rev-list --all --objects | sort | cksum
  git archive HEAD | cksum
}

# ---- the comparison --------------------------------------------------------

if [ "${1:-}" = "--body" ]; then
  cd "$3"
  "body_$2"
  exit $?
fi

case_name=${1:?usage: real_programs.sh python|sqlite|git}
lib=${LD_PRELOAD:-}
case "$lib" in
  *libstrata*) ;;
  *) echo "real_programs: LD_PRELOAD does not name libstrata ('$lib')"; exit 1 ;;
esac
[ -f "$lib" ] || { echo "real_programs: $lib does not exist"; exit 1; }
case $case_name in
  python) [ -x "$PY" ] && [ -d /usr/lib/python3.11/test/libregrtest ] || { echo "needs $PY and libpython3.11-testsuite"; exit 1; } ;;
  sqlite) command -v sqlite3 >/dev/null || { echo "needs sqlite3"; exit 1; } ;;
  git) command -v git >/dev/null || { echo "needs git"; exit 1; } ;;
  *) echo "unknown case $case_name"; exit 1 ;;
esac

self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
# tmpfs when there is one: these programs create thousands of small files.
base=${TMPDIR:-/tmp}
[ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
work=$(mktemp -d "$base/strata-real.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Both runs use the same directory name, so paths in the output agree.
run() {  # run NAME env...: one run into $work/NAME.{out,err}
  name=$1
  shift
  rm -rf "$work/run" && mkdir -p "$work/run/tmp"
  start=$(date +%s)
  env "$@" TMPDIR="$work/run/tmp" sh "$self" --body "$case_name" "$work/run" >"$work/$name.out" 2>"$work/$name.err" || {
    echo "real_programs: the $name run of $case_name failed"; cat "$work/$name.err"; exit 1; }
  echo "$case_name on $name: $(($(date +%s) - start)) s"
}
run glibc -u LD_PRELOAD EXPECT=glibc
if [ "$case_name" = python ]; then
  run strata LD_PRELOAD="$lib" EXPECT=strata
else
  run strata LD_PRELOAD="$lib" STRATA_SHOW_STATS=1
  grep -qF "$BANNER_BEGIN" "$work/strata.err" || {
    echo "real_programs: no strata exit report: $case_name did not run on strata"; exit 1; }
  # Drop the exit reports: the rest of stderr must match.
  awk -v b="$BANNER_BEGIN" -v e="$BANNER_END" '$0 == b { skip = 1 } !skip { print } $0 == e { skip = 0 }' \
    "$work/strata.err" >"$work/strata.err.f"
  mv "$work/strata.err.f" "$work/strata.err"
fi

status=0
diff -u "$work/glibc.out" "$work/strata.out" || status=1
diff -u "$work/glibc.err" "$work/strata.err" || status=1
if [ $status -ne 0 ]; then
  echo "real_programs: $case_name differs between glibc and strata (diff above)"
  exit 1
fi
[ -s "$work/strata.out" ] || { echo "real_programs: $case_name produced no output"; exit 1; }
echo "real_programs: $case_name identical on glibc and strata ($(wc -l <"$work/strata.out") lines)"
sed -n 1,12p "$work/strata.out"
