#!/bin/sh
# conf_edges.sh LIBSTRATA CONF_PROBE
#
# STRATA_CONF values tests/options does not try: integer overflow (decimal,
# hex, with a suffix), negative sizes, empty values and keys, trailing
# garbage after a suffix, 3-5 KB keys and values (the parser's buffers),
# and abort_conf:true with an overflowing value. Each bad pair must be
# reported once on stderr, the option must keep its previous value, the
# program must run normally (exit 0), and with abort_conf:true abort (134).
# CONF_PROBE is tests/options' strata_conf_probe (prints opt.<key>=<value>).
set -u
lib=$1 probe=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
long_j=$(head -c 3000 /dev/zero | tr '\0' J)
long_key=$(head -c 5000 /dev/zero | tr '\0' a)

# expect CONF RC STDERR_TEXT OPT_LINE
expect() {
  env -u STRATA_VERBOSE -u STRATA_SHOW_STATS STRATA_CONF="$1" LD_PRELOAD="$lib" "$probe" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  why=""
  [ "$rc" -eq "$2" ] || why="exit $rc, want $2"
  [ -z "$why" ] && ! grep -qF -- "$3" "$tmp/err" && why="stderr lacks '$3'"
  [ -z "$why" ] && [ -n "$4" ] && ! grep -qxF -- "$4" "$tmp/out" && why="stdout lacks '$4'"
  [ -z "$why" ] && [ "$(grep -c '^<strata>: invalid' "$tmp/err")" -ne 1 ] && why="not exactly one report"
  if [ -n "$why" ]; then
    echo "FAIL STRATA_CONF=$(printf '%.80s' "$1"): $why"
    sed -n 1,5p "$tmp/err" | cut -c1-160
    fails=$((fails + 1))
  else
    echo "ok   STRATA_CONF=$(printf '%.60s' "$1")"
  fi
}

expect purge_delay_ms:99999999999999999999999 0 "(keeping purge_delay_ms:1000)" opt.purge_delay_ms=1000
expect purge_delay_ms:0x7fffffffffffffff 0 "(keeping purge_delay_ms:1000)" opt.purge_delay_ms=1000
expect purge_delay_ms:0xffffffffffffffffff 0 "(keeping purge_delay_ms:1000)" opt.purge_delay_ms=1000
expect tcache_max:16777216G 0 "(keeping tcache_max:32768)" opt.tcache_max=32768
expect tcache_max:-1 0 "(keeping tcache_max:32768)" opt.tcache_max=32768
expect tcache_max:1K1 0 "(keeping tcache_max:32768)" opt.tcache_max=32768
expect tcache_max:0x 0 "(keeping tcache_max:32768)" opt.tcache_max=32768
expect purge_delay_ms: 0 "invalid conf value: purge_delay_ms:" opt.purge_delay_ms=1000
expect :5 0 "invalid conf pair: :5" opt.purge_delay_ms=1000
expect tcache:yes,tcache:nope 0 "(keeping tcache:true)" opt.tcache=true
expect "stats_print_opts:$long_j" 0 "invalid conf value: stats_print_opts:JJJJ" "opt.stats_print_opts="
expect "$long_key:1" 0 "invalid conf pair: aaaa" opt.tcache=true
expect purge_delay_ms:99999999999999999999,abort_conf:true 134 "invalid conf value: purge_delay_ms:9999" ""
[ $fails -eq 0 ] || { echo "conf_edges: $fails case(s) failed"; exit 1; }
echo "conf_edges: all cases ok"
