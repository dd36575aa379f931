#!/usr/bin/env bash
# The test command: installs dependencies, builds strata from scratch in two
# configurations (release with -Werror; ASan+UBSan) and runs ctest in each.
# Usage: scripts/test.sh            (both configurations)
#        STRATA_TEST_CONFIGS=release scripts/test.sh   (one of: release asan)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh" test
jobs=$(nproc)
configs=${STRATA_TEST_CONFIGS:-"release asan"}
for cfg in $configs; do
  dir="$root/build-ci-$cfg"
  rm -rf "$dir"
  case "$cfg" in
    release) extra=(-DCMAKE_BUILD_TYPE=Release) ;;
    asan) extra=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_SANITIZE=address,undefined) ;;
    *) echo "unknown config $cfg" >&2; exit 2 ;;
  esac
  echo "=== strata: configure + build ($cfg)"
  cmake -S "$root" -B "$dir" -G Ninja -DSTRATA_WERROR=ON -DSTRATA_BUILD_BENCH=OFF "${extra[@]}"
  cmake --build "$dir" -j "$jobs"
  echo "=== strata: ctest ($cfg)"
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 900)
done
