# strata firmware toolchain: what Cortex-M3 and Cortex-M4 share (QEMU
# mps2-an385 / mps2-an386, boot/cortex-m). Included by cortex-m3.cmake and
# cortex-m4.cmake, which set STRATA_FW_ISA, STRATA_FW_TRIPLE and
# STRATA_FW_CORTEX_M_CPU first.
set(STRATA_FW_BOARD cortex-m)
# Thumb-2, soft float (the M4's FPU stays off: no lazy-stacking state to
# manage). -fshort-enums: the enum size of arm-none-eabi-gcc and its C
# libraries (newlib, picolibc), so strata's objects link into GCC-built
# firmware without "variable-size enums" warnings or ABI mismatches.
set(STRATA_FW_ARCH_FLAGS -mcpu=${STRATA_FW_CORTEX_M_CPU} -mthumb -mfloat-abi=soft -fshort-enums)
# The self-test's static arena lives in the board's 16 MiB PSRAM (boot/cortex-m/link.ld).
set(STRATA_FW_TEST_ARENA_MIB 14)
# The C library image (tests/firmware/picolibc_main.c) is compiled and linked
# by the cross GCC with picolibc (picolibc-arm-none-eabi): its driver, flags and
# the board's memory for picolibc's linker script.
set(STRATA_FW_GCC_NAMES arm-none-eabi-gcc)
set(STRATA_FW_GCC_FLAGS -mcpu=${STRATA_FW_CORTEX_M_CPU} -mthumb -mfloat-abi=soft)
set(STRATA_FW_GCC_MEMORY -Wl,--defsym=__flash=0x0 -Wl,--defsym=__flash_size=0x400000
  -Wl,--defsym=__ram=0x20000000 -Wl,--defsym=__ram_size=0x400000)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain_common.cmake)
