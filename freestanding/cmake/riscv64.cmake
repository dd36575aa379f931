# strata firmware toolchain: riscv64 (rv64gc, lp64d, M-mode, QEMU virt).
# Usage: cmake -S freestanding -B b -DCMAKE_TOOLCHAIN_FILE=<this file>
set(STRATA_FW_ISA riscv64)
set(STRATA_FW_TRIPLE riscv64-unknown-elf)
set(STRATA_FW_BOARD riscv)
# medany: the image lives at 0x80000000, out of medlow's reach. lld 14 has no
# RISC-V relaxation, so no object may ask for it.
set(STRATA_FW_ARCH_FLAGS -march=rv64gc -mabi=lp64d -mcmodel=medany -mno-relax)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain_common.cmake)
