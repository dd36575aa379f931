# strata firmware toolchain: Cortex-M3 (ARMv7-M, Thumb-2, no FPU; QEMU mps2-an385).
# Usage: cmake -S freestanding -B b -DCMAKE_TOOLCHAIN_FILE=<this file>
set(STRATA_FW_ISA cortex-m3)
set(STRATA_FW_TRIPLE thumbv7m-none-eabi)
set(STRATA_FW_CORTEX_M_CPU cortex-m3)
include(${CMAKE_CURRENT_LIST_DIR}/cortex_m.cmake)
