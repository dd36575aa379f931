#!/usr/bin/env bash
# The allocator comparison: strata against glibc, jemalloc, mimalloc and tcmalloc.
#
# Installs what it needs (scripts/deps.sh bench), builds strata and the
# benchmark programs (CMake Release into build-bench/), then runs every
# workload under every allocator, alternating allocators (A B C A B C ...),
# each run under /usr/bin/time. Writes into bench/results/:
#   benchres.csv   one line per run, mimalloc-bench's format:
#                  benchmark allocator elapsed(s) rss(KiB) user(s) sys(s)
#   failures.txt   runs that crashed, timed out or printed a wrong checksum
#   time.png, rss.png   relative time / peak RSS per workload, jemalloc = 1.00x
#   table.txt      the printed table, with the machine and date
# and prints the median table with geometric means (bench/report.py).
# Only ratios measured within one invocation are comparable (docs/benchmarks.md).
#
# Usage: scripts/bench.sh [--quick] [--runs N] [--alloc a,b,..] [--only w1,w2,..]
#                         [--no-build] [--list]
#        scripts/bench.sh --micro [--quick] [--alloc ..]   Google Benchmark under each allocator
#                                                          (and the engine-level engine_bench once)
#        scripts/bench.sh --instructions [--alloc ..]      callgrind instructions per malloc+free
#   --quick          CI smoke: fewer workloads, smaller scales, 2 runs (< 3 minutes)
#   --runs N         runs per workload and allocator (default 5; quick 2)
#   --alloc LIST     subset of glibc,jemalloc,mimalloc,tcmalloc,strata (default: all);
#                    NAME=/path/lib.so adds another library, e.g. strata-old=/tmp/old/libstrata.so;
#                    NAME=/path/lib.so@CONF runs it with STRATA_CONF=CONF (';' for ','), e.g.
#                    strata-off=build-bench/interpose/libstrata.so@guarded_sample_rate:0
#   --only LIST      run only these workloads (see --list)
#   --no-build       use the existing build as it is
# Environment:
#   STRATA_LIB=/path/libstrata.so   the strata library to preload
#                                   (default <build>/interpose/libstrata.so)
#   STRATA_BENCH_BUILD=dir          build directory (default <repo>/build-bench)
#   STRATA_BENCH_OUT=dir            results directory (default <repo>/bench/results)
# Without a strata library, strata is dropped with a warning unless --alloc named it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${STRATA_BENCH_BUILD:-$root/build-bench}
out=${STRATA_BENCH_OUT:-$root/bench/results}
py=/usr/bin/python3  # Debian's, with matplotlib and scipy (not a pyenv python3)

mode=workloads quick=0 runs="" alloc_arg="" only="" do_build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --runs) runs=$2; shift ;;
    --alloc) alloc_arg=$2; shift ;;
    --only) only=$2; shift ;;
    --no-build) do_build=0 ;;
    --micro) mode=micro ;;
    --instructions) mode=instructions ;;
    --list) mode=list ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$runs" ] || runs=$([ $quick = 1 ] && echo 2 || echo 5)

# ---- allocators ---------------------------------------------------------------
libdir=/usr/lib/x86_64-linux-gnu
all_allocs=(glibc jemalloc mimalloc tcmalloc strata)
declare -A conf=()
declare -A lib=([glibc]="" [jemalloc]=$libdir/libjemalloc.so.2 [mimalloc]=$libdir/libmimalloc.so.2
  [tcmalloc]=$libdir/libtcmalloc_minimal.so.4 [strata]=${STRATA_LIB:-$build/interpose/libstrata.so})
if [ -n "$alloc_arg" ]; then IFS=, read -r -a allocs <<<"$alloc_arg"; else allocs=("${all_allocs[@]}"); fi
for i in "${!allocs[@]}"; do
  a=${allocs[$i]}
  if [[ $a == *=* ]]; then
    spec=${a#*=} allocs[$i]=${a%%=*}
    lib[${a%%=*}]=${spec%%@*}
    if [[ $spec == *@* ]]; then conf[${a%%=*}]=${spec#*@}; conf[${a%%=*}]=${conf[${a%%=*}]//;/,}; fi
    continue
  fi
  [ -n "${lib[$a]+x}" ] || { echo "bench.sh: unknown allocator '$a' (know: ${all_allocs[*]})" >&2; exit 2; }
done

# ---- workloads ------------------------------------------------------------------
# def NAME COMMAND FULL QUICK [STDIN]: %s in COMMAND (and STDIN) becomes the scale,
# FULL for the full run, QUICK for --quick ("-": not in the quick set).
W=$build/bench/workloads R=$root/bench/real inputs=$build/bench/inputs
names=() cmds=() fulls=() quicks=() stdins=()
def() { names+=("$1"); cmds+=("$2"); fulls+=("$3"); quicks+=("$4"); stdins+=("${5:-/dev/null}"); }
def larson-2        "$W/larson --threads=2 %s"                    --ops=24M          --ops=6M
def larson-4        "$W/larson --threads=4 %s"                    --ops=24M          -
def prodcons-2      "$W/prodcons --threads=2 %s"                  --objects=8M       --objects=2M
def prodcons-4      "$W/prodcons --threads=4 %s"                  --objects=8M       -
def cache-thrash-2  "$W/false_sharing --mode=thrash --threads=2 %s"  --iterations=400K  -
def cache-thrash-4  "$W/false_sharing --mode=thrash --threads=4 %s"  --iterations=400K  --iterations=30K
def cache-scratch-2 "$W/false_sharing --mode=scratch --threads=2 %s" --iterations=400K  --iterations=30K
def cache-scratch-4 "$W/false_sharing --mode=scratch --threads=4 %s" --iterations=400K  -
def thread-churn-2  "$W/thread_churn --threads=2 %s"              --total=8000       -
def thread-churn-4  "$W/thread_churn --threads=4 %s"              --total=8000       --total=2000
def frag-churn      "$W/frag_churn %s"                            --rounds=16        "--rounds=4 --budget=16M"
def powerlaw        "$W/powerlaw %s"                              --steps=12M        --steps=3M
def realloc-grow    "$W/realloc_grow %s"                          --grown=80         --grown=10
def big-cycle       "$W/big_cycle %s"                             --cycles=200       --cycles=30
def big-cycle-mixed "$W/big_cycle --min=64K --max=16M --live=16 --spread=log %s"  --cycles=1500  --cycles=250
def gen-churn-2     "$W/gen_churn --threads=2 %s"                 --ops=12M          --ops=3M
def gen-churn-4     "$W/gen_churn --threads=4 %s"                 --ops=12M          -
def remote-random-2 "$W/remote_random --threads=2 %s"             --ops=4M           --ops=1M
def remote-random-4 "$W/remote_random --threads=4 %s"             --ops=4M           -
def tight-loop-1    "$W/tight_loop --threads=1 %s"                --ops=100M         --ops=20M
def tight-loop-2    "$W/tight_loop --threads=2 %s"                --ops=100M         -
def sqlite3         "sqlite3 :memory:"                            80000              20000  "$inputs/sqlite-%s.sql"
def python-json     "env PYTHONMALLOC=malloc PYTHONHASHSEED=0 $py $R/json_churn.py %s"  150  40

if [ $mode = list ]; then
  for i in "${!names[@]}"; do printf '%-16s %s\n' "${names[$i]}" "${cmds[$i]//%s/${fulls[$i]}}"; done
  exit 0
fi

# ---- dependencies and build --------------------------------------------------------
"$root/scripts/deps.sh" bench
if [ $do_build = 1 ]; then
  echo "=== build ($build)"
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_TESTS=OFF \
    -DSTRATA_BUILD_BENCH=ON >/dev/null
  cmake --build "$build" --target strata_bench
  if [[ " ${allocs[*]} " == *" strata "* && -z "${STRATA_LIB:-}" ]]; then
    cmake --build "$build" --target strata ||
      echo "bench.sh: warning: building libstrata failed; strata will be skipped" >&2
  fi
fi

# A library that ld.so cannot preload is skipped with a warning on stderr and
# the run silently measures glibc: refuse that.
check_lib() {
  local a=$1 l=${lib[$1]} msg
  [ -z "$l" ] && return 0
  [ -f "$l" ] || { echo "no library $l"; return 1; }
  msg=$(env LD_PRELOAD="$l" /bin/true 2>&1) || true
  [ -z "$msg" ] || { echo "$l does not preload: $msg"; return 1; }
  nm -D --defined-only "$l" | grep -w malloc >/dev/null || { echo "$l exports no malloc"; return 1; }
}
kept=()
for a in "${allocs[@]}"; do
  if why=$(check_lib "$a"); then kept+=("$a")
  elif [ "$a" = strata ] && [[ ",$alloc_arg," != *",strata,"* ]]; then
    echo "bench.sh: warning: strata skipped ($why); set STRATA_LIB or build interpose/" >&2
  else echo "bench.sh: $a: $why" >&2; exit 1; fi
done
# Peers first, strata (and any extra library) last: the first run of a workload
# sets the checksum every other run must reproduce; it should come from a peer.
allocs=()
for a in "${kept[@]}"; do [[ " ${all_allocs[*]:0:4} " == *" $a "* ]] && allocs+=("$a"); done
for a in "${kept[@]}"; do [[ " ${all_allocs[*]:0:4} " == *" $a "* ]] || allocs+=("$a"); done
[ ${#allocs[@]} -gt 0 ] || { echo "bench.sh: no allocator left to run" >&2; exit 1; }

mkdir -p "$out"
pairs=(); for a in "${allocs[@]}"; do pairs+=("$a=${lib[$a]}"); done
if [ $mode = instructions ]; then
  exec "$root/bench/instructions.sh" "$build/bench/fastpath" "$out/instructions.txt" "${pairs[@]}"
fi

# ---- micro-benchmarks: one binary, once per allocator, JSON kept ----------------------
if [ $mode = micro ]; then
  gb_args=(--benchmark_repetitions=3 --benchmark_min_time=0.2) cmp_args=(--no-color -a)
  [ $quick = 1 ] && gb_args=(--benchmark_min_time=0.02) cmp_args=(--no-color)
  for a in "${allocs[@]}"; do
    echo "=== malloc_bench under $a"
    pre=(); [ -n "${lib[$a]}" ] && pre=("LD_PRELOAD=${lib[$a]}")
      [ -n "${conf[$a]:-}" ] && pre+=("STRATA_CONF=${conf[$a]}")
    env -u LD_PRELOAD "${pre[@]}" "$build/bench/malloc_bench" "${gb_args[@]}" \
      --benchmark_out="$out/malloc_$a.json" --benchmark_out_format=json >"$out/malloc_$a.txt" 2>&1 ||
      { echo "bench.sh: malloc_bench failed under $a:"; tail -n 5 "$out/malloc_$a.txt"; exit 1; } >&2
  done
  base=jemalloc; [ -f "$out/malloc_$base.json" ] || base=${allocs[0]}
  for a in "${allocs[@]}"; do
    [ "$a" = "$base" ] && continue
    "$py" /usr/share/benchmark/compare.py "${cmp_args[@]}" benchmarks "$out/malloc_$base.json" "$out/malloc_$a.json" \
      >"$out/compare_$a.txt" 2>&1 || true
    printf '%-9s vs %s: %s\n' "$a" "$base" \
      "$(grep -m1 OVERALL_GEOMEAN "$out/compare_$a.txt" | awk '{print "time " $2 ", cpu " $3}')"
  done
  if [ -x "$build/bench/engine_bench" ]; then  # the engines alone: no allocator to preload
    echo "=== engine_bench"
    "$build/bench/engine_bench" "${gb_args[@]}" --benchmark_out="$out/engine.json" \
      --benchmark_out_format=json >"$out/engine.txt" 2>&1 || { tail -n 5 "$out/engine.txt"; exit 1; } >&2
  fi
  echo "(OVERALL_GEOMEAN of compare.py: relative change, negative = faster than $base)"
  echo "results: $out/malloc_<alloc>.json, $out/compare_<alloc>.txt"
  exit 0
fi

# ---- the runs -------------------------------------------------------------------
sel=()
for i in "${!names[@]}"; do
  scale=${fulls[$i]}; [ $quick = 1 ] && scale=${quicks[$i]}
  [ "$scale" = - ] && continue
  [ -n "$only" ] && [[ ",$only," != *",${names[$i]},"* ]] && continue
  sel+=("$i")
  if [ "${names[$i]}" = sqlite3 ] && [ ! -s "$inputs/sqlite-$scale.sql" ]; then
    mkdir -p "$inputs" && "$py" "$R/sqlite_gen.py" "$scale" >"$inputs/sqlite-$scale.sql"
  fi
done
[ ${#sel[@]} -gt 0 ] || { echo "bench.sh: no workload selected (see --list)" >&2; exit 2; }

csv=$out/benchres.csv failures=$out/failures.txt raw=$out/raw
rm -rf "$raw"; mkdir -p "$raw"; : >"$csv"; : >"$failures"
limit=$([ $quick = 1 ] && echo 60 || echo 300)  # seconds per run before it counts as hung
declare -A expect  # workload -> stdout checksum of its first good run
total=$(( ${#sel[@]} * ${#allocs[@]} * runs )) n=0
echo "=== $(git -C "$root" rev-parse --short HEAD 2>/dev/null) on $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg);" \
  "${#sel[@]} workloads x ${allocs[*]} x $runs runs"
for ((r = 0; r < runs; r++)); do
  for i in "${sel[@]}"; do
    name=${names[$i]}; scale=${fulls[$i]}; [ $quick = 1 ] && scale=${quicks[$i]}
    cmd=${cmds[$i]//%s/$scale}; stdin=${stdins[$i]//%s/$scale}
    for ((k = 0; k < ${#allocs[@]}; k++)); do
      a=${allocs[$(( (k + r) % ${#allocs[@]} ))]}  # rotate who goes first each run
      n=$((n + 1)); log=$raw/$name.$a.$r
      pre=(); [ -n "${lib[$a]}" ] && pre=("LD_PRELOAD=${lib[$a]}")
      [ -n "${conf[$a]:-}" ] && pre+=("STRATA_CONF=${conf[$a]}")
      # shellcheck disable=SC2086  # cmd is a word list on purpose
      if /usr/bin/time -o "$log.time" -f "%e %M %U %S" timeout -k 5 "$limit" \
          env -u LD_PRELOAD "${pre[@]}" $cmd <"$stdin" >"$log.out" 2>"$log.err"; then
        sum=$(md5sum <"$log.out" | cut -c1-32)
        : "${expect[$name]:=$sum}"
        if [ "$sum" = "${expect[$name]}" ]; then
          read -r e m u s < <(tail -n 1 "$log.time")
          echo "$name $a $e $m $u $s" >>"$csv"
          printf '[%3d/%d] %-16s %-9s %7.2f s %8d KiB\n' $n $total "$name" "$a" "$e" "$m"
          continue
        fi
        why="wrong output (checksum differs from the first run's, see $log.out)"
      else
        why="failed: $(head -n 1 "$log.time") $(tail -n 2 "$log.err" | tr '\n' ' ')"
      fi
      echo "$name $a $why" >>"$failures"
      printf '[%3d/%d] %-16s %-9s %s\n' $n $total "$name" "$a" "$why"
    done
  done
done
echo "=== done, load $(cut -d' ' -f1-3 /proc/loadavg)"

{
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)," \
    "$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1); $(date -u +%Y-%m-%d);" \
    "runs per workload and allocator: $runs$([ $quick = 1 ] && echo ' (quick mode)')"
  "$py" "$root/bench/report.py" "$csv" --failures "$failures" --baseline jemalloc
} | tee "$out/table.txt"
"$py" "$root/bench/plot.py" "$csv" --out "$out" --failures "$failures" --baseline jemalloc
echo "results: $csv, $out/time.png, $out/rss.png"
