#!/usr/bin/env bash
# The test command: installs dependencies, builds strata from scratch in three
# configurations (release with -Werror; ASan+UBSan; ThreadSanitizer, which
# builds and runs only the threaded runtime tests, label `runtime`) and runs
# ctest in each. Ends with "tests: N passed, M failed" over the configurations run.
# Usage: scripts/test.sh            (all configurations)
#        STRATA_TEST_CONFIGS=release scripts/test.sh   (any of: release asan tsan)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh" test
jobs=$(nproc)
configs=${STRATA_TEST_CONFIGS:-"release asan tsan"}
passed=0 failed=0
for cfg in $configs; do
  dir="$root/build-ci-$cfg"
  rm -rf "$dir"
  targets=() ctest_args=()
  case "$cfg" in
    release) extra=(-DCMAKE_BUILD_TYPE=Release) ;;
    asan) extra=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_SANITIZE=address,undefined) ;;
    tsan) extra=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_SANITIZE=thread)
      targets=(--target runtime_prefixed_threads reliability_soak_prefixed) ctest_args=(-L runtime) ;;
    *) echo "unknown config $cfg" >&2; exit 2 ;;
  esac
  echo "=== strata: configure + build ($cfg)"
  cmake -S "$root" -B "$dir" -G Ninja -DSTRATA_WERROR=ON -DSTRATA_BUILD_BENCH=OFF "${extra[@]}"
  cmake --build "$dir" -j "$jobs" "${targets[@]}"
  echo "=== strata: ctest ($cfg)"
  status=0
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 900 "${ctest_args[@]}") 2>&1 | tee "$dir/ctest.log" || status=$?
  # ctest's closing line: "NN% tests passed, F tests failed out of T".
  line=$(grep -E '[0-9]+ tests failed out of [0-9]+' "$dir/ctest.log" | tail -n 1 || true)
  if [ -z "$line" ]; then
    echo "strata: ctest ($cfg) reported no result" >&2
    exit 1
  fi
  f=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
  t=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
  passed=$((passed + t - f)) failed=$((failed + f))
  if [ "$status" != 0 ] || [ "$f" != 0 ]; then
    echo "tests: $passed passed, $failed failed"
    exit 1
  fi
done
echo "tests: $passed passed, $failed failed"
