#!/bin/sh
# One STRATA_CONF / STRATA_* environment case per call (tests/options).
# Usage: options_test.sh <case> <libstrata.so> <conf_probe> <conf_probe_linked>
# Runs the probe with strata preloaded (or linked, for strata_conf) and checks
# its exit status, stdout and stderr.
set -u
case_name=$1 lib=$2 probe=$3 probe_linked=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rc=0

# run [VAR=value ...]: runs the preloaded probe with that environment.
run() { env -u STRATA_CONF -u STRATA_VERBOSE -u STRATA_SHOW_STATS "$@" LD_PRELOAD="$lib" "$probe" >"$tmp/out" 2>"$tmp/err"; rc=$?; }
fail() {
  echo "FAIL ($case_name): $*"
  echo "--- rc $rc; stdout:"; cat "$tmp/out"; echo "--- stderr:"; cat "$tmp/err"
  exit 1
}
want_rc() { [ "$rc" -eq "$1" ] || fail "exit status $rc, want $1"; }
out_has() { grep -qxF -- "$1" "$tmp/out" || fail "stdout lacks '$1'"; }
err_has() { grep -qF -- "$1" "$tmp/err" || fail "stderr lacks '$1'"; }
err_empty() { [ ! -s "$tmp/err" ] || fail "stderr not empty"; }

case "$case_name" in
  bad_key)  # unknown key: warned, the rest still applies, the program runs
    run STRATA_CONF=bogus:1,tcache:false
    want_rc 0; err_has "<strata>: invalid conf pair: bogus:1"; out_has opt.tcache=false ;;
  no_value)
    run STRATA_CONF=tcache
    want_rc 0; err_has "<strata>: invalid conf pair: tcache"; out_has opt.tcache=true ;;
  bad_value)  # bad values keep the previous value, and say so
    run STRATA_CONF=purge_delay_ms:abc,tcache_max:12x,tcache_max:K,purge_delay_ms:-2
    want_rc 0
    err_has "<strata>: invalid conf value: purge_delay_ms:abc (keeping purge_delay_ms:1000)"
    err_has "<strata>: invalid conf value: tcache_max:12x (keeping tcache_max:32768)"
    err_has "<strata>: invalid conf value: tcache_max:K (keeping tcache_max:32768)"
    err_has "<strata>: invalid conf value: purge_delay_ms:-2 (keeping purge_delay_ms:1000)"
    out_has opt.purge_delay_ms=1000; out_has opt.tcache_max=32768 ;;
  values)  # hex, suffixes, bool spellings, empty items: all silent
    run STRATA_CONF=",purge_delay_ms:0x10,tcache_max:8KiB,tcache:off,,stats_print_opts:gb,verbose:0,"
    want_rc 0; err_empty
    out_has opt.purge_delay_ms=16; out_has opt.tcache_max=8192; out_has opt.tcache=false
    out_has opt.stats_print_opts=gb; out_has opt.verbose=false
    run STRATA_CONF=purge_delay_ms:-1,tcache_max:1M,tcache:TRUE
    want_rc 0; err_empty; out_has opt.purge_delay_ms=-1; out_has opt.tcache_max=1048576; out_has opt.tcache=true
    # memory governance: sizes (0 = none), a choice, a path, a bool
    run STRATA_CONF=mem_limit:1G,mem_limit_soft:0x2000000,thp:NEVER,cgroup_dir:/no/such-dir_1.x,cgroup_limit:off
    want_rc 0; err_empty; out_has opt.mem_limit=1073741824; out_has opt.mem_limit_soft=33554432
    out_has opt.thp=never; out_has opt.cgroup_dir=/no/such-dir_1.x; out_has opt.cgroup_limit=false
    run STRATA_CONF=mem_limit:16M,mem_limit:0,thp:always
    want_rc 0; err_empty; out_has opt.mem_limit=0; out_has opt.thp=always ;;
  abort_conf)  # fatal, even when abort_conf comes after the bad pair
    run STRATA_CONF=purge_delay_ms:-5,abort_conf:true
    want_rc 134
    err_has "<strata>: invalid conf value: purge_delay_ms:-5"
    err_has "<strata>: Abort (abort_conf:true) on invalid conf value (see above)"
    [ ! -s "$tmp/out" ] || fail "the program ran on"
    run STRATA_CONF=abort_conf:true,bogus:1
    want_rc 134; err_has "<strata>: invalid conf pair: bogus:1" ;;
  verbose)
    run STRATA_VERBOSE=1
    want_rc 0
    for line in opt.purge_delay_ms:1000 opt.tcache:true opt.tcache_max:32768 opt.abort_conf:false \
                opt.stats_print:false opt.verbose:true opt.mem_limit:0 opt.mem_limit_soft:0 \
                opt.cgroup_limit:true opt.cgroup_dir: opt.thp:default; do err_has "<strata>: $line"; done
    run STRATA_CONF=verbose:true,tcache_max:4K
    want_rc 0; err_has "<strata>: opt.tcache_max:4096" ;;
  show_stats)  # STRATA_SHOW_STATS=1: the text report at exit
    run STRATA_SHOW_STATS=1
    want_rc 0; out_has opt.stats_print=true
    for s in "___ Begin strata statistics ___" "Run-time option settings" "  opt.stats_print: true" \
             "Allocated: " ", active: " ", metadata: " ", resident: " ", mapped: " ", retained: " \
             "Size classes" "___ End strata statistics ___"; do err_has "$s"; done
    run STRATA_SHOW_STATS=maybe
    want_rc 0; err_has "<strata>: invalid value of STRATA_SHOW_STATS"; out_has opt.stats_print=false ;;
  stats_print_json)  # stats_print:true with opts J: JSON at exit
    run STRATA_CONF=stats_print:true,stats_print_opts:J
    want_rc 0
    /usr/bin/python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))["strata"]
assert doc["opt"]["stats_print"] is True and doc["opt"]["stats_print_opts"] == "J", doc["opt"]
assert doc["stats"]["allocated"] > 0 and doc["stats"]["mapped"] > 0, doc["stats"]
' "$tmp/err" || fail "exit report is not the expected JSON" ;;
  link_conf)  # the program's strata_conf, then STRATA_CONF over it
    env -u STRATA_CONF "$probe_linked" >"$tmp/out" 2>"$tmp/err"; rc=$?
    want_rc 0; err_empty; out_has opt.purge_delay_ms=7; out_has opt.tcache_max=8192
    env STRATA_CONF=purge_delay_ms:9 "$probe_linked" >"$tmp/out" 2>"$tmp/err"; rc=$?
    want_rc 0; out_has opt.purge_delay_ms=9; out_has opt.tcache_max=8192 ;;
  *) echo "unknown case $case_name"; exit 2 ;;
esac
echo "ok ($case_name)"
