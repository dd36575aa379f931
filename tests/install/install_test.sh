#!/bin/sh
# Installs strata to a scratch prefix, then builds and runs consumers through
# find_package (shared, static, alias, engine) and through pkg-config, and
# runs bin/strata. Usage: install_test.sh <build-dir> <source-dir> <scratch-dir>
set -eu
build=$1 src=$2 work=$3
prefix=$work/prefix
rm -rf "$work"
mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$work/install.log"
for f in lib/libstrata.so.0 lib/libstrata.so lib/libstrata.a include/strata/strata.h \
         include/strata/strata_version.h include/strata/engine/tlsf.hpp \
         include/strata/core/types.hpp lib/cmake/strata/strataConfig.cmake \
         lib/pkgconfig/strata.pc bin/strata; do
  [ -e "$prefix/$f" ] || fail "missing $f"
done
[ "$(readlink "$prefix/lib/libstrata.so")" = libstrata.so.0 ] || fail "libstrata.so is not a link to libstrata.so.0"
readelf -d "$prefix/lib/libstrata.so.0" | grep -q 'SONAME.*libstrata.so.0' || fail "SONAME is not libstrata.so.0"

echo "== find_package(strata)"
cmake -S "$src/tests/install/consumer" -B "$work/cmake" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" >"$work/configure.log" || { cat "$work/configure.log"; fail "configure"; }
cmake --build "$work/cmake" >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "build"; }
for exe in consumer_shared consumer_static consumer_alias; do
  out=$("$work/cmake/$exe") || fail "$exe failed"
  echo "$exe: $out"
  case "$out" in "strata "*" ok"*) ;; *) fail "$exe: unexpected output" ;; esac
done
ldd "$work/cmake/consumer_shared" | grep -q "libstrata.so.0 => $prefix" || fail "consumer_shared does not load the installed libstrata"
! ldd "$work/cmake/consumer_static" | grep -q libstrata || fail "consumer_static loads libstrata.so"
"$work/cmake/consumer_engine" | grep -q "engine ok" || fail "consumer_engine"

echo "== pkg-config strata"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
version=$(pkg-config --modversion strata)
echo "$version" | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+$' || fail "Version '$version' is not semver"
pkg-config --static --libs strata | grep -q -- -pthread || fail "Libs.private lacks -pthread"
# shellcheck disable=SC2046
cc -o "$work/pc_shared" "$src/tests/install/consumer/consumer.c" $(pkg-config --cflags --libs strata) \
  -Wl,-rpath,"$prefix/lib" || fail "pkg-config build (shared)"
out=$("$work/pc_shared") || fail "pc_shared failed"
echo "pc_shared: $out"
# shellcheck disable=SC2046
cc -o "$work/pc_static" "$src/tests/install/consumer/consumer.c" $(pkg-config --cflags strata) \
  -L"$prefix/lib" -Wl,-Bstatic -lstrata -Wl,-Bdynamic $(pkg-config --static --libs-only-other strata) ||
  fail "pkg-config build (static)"
out=$("$work/pc_static") || fail "pc_static failed"
echo "pc_static: $out"

echo "== bin/strata"
[ "$("$prefix/bin/strata" --lib)" = "$(readlink -f "$prefix/lib")/libstrata.so.0" ] || fail "strata --lib"
err=$("$prefix/bin/strata" --stats --conf bogus:1 /bin/true 2>&1 >/dev/null) || fail "strata --stats /bin/true"
echo "$err" | grep -q "invalid conf pair: bogus:1" || fail "bin/strata did not preload strata"
echo "$err" | grep -q "___ Begin strata statistics ___" || fail "--stats printed no statistics"
"$prefix/bin/strata" --json /bin/true 2>&1 >/dev/null | /usr/bin/python3 -c 'import json,sys; json.load(sys.stdin)["strata"]["stats"]' ||
  fail "--json output is not JSON"
"$prefix/bin/strata" --prof --prof-prefix "$work/wrapped" /bin/true || fail "strata --prof /bin/true"
"$prefix/bin/strata" --verbose --guarded=100 /bin/true 2>&1 | grep -q 'opt.guarded_sample_rate:100' || fail "strata --guarded=100: not guarded_sample_rate:100"
"$prefix/bin/strata" --verbose --guarded /bin/true 2>&1 | grep -q 'opt.guarded_sample_rate:1$' || fail "strata --guarded: not guarded_sample_rate:1"
ls "$work"/wrapped.*.0.f.heap >/dev/null 2>&1 || fail "strata --prof wrote no <prefix>.<pid>.0.f.heap"
head -n 1 "$work"/wrapped.*.0.f.heap | grep -q '^heap profile: .* @ heap_v2/524288$' || fail "strata --prof: not a heap profile"
echo "install test: ok"
