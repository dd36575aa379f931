#!/bin/sh
# Every installed header stands alone: installs strata into a scratch prefix,
# then compiles one translation unit per header under <prefix>/include that
# includes just that header, with -I<prefix>/include and nothing else of
# strata's (C headers as C and as C++; C++ headers as C++20). Also fails when
# an installed header includes a project header by a path without the
# strata/ prefix (a user's own "core/types.hpp" would be found instead).
# Usage: headers_test.sh <build-dir> <scratch-dir> <c-compiler> <c++-compiler>
set -eu
build=$1 work=$2 cc=$3 cxx=$4
prefix=$work/prefix
rm -rf "$work"
mkdir -p "$work/tu"
cmake --install "$build" --prefix "$prefix" >"$work/install.log"
inc=$prefix/include
[ -d "$inc/strata" ] || { echo "FAIL: nothing installed under $inc/strata" >&2; exit 1; }

fail=0 n=0
# Quoted includes must name strata/...; angle includes of strata's own
# folders must too (a bare <core/...> or <engine/...> is a project path).
bad=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*("[^"]*"|<(core|engine)/[^>]*>)' "$inc/strata" |
      grep -vE '#[[:space:]]*include[[:space:]]*"strata/' || true)
if [ -n "$bad" ]; then
  echo "FAIL: installed headers include project headers without the strata/ prefix:" >&2
  echo "$bad" >&2
  fail=1
fi

for hdr in $(cd "$inc" && find strata -name '*.h' -o -name '*.hpp' | sort); do
  n=$((n + 1))
  id=$(echo "$hdr" | tr '/.' '__')
  case "$hdr" in
    *.h)
      printf '#include <%s>\nint strata_header_test_%s;\n' "$hdr" "$id" >"$work/tu/$id.c"
      "$cc" -std=c11 -Wall -Wextra -Werror -I"$inc" -c "$work/tu/$id.c" -o "$work/tu/$id.c.o" 2>"$work/tu/$id.c.log" ||
        { echo "FAIL (C): $hdr"; cat "$work/tu/$id.c.log"; fail=1; }
      cp "$work/tu/$id.c" "$work/tu/$id.cc"
      "$cxx" -std=c++20 -Wall -Wextra -Werror -I"$inc" -c "$work/tu/$id.cc" -o "$work/tu/$id.cc.o" 2>"$work/tu/$id.cc.log" ||
        { echo "FAIL (C++): $hdr"; cat "$work/tu/$id.cc.log"; fail=1; } ;;
    *)
      printf '#include <%s>\nint strata_header_test_%s;\n' "$hdr" "$id" >"$work/tu/$id.cc"
      "$cxx" -std=c++20 -Wall -Wextra -Werror -I"$inc" -c "$work/tu/$id.cc" -o "$work/tu/$id.cc.o" 2>"$work/tu/$id.cc.log" ||
        { echo "FAIL (C++): $hdr"; cat "$work/tu/$id.cc.log"; fail=1; } ;;
  esac
done
[ "$n" -gt 10 ] || { echo "FAIL: only $n headers installed" >&2; exit 1; }
[ "$fail" = 0 ] || exit 1
echo "headers test: $n installed headers compile alone with -I$inc"
