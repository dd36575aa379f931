#!/usr/bin/env bash
# strata firmware harness self-test: stands in for qemu-system-* (through
# STRATA_FW_QEMU_WRAPPER) and behaves as FAKE_QEMU says, ignoring the QEMU
# command line it is given:
#   pass:<code>     prints the pass line, exits <code>
#   noline:<code>   prints a progress line only, exits <code>
#   hang            prints the pass line, then never exits
case "${FAKE_QEMU:-}" in
  pass:*) echo "strata-fw: PASS 7 checks"; exit "${FAKE_QEMU#pass:}" ;;
  noline:*) echo "strata-fw: tlsf bad_input: ok (59 checks)"; exit "${FAKE_QEMU#noline:}" ;;
  hang) echo "strata-fw: PASS 7 checks"; exec sleep 1000 ;;
  *) echo "fake_qemu: set FAKE_QEMU" >&2; exit 2 ;;
esac
