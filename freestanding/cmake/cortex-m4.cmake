# strata firmware toolchain: Cortex-M4 (ARMv7E-M, Thumb-2; QEMU mps2-an386).
# Usage: cmake -S freestanding -B b -DCMAKE_TOOLCHAIN_FILE=<this file>
set(STRATA_FW_ISA cortex-m4)
set(STRATA_FW_TRIPLE thumbv7em-none-eabi)
set(STRATA_FW_CORTEX_M_CPU cortex-m4)
include(${CMAKE_CURRENT_LIST_DIR}/cortex_m.cmake)
