# strata firmware toolchain: Cortex-M4 (ARMv7E-M, Thumb-2; QEMU mps2-an386).
# Usage: cmake -S freestanding -B b -DCMAKE_TOOLCHAIN_FILE=<this file>
set(STRATA_FW_ISA cortex-m4)
set(STRATA_FW_TRIPLE thumbv7em-none-eabi)
set(STRATA_FW_BOARD cortex-m)
# Soft float (the FPU stays off: no lazy-stacking state to manage); enums as
# in cortex-m3.cmake.
set(STRATA_FW_ARCH_FLAGS -mcpu=cortex-m4 -mthumb -mfloat-abi=soft -fshort-enums)
# The self-test's static arena lives in the board's 16 MiB PSRAM (boot/cortex-m/link.ld).
set(STRATA_FW_TEST_ARENA_MIB 14)
# The C library image (tests/firmware/picolibc_main.c) is compiled and linked
# by the cross GCC with picolibc (picolibc-arm-none-eabi): its driver, flags and
# the board's memory for picolibc's linker script.
set(STRATA_FW_GCC_NAMES arm-none-eabi-gcc)
set(STRATA_FW_GCC_FLAGS -mcpu=cortex-m4 -mthumb -mfloat-abi=soft)
set(STRATA_FW_GCC_MEMORY -Wl,--defsym=__flash=0x0 -Wl,--defsym=__flash_size=0x400000
  -Wl,--defsym=__ram=0x20000000 -Wl,--defsym=__ram_size=0x400000)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain_common.cmake)
