# strata firmware toolchain: aarch64 (Cortex-A53, EL1, MMU off, QEMU virt).
# Usage: cmake -S freestanding -B b -DCMAKE_TOOLCHAIN_FILE=<this file>
set(STRATA_FW_ISA aarch64)
set(STRATA_FW_TRIPLE aarch64-none-elf)
# General registers only (soft-float, no FP/SIMD state to enable) and strict
# alignment: with the MMU off, real hardware treats RAM as device memory.
# No -moutline-atomics: nothing here provides its helpers.
set(STRATA_FW_ARCH_FLAGS -mcpu=cortex-a53 -mgeneral-regs-only -mstrict-align)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain_common.cmake)
