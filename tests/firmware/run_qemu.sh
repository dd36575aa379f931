#!/usr/bin/env bash
# strata firmware harness: boots one image under qemu-system and judges it.
#
#   run_qemu.sh <isa> <image.elf>
#       PASS (exit 0) only when QEMU exits with the ISA's pass code AND the
#       serial log holds "strata-fw: PASS <n> checks"; FAIL (exit 1) otherwise,
#       including a hang (killed by timeout) or a triple fault.
#   run_qemu.sh --expect-fail <regex> <isa> <image.elf>
#       For images that must fail: exit 0 only when the run above says FAIL
#       AND the log matches <regex> (the failure is the intended one).
#   run_qemu.sh --icount <isa> <image.elf>
#       Runs QEMU with -icount shift=10: virtual time advances 1024 ns per
#       instruction, so every board's cycle counter counts instructions in a
#       fixed proportion (the bounds image measures with it).
#
# The serial log goes to stdout (ctest shows it) and to <image>.log.
# Environment: STRATA_FW_TIMEOUT (seconds, default 30), QEMU_SYSTEM_PREFIX
# (default qemu-system-), STRATA_FW_QEMU_WRAPPER (a command the QEMU command
# line is handed to, e.g. for tracing; the harness self-tests use a fake).
set -u
expect_fail=""
icount=()
while :; do
  case "${1:-}" in
    --expect-fail) expect_fail=$2; shift 2 ;;
    --icount) icount=(-icount shift=10); shift ;;
    *) break ;;
  esac
done
if [ $# -ne 2 ]; then
  echo "usage: $0 [--expect-fail <regex>] [--icount] <x86_64|riscv64|aarch64|riscv32|cortex-m3|cortex-m4> <image.elf>" >&2
  exit 2
fi
isa=$1
image=$2
timeout_s=${STRATA_FW_TIMEOUT:-30}
qemu=${QEMU_SYSTEM_PREFIX:-qemu-system-}
# Board, console and exit conventions per ISA (shared/FREESTANDING.md).
case "$isa" in
  riscv64)
    cmd=("${qemu}riscv64" -machine virt -bios none -smp 1 -m 128M -nographic -kernel "$image")
    pass_code=0 ;;  # SiFive test finisher, 0x5555
  aarch64)
    cmd=("${qemu}aarch64" -machine virt -cpu cortex-a53 -smp 1 -m 128M -nographic -semihosting -kernel "$image")
    pass_code=0 ;;  # semihosting SYS_EXIT status 0
  x86_64)
    cmd=("${qemu}x86_64" -machine microvm -m 128M -nodefaults -display none -serial stdio -no-reboot
         -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$image")
    pass_code=33 ;;  # isa-debug-exit: (0x10 << 1) | 1; a triple fault exits 0
  riscv32)
    cmd=("${qemu}riscv32" -machine virt -bios none -smp 1 -m 128M -nographic
         -semihosting-config enable=on,target=native -kernel "$image")
    pass_code=0 ;;  # as riscv64; the picolibc image exits through semihosting
  cortex-m3|cortex-m4)
    board=mps2-an385
    [ "$isa" = cortex-m4 ] && board=mps2-an386
    cmd=("${qemu}arm" -machine "$board" -nographic -semihosting-config enable=on,target=native -kernel "$image")
    pass_code=0 ;;  # semihosting SYS_EXIT_EXTENDED status 0
  *)
    echo "unknown ISA '$isa'" >&2
    exit 2 ;;
esac
if [ ! -f "$image" ]; then
  echo "harness: FAIL: no image $image" >&2
  exit 1
fi

log="${image%.elf}.log"
read -r -a wrapper <<<"${STRATA_FW_QEMU_WRAPPER:-}"
start=$(date +%s%N)
timeout --kill-after=5 "$timeout_s" "${wrapper[@]}" "${cmd[@]}" "${icount[@]}" </dev/null >"$log" 2>&1
code=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
elapsed=$(printf '%d.%03d' $((elapsed_ms / 1000)) $((elapsed_ms % 1000)))
tr -d '\r' <"$log"

verdict=PASS
why="exit code $code (pass: $pass_code), pass line present"
if ! grep -aEq '^strata-fw: PASS [0-9]+ checks' <(tr -d '\r' <"$log"); then
  verdict=FAIL
  why="exit code $code (pass: $pass_code), no pass line"
fi
if [ "$code" -ne "$pass_code" ]; then
  verdict=FAIL
  [ "$code" -eq 124 ] && why="$why, timed out after ${timeout_s}s"
fi
echo "harness: $verdict $isa $(basename "$image"): $why, ${elapsed}s"

if [ -z "$expect_fail" ]; then
  [ "$verdict" = PASS ]
  exit $?
fi
if [ "$verdict" = PASS ]; then
  echo "harness: expected FAIL, got PASS"
  exit 1
fi
if ! grep -aEq "$expect_fail" <(tr -d '\r' <"$log"); then
  echo "harness: FAIL as expected, but the log lacks /$expect_fail/"
  exit 1
fi
echo "harness: FAIL as expected (/$expect_fail/)"
exit 0
