# strata firmware toolchain: x86_64 (long mode, QEMU microvm via PVH).
# Usage: cmake -S freestanding -B b -DCMAKE_TOOLCHAIN_FILE=<this file>
set(STRATA_FW_ISA x86_64)
set(STRATA_FW_TRIPLE x86_64-unknown-none-elf)
# Kernel code model: code and data live in the top 2 GiB of the address space
# (the boot image links at 0xffffffff80000000). No red zone (traps would
# clobber it), no SSE/MMX state; x87 stays on, libstdc++ headers need it.
set(STRATA_FW_ARCH_FLAGS -march=x86-64 -mno-red-zone -mno-sse -mno-mmx -mcmodel=kernel)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain_common.cmake)
