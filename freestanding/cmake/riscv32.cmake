# strata firmware toolchain: RV32 (rv32imac, ilp32, M-mode, QEMU virt).
# Usage: cmake -S freestanding -B b -DCMAKE_TOOLCHAIN_FILE=<this file>
set(STRATA_FW_ISA riscv32)
set(STRATA_FW_TRIPLE riscv32-unknown-elf)
# The boot code of riscv64 (boot/riscv), built for 32-bit registers.
set(STRATA_FW_BOARD riscv)
# The microcontroller profile: integer, multiply, atomics, compressed; no FPU.
# medany: the image lives at 0x80000000. lld 14 has no RISC-V relaxation.
set(STRATA_FW_ARCH_FLAGS -march=rv32imac -mabi=ilp32 -mcmodel=medany -mno-relax)
# The C library image (tests/firmware/picolibc_main.c) is compiled and linked
# by the cross GCC with picolibc (picolibc-riscv64-unknown-elf): its driver, flags and
# the board's memory for picolibc's linker script.
set(STRATA_FW_GCC_NAMES riscv64-unknown-elf-gcc)
set(STRATA_FW_GCC_FLAGS -march=rv32imac -mabi=ilp32 -mcmodel=medany)
set(STRATA_FW_GCC_MEMORY -Wl,--defsym=__flash=0x80000000 -Wl,--defsym=__flash_size=0x200000
  -Wl,--defsym=__ram=0x80200000 -Wl,--defsym=__ram_size=0x200000)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain_common.cmake)
