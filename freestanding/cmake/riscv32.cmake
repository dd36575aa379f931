# strata firmware toolchain: RV32 (rv32imac, ilp32, M-mode, QEMU virt).
# Usage: cmake -S freestanding -B b -DCMAKE_TOOLCHAIN_FILE=<this file>
set(STRATA_FW_ISA riscv32)
set(STRATA_FW_TRIPLE riscv32-unknown-elf)
# The boot code of riscv64 (boot/riscv), built for 32-bit registers.
set(STRATA_FW_BOARD riscv)
# The microcontroller profile: integer, multiply, atomics, compressed; no FPU.
# medany: the image lives at 0x80000000. lld 14 has no RISC-V relaxation.
set(STRATA_FW_ARCH_FLAGS -march=rv32imac -mabi=ilp32 -mcmodel=medany -mno-relax)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain_common.cmake)
