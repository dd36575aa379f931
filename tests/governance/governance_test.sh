#!/bin/sh
# One memory-governance case per call (tests/governance, label `governance`).
# Usage: governance_test.sh <case> <libstrata.so> <governance_probe>
# Sets up the case's environment (STRATA_CONF, fake cgroup directories, a real
# memory cgroup) and runs the probe (governance.cpp) with strata preloaded.
# Every case runs with cgroup_limit:false unless it is about the cgroup, so
# the machine's own cgroup cannot change the figures.
set -u
case_name=$1 lib=$2 probe=$3
tmp=$(mktemp -d)
cg_real=""
cleanup() {
  [ -n "$cg_real" ] && rmdir "$cg_real" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
MiB=1048576

fail() { echo "FAIL ($case_name): $*"; exit 1; }
# run CONF args...: the probe under strata with STRATA_CONF=CONF; stdout and
# stderr to the log and to $tmp/out, $tmp/err; rc in $rc.
run() {
  conf=$1
  shift
  env -u STRATA_VERBOSE -u STRATA_SHOW_STATS STRATA_CONF="$conf" LD_PRELOAD="$lib" "$probe" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  cat "$tmp/out"
  [ -s "$tmp/err" ] && sed 's/^/  stderr: /' "$tmp/err"
  return 0
}
must_pass() { [ "$rc" -eq 0 ] || fail "probe exited with $rc"; }
quiet() { [ ! -s "$tmp/err" ] || fail "stderr not empty (must be silent)"; }
err_has() { grep -qF -- "$1" "$tmp/err" || fail "stderr lacks '$1'"; }
# fake_cgroup DIR FILE=VALUE...: a directory that looks like a cgroup's.
fake_cgroup() {
  d=$1
  shift
  mkdir -p "$d"
  for kv in "$@"; do printf '%s\n' "${kv#*=}" >"$d/${kv%%=*}"; done
}
# The soft limit derived from a cgroup limit of $1 bytes (limits.cpp: an
# eighth less, at least 8 MiB less, at least 16 MiB).
derived() {
  m=$(( $1 / 8 )); [ "$m" -lt $((8 * MiB)) ] && m=$((8 * MiB))
  s=$(( $1 - m )); [ "$s" -lt $((16 * MiB)) ] && s=$((16 * MiB))
  echo "$s"
}

case "$case_name" in
  hard.small|hard.medium|hard.huge|hard.realloc)
    run mem_limit:64M,cgroup_limit:false hard "${case_name#hard.}"; must_pass; quiet ;;
  hard.ctl)
    run cgroup_limit:false hard ctl; must_pass; quiet ;;

  soft.churn)  # a workload churning 4x the soft limit: RSS within soft + live
    run cgroup_limit:false churn 64 3; must_pass
    without=$(sed -n 's/.*peak RSS \([0-9]*\) MiB.*/\1/p' "$tmp/out")
    # bound: the soft limit + the peak live set (16 + 64 MiB) + 24 MiB of slack.
    run mem_limit_soft:64M,cgroup_limit:false churn 64 3 $((64 + 80 + 24)); must_pass; quiet
    with=$(sed -n 's/.*peak RSS \([0-9]*\) MiB.*/\1/p' "$tmp/out" | head -n 1)
    echo "soft.churn: peak RSS without a limit ${without} MiB, with mem_limit_soft:64M ${with} MiB" ;;

  soft.realloc)  # a huge realloc that moves pages past the soft limit starts a pass itself
    run mem_limit_soft:64M,cgroup_limit:false soft_realloc; must_pass; quiet ;;

  cgroup.fake_v2)  # memory.max 192 MiB: soft 168 MiB, memory back before the limit
    fake_cgroup "$tmp/cg" memory.max=$((192 * MiB)) memory.high=max
    run cgroup_dir:"$tmp/cg" limits 0 none "$(derived $((192 * MiB)))" cgroup 2 $((192 * MiB)) 0; must_pass; quiet
    # 4 x 64 MiB a round against a 192 MiB "container": the peak stays below it.
    run cgroup_dir:"$tmp/cg" churn 64 2 192; must_pass; quiet ;;
  cgroup.fake_v2_high)  # memory.high below memory.max: the soft limit follows high
    fake_cgroup "$tmp/cg" memory.max=$((1024 * MiB)) memory.high=$((256 * MiB))
    run cgroup_dir:"$tmp/cg" limits 0 none "$(derived $((256 * MiB)))" cgroup 2 $((1024 * MiB)) $((256 * MiB))
    must_pass; quiet ;;
  cgroup.fake_v1)  # no memory.max: v1's memory.limit_in_bytes
    fake_cgroup "$tmp/cg" memory.limit_in_bytes=$((128 * MiB))
    run cgroup_dir:"$tmp/cg" limits 0 none "$(derived $((128 * MiB)))" cgroup 1 $((128 * MiB)) 0; must_pass; quiet ;;
  cgroup.reread)  # the limit changes at run time; mallctl limit.cgroup.reread sees it
    fake_cgroup "$tmp/cg" memory.max=$((512 * MiB))
    run cgroup_dir:"$tmp/cg" reread "$tmp/cg/memory.max" $((256 * MiB)) "$(derived $((256 * MiB)))"; must_pass; quiet ;;
  cgroup.option_and_cgroup)  # the lower of the option's and the cgroup's soft limit rules
    fake_cgroup "$tmp/cg" memory.max=$((512 * MiB))
    run cgroup_dir:"$tmp/cg",mem_limit_soft:100M limits 0 none $((100 * MiB)) option 2 $((512 * MiB)) 0
    must_pass; quiet
    run cgroup_dir:"$tmp/cg",mem_limit_soft:500M,mem_limit:1G limits $((1024 * MiB)) option "$(derived $((512 * MiB)))" \
      cgroup 2 $((512 * MiB)) 0
    must_pass; quiet
    run cgroup_dir:"$tmp/cg",cgroup_limit:false limits 0 none 0 none 0 0 0; must_pass; quiet ;;
  cgroup.bad_files)  # "max", malformed, empty, unreadable, missing: no limit, silently
    for v in max 12abc "" -5 9223372036854771712 99999999999999999999999; do
      rm -rf "$tmp/cg"
      fake_cgroup "$tmp/cg" memory.max="$v" memory.high="$v"
      echo "memory.max '$v':"
      run cgroup_dir:"$tmp/cg" limits 0 none 0 none 2 0 0; must_pass; quiet
    done
    rm -rf "$tmp/cg"
    mkdir -p "$tmp/cg/memory.max" "$tmp/cg/memory.limit_in_bytes"  # directories: open works, read fails
    echo "memory.max and memory.limit_in_bytes unreadable (directories):"
    run cgroup_dir:"$tmp/cg" limits 0 none 0 none 0 0 0; must_pass; quiet
    echo "cgroup_dir that does not exist:"
    run cgroup_dir:"$tmp/nowhere" limits 0 none 0 none 0 0 0; must_pass; quiet ;;

  cgroup.real)
    # A real memory cgroup of 192 MiB with the probe inside: strata finds it
    # by itself (/proc/self/cgroup, /proc/self/mountinfo), sets its soft limit
    # 24 MiB below, and the 4 x 64 MiB churn stays inside; with cgroup_limit:false
    # the same churn meets the kernel's limit (no swap: the OOM killer).
    limit=$((192 * MiB))
    v2mnt=$(awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo)
    v1mnt=$(awk '$0 ~ / - cgroup / && $NF ~ /(^|,)memory(,|$)/ { print $5; exit }' /proc/self/mountinfo)
    v1own=$(sed -n 's/^[0-9]*:\([^:]*,\)\{0,1\}memory\(,[^:]*\)\{0,1\}://p' /proc/self/cgroup)
    version="" file="" why=""
    if [ "$(id -u)" != 0 ]; then
      why="not root"
    elif [ -n "$v2mnt" ] && grep -qw memory "$v2mnt/cgroup.controllers" 2>/dev/null &&
         mkdir "$v2mnt/strata-test-$$" 2>/dev/null; then
      # At the top of the mounted tree: v2 allows no process in a cgroup that
      # hands controllers to children, so not below the process's own.
      cg_real="$v2mnt/strata-test-$$"
      [ -f "$cg_real/memory.max" ] || echo +memory >"$v2mnt/cgroup.subtree_control" 2>/dev/null
      if echo $limit >"$cg_real/memory.max" 2>/dev/null; then version=2 file=memory.max; else why="memory.max not writable"; fi
    elif [ -n "$v1mnt" ] && mkdir "$v1mnt$v1own/strata-test-$$" 2>/dev/null; then
      cg_real="$v1mnt$v1own/strata-test-$$"
      if echo $limit >"$cg_real/memory.limit_in_bytes" 2>/dev/null; then version=1 file=memory.limit_in_bytes
      else why="memory.limit_in_bytes not writable"; fi
      [ -n "$version" ] && echo "cgroup.real: cgroup v2 has no memory controller here$([ -n "$v2mnt" ] && echo " ($v2mnt: $(cat "$v2mnt/cgroup.controllers" 2>/dev/null | tr -d '\n'))");" \
        "testing the v1 path for real (v2 is covered by cgroup_dir: cgroup.fake_v2*)"
    else
      why="no cgroup v2 memory controller and no writable v1 memory hierarchy"
    fi
    if [ -z "$version" ]; then
      # No way to make a limit here: the discovery still runs for real. Whatever
      # the process's own cgroup says, strata must read it silently; with no
      # limit there, it sets none.
      echo "cgroup.real: cannot create a memory cgroup here ($why): testing the discovery of this process's own cgroup instead"
      run "" limits 0 none - - - - -; must_pass; quiet
      exit 0
    fi
    inside() { sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$cg_real" "$@"; }
    echo "cgroup.real: $cg_real ($file = $limit)"
    inside env STRATA_CONF= LD_PRELOAD="$lib" "$probe" limits 0 none "$(derived $limit)" cgroup $version $limit - \
      >"$tmp/out" 2>"$tmp/err"; rc=$?; cat "$tmp/out"; must_pass; quiet
    inside env STRATA_CONF= LD_PRELOAD="$lib" "$probe" churn 64 2 192 >"$tmp/out" 2>"$tmp/err"; rc=$?
    cat "$tmp/out"; must_pass; quiet
    peak=$(cat "$cg_real/memory.peak" "$cg_real/memory.max_usage_in_bytes" 2>/dev/null | head -n 1)
    echo "cgroup.real: the cgroup's peak usage ${peak:-?} bytes, limit $limit"
    inside env STRATA_CONF=cgroup_limit:false LD_PRELOAD="$lib" "$probe" churn 64 2 >"$tmp/out" 2>&1; rc=$?
    if [ $rc -eq 137 ]; then echo "cgroup.real: with cgroup_limit:false the same churn was OOM-killed (status 137)"
    else echo "cgroup.real: with cgroup_limit:false the churn ended with status $rc: $(tail -n 1 "$tmp/out")"; fi ;;

  thp.always|thp.never|thp.default)
    m=${case_name#thp.}
    run thp:$m,purge_delay_ms:0,cgroup_limit:false thp "$m"; must_pass; quiet ;;

  conf.bad_values)  # a clear message, the default kept, the program runs on
    run mem_limit:1M,cgroup_limit:false limits 0 none 0 none - - -; must_pass
    err_has "<strata>: invalid conf value: mem_limit:1M (keeping mem_limit:0); want 0 (none) or at least 16777216 bytes (the minimum working set)"
    run mem_limit_soft:12x,mem_limit:-5,cgroup_limit:false limits 0 none 0 none - - -; must_pass
    err_has "<strata>: invalid conf value: mem_limit_soft:12x (keeping mem_limit_soft:0)"
    err_has "<strata>: invalid conf value: mem_limit:-5 (keeping mem_limit:0)"
    run thp:sometimes,cgroup_limit:maybe limits - - - - - - -; must_pass
    err_has "<strata>: invalid conf value: thp:sometimes (keeping thp:default); want one of default always never"
    err_has "<strata>: invalid conf value: cgroup_limit:maybe (keeping cgroup_limit:true)"
    long=$(printf '/x%.0s' $(seq 1 140))
    run "cgroup_dir:$long,cgroup_dir:/a b" limits - - - - - - -; must_pass
    err_has "<strata>: invalid conf value: cgroup_dir:$long (keeping cgroup_dir:)"
    err_has "<strata>: invalid conf value: cgroup_dir:/a b (keeping cgroup_dir:)" ;;

  *) echo "unknown case $case_name"; exit 2 ;;
esac
echo "ok ($case_name)"
