#!/usr/bin/env bash
# Installs every Debian 12 package strata's build, tests and benchmarks use.
# Idempotent; needs root (or sudo). Usage: scripts/deps.sh [test|bench|all]
set -euo pipefail
what=${1:-all}
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
test_pkgs=(build-essential cmake ninja-build pkg-config git clang-14 lld-14 llvm-14 libclang-rt-14-dev
  libgtest-dev libgmock-dev libbenchmark-dev python3 valgrind time
  qemu-system-misc qemu-system-arm qemu-system-x86
  glibc-source libpython3.11-testsuite sqlite3 redis-server redis-tools libjemalloc-dev debootstrap
  google-perftools graphviz binutils libunwind8)
bench_pkgs=(build-essential cmake ninja-build git libbenchmark-dev libbenchmark-tools
  libjemalloc-dev libjemalloc2 libmimalloc-dev libmimalloc2.0 libgoogle-perftools-dev libtcmalloc-minimal4
  python3 python3-scipy python3-numpy python3-matplotlib time valgrind sqlite3 hyperfine libunwind8)
case "$what" in
  test) pkgs=("${test_pkgs[@]}") ;;
  bench) pkgs=("${bench_pkgs[@]}") ;;
  all) pkgs=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 [test|bench|all]" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
