# strata firmware: the part of the cross toolchain shared by all ISAs.
#
# Included by the per-ISA toolchain files (x86_64.cmake, riscv64.cmake,
# aarch64.cmake, riscv32.cmake; cortex-m3.cmake and cortex-m4.cmake through
# cortex_m.cmake), which set STRATA_FW_ISA, STRATA_FW_TRIPLE and
# STRATA_FW_ARCH_FLAGS first, and
# STRATA_FW_BOARD when the boot code lives in boot/<board>/ rather than
# boot/<isa>/ (one board directory serves riscv32 and riscv64, another
# Cortex-M3 and Cortex-M4). Compiles with clang and links with ld.lld
# directly (no libc, no host g++ driver), with the flags verified in
# shared/FREESTANDING.md.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR ${STRATA_FW_ISA})
if(NOT DEFINED STRATA_FW_BOARD)
  set(STRATA_FW_BOARD ${STRATA_FW_ISA})
endif()
# Only static libraries can be linked without a linker script and start code.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

find_program(STRATA_FW_CLANG NAMES clang-14 clang REQUIRED)
find_program(STRATA_FW_CLANGXX NAMES clang++-14 clang++ REQUIRED)
find_program(STRATA_FW_LLD NAMES ld.lld-14 ld.lld REQUIRED)
find_program(CMAKE_AR NAMES llvm-ar-14 llvm-ar REQUIRED)
find_program(CMAKE_RANLIB NAMES llvm-ranlib-14 llvm-ranlib REQUIRED)
find_program(CMAKE_NM NAMES llvm-nm-14 llvm-nm REQUIRED)
find_program(CMAKE_OBJCOPY NAMES llvm-objcopy-14 llvm-objcopy REQUIRED)
find_program(STRATA_FW_SIZE NAMES llvm-size-14 llvm-size REQUIRED)

set(CMAKE_C_COMPILER ${STRATA_FW_CLANG})
set(CMAKE_CXX_COMPILER ${STRATA_FW_CLANGXX})
set(CMAKE_ASM_COMPILER ${STRATA_FW_CLANG})
set(CMAKE_LINKER ${STRATA_FW_LLD})
foreach(lang C CXX ASM)
  set(CMAKE_${lang}_COMPILER_TARGET ${STRATA_FW_TRIPLE})
endforeach()

# Every translation unit: bare metal, no unwind tables, one section per
# function/object so --gc-sections keeps only what an image uses.
string(JOIN " " _fw_common ${STRATA_FW_ARCH_FLAGS}
  -ffreestanding -fno-pic -nostdlibinc -fno-asynchronous-unwind-tables -fno-unwind-tables
  -ffunction-sections -fdata-sections)
set(CMAKE_C_FLAGS_INIT "${_fw_common}")
set(CMAKE_CXX_FLAGS_INIT "${_fw_common} -fno-exceptions -fno-rtti -fno-threadsafe-statics")
set(CMAKE_ASM_FLAGS_INIT "${_fw_common}")

# Link with ld.lld itself: clang's driver would pull in the host's crt files
# and libraries for targets it does not treat as bare metal (x86_64).
set(_fw_link "<CMAKE_LINKER> -nostdlib -static --gc-sections <LINK_FLAGS> <OBJECTS> -o <TARGET> <LINK_LIBRARIES>")
set(CMAKE_C_LINK_EXECUTABLE "${_fw_link}")
set(CMAKE_CXX_LINK_EXECUTABLE "${_fw_link}")
set(CMAKE_EXECUTABLE_SUFFIX ".elf")

# Never look for host libraries or headers.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
