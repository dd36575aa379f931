#!/bin/sh
# Debian's redis-server on strata: redis-server links libjemalloc.so.2 and
# imports malloc, calloc, realloc, free, malloc_usable_size, mallctl, nallocx
# and malloc_stats_print (nm -D /usr/bin/redis-server); libstrata exports all
# of them, so with strata preloaded every one resolves to strata and
# libjemalloc stays loaded but unused.
#
# Usage: redis_test.sh <libstrata.so> <scratch-dir>. Exit 77 (skipped) when
# redis-server, redis-cli or redis-benchmark is missing. Bounded: every client
# call runs under timeout, and the server is stopped on every exit path.
set -u
lib=$1 dir=$2
for p in redis-server redis-cli redis-benchmark; do
  command -v "$p" >/dev/null 2>&1 || { echo "SKIP: $p not installed (apt-get install redis-server redis-tools)"; exit 77; }
done
rm -rf "$dir"
mkdir -p "$dir"
pid=""
stop() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    sleep 1
    kill -9 "$pid" 2>/dev/null
  fi
}
trap stop EXIT
trap 'stop; exit 1' INT TERM
fail() {
  echo "FAIL: $*"
  echo "--- redis log:"; tail -20 "$dir/redis.log" 2>/dev/null
  exit 1
}
cli() { timeout 20 redis-cli -h 127.0.0.1 -p "$port" "$@"; }

# A random high port; try again when it is taken.
for attempt in 1 2 3 4 5; do
  port=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000 ))
  LD_PRELOAD="$lib" timeout 300 redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize no --dir "$dir" --logfile "$dir/redis.log" >"$dir/stdout" 2>"$dir/stderr" &
  pid=$!
  up=0
  for _ in $(seq 1 50); do
    if [ "$(cli ping 2>/dev/null)" = PONG ]; then up=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [ $up = 1 ] && break
  stop
  pid=""
done
[ -n "$pid" ] || fail "redis-server did not start"
echo "redis-server pid $pid on 127.0.0.1:$port"

# The server really runs on strata: the library is mapped into redis-server
# itself ($pid is timeout's), and it answers for jemalloc (below).
server_pid=$(cli info server | tr -d '\r' | sed -n 's/^process_id://p')
[ -n "$server_pid" ] && [ "$server_pid" != "$pid" ] || fail "no redis-server process id"
grep -q "$(basename "$(readlink -f "$lib")")" "/proc/$server_pid/maps" || fail "libstrata is not mapped in redis-server"
grep -q "libjemalloc" "/proc/$server_pid/maps" && echo "libjemalloc.so.2 is mapped too (linked), unused for allocation"
[ "$(cli set strata:key hello)" = OK ] || fail "SET"
[ "$(cli get strata:key)" = hello ] || fail "GET"
cli info memory >"$dir/info" || fail "INFO memory"
grep -E '^allocator_allocated:[1-9]' "$dir/info" >/dev/null || fail "INFO memory: allocator_allocated is not positive (mallctl stats.*)"
grep -E '^allocator_resident:[1-9]' "$dir/info" >/dev/null || fail "INFO memory: allocator_resident is not positive"
grep -E '^(used_memory|allocator_allocated|allocator_active|allocator_resident|mem_allocator):' "$dir/info" | tr -d '\r'
cli memory malloc-stats >"$dir/malloc-stats" || fail "MEMORY MALLOC-STATS"
grep -q "___ Begin strata statistics ___" "$dir/malloc-stats" || fail "MEMORY MALLOC-STATS is not strata's malloc_stats_print"
[ "$(cli memory purge)" = OK ] || fail "MEMORY PURGE (mallctl arenas.narenas + arena.<n>.purge)"

timeout 120 redis-benchmark -h 127.0.0.1 -p "$port" -q -n 20000 -t set,get,lpush,lpop >"$dir/bench" 2>&1 ||
  fail "redis-benchmark"
tr '\r' '\n' <"$dir/bench" | grep -E '^(SET|GET|LPUSH|LPOP): [0-9.]+ requests per second' | tee "$dir/rps"
[ "$(wc -l <"$dir/rps")" -eq 4 ] || fail "redis-benchmark did not finish all four tests"
[ "$(cli dbsize)" -ge 2 ] || fail "DBSIZE after the benchmark"
[ "$(cli get strata:key)" = hello ] || fail "GET after the benchmark"

cli shutdown nosave >/dev/null 2>&1
wait "$pid"
status=$?
pid=""
[ "$status" -eq 0 ] || fail "redis-server exited with $status"
if grep -q "strata: " "$dir/stderr"; then cat "$dir/stderr"; fail "strata reported misuse"; fi
echo "redis on strata: ok"
