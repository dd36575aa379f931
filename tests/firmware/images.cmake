# strata firmware images (included by freestanding/CMakeLists.txt in a cross
# build, one ISA per build tree). Every image links the boot code of the ISA
# and the four firmware libraries.
set(_fw_tests ${CMAKE_CURRENT_LIST_DIR})

# The self-test: every engine built (STRATA_WITH_*), then the C API and
# new/delete. Each suite linked in defines STRATA_FW_SUITE_<NAME> for the main.
strata_fw_objects(strata_fw_report SOURCES ${_fw_tests}/report.cpp)
# The C API suite uses <new> (std::nothrow), as new_delete.cpp does.
strata_fw_objects(strata_fw_api_suite SOURCES ${_fw_tests}/suite_fw_api.cpp ${_fw_tests}/suite_fw_heaps.cpp)
target_compile_options(strata_fw_api_suite PRIVATE ${STRATA_FW_NEW_INCLUDES})
set(_sources ${_fw_tests}/selftest_main.cpp)
set(_defines)
foreach(pair tlsf:TLSF buddy:BUDDY heap:SLAB bitmap:BITMAP)
  string(REPLACE ":" ";" pair ${pair})
  list(GET pair 0 suite)
  list(GET pair 1 option)
  if(STRATA_WITH_${option})
    string(TOUPPER ${suite} _upper)
    list(APPEND _sources ${_fw_tests}/suite_${suite}.cpp)
    list(APPEND _defines STRATA_FW_SUITE_${_upper}=1)
  endif()
endforeach()
strata_fw_image(selftest SOURCES ${_sources} OBJECTS strata_fw_report strata_fw_api_suite DEFINES ${_defines})

# Images that must fail (see deliberate_failure.cpp), one per kind: the same
# objects, with fw_main bound to that kind's entry point at link time. The
# harness tests expect FAIL from each, with the message of the mechanism
# under test.
set(STRATA_FW_FAILURES check trap_load trap_illegal fatal_free fatal_new fatal_cross_heap)
strata_fw_objects(strata_fw_failures SOURCES ${_fw_tests}/deliberate_failure.cpp)
foreach(kind IN LISTS STRATA_FW_FAILURES)
  strata_fw_image(fail_${kind} OBJECTS strata_fw_failures strata_fw_report LINK_OPTIONS --defsym=fw_main=fw_main_${kind})
endforeach()

# The multi-task image (rtos_main.cpp: a preemptive kernel over a port,
# rtos_port.hpp; Cortex-M: SysTick and PendSV, RISC-V: the machine timer and
# a switching trap handler) and the interrupt rule's failing half.
set(_rtos_port "")
if(STRATA_FW_BOARD STREQUAL "cortex-m")
  set(_rtos_port ${_fw_tests}/rtos_cortex_m.cpp ${_fw_tests}/rtos_cortex_m.S)
elseif(STRATA_FW_BOARD STREQUAL "riscv")
  set(_rtos_port ${_fw_tests}/rtos_riscv.cpp ${_fw_tests}/rtos_riscv.S)
endif()
if(_rtos_port)
  strata_fw_objects(strata_fw_rtos SOURCES ${_fw_tests}/rtos_main.cpp ${_rtos_port})
  strata_fw_image(rtos OBJECTS strata_fw_rtos strata_fw_report LINK_OPTIONS --defsym=fw_main=fw_main_rtos)
  strata_fw_image(fail_isr_alloc OBJECTS strata_fw_rtos strata_fw_report LINK_OPTIONS --defsym=fw_main=fw_main_isr_spin)
endif()

# The C library image (32-bit targets whose toolchain file names a cross GCC):
# picolibc_main.c compiled and linked by that GCC with picolibc.specs and
# semihosting, against libstrata_fw.a and libstrata_engine.a and nothing else
# that allocates. Needs the unprefixed malloc family (it replaces picolibc's).
# STRATA_FW_PICOLIBC: AUTO builds it when the GCC and picolibc are installed,
# ON requires them (the host build's ctest passes ON), OFF skips it.
set(STRATA_FW_PICOLIBC AUTO CACHE STRING "Build the picolibc image: AUTO, ON or OFF")
if(STRATA_FW_GCC_NAMES AND NOT STRATA_FW_PICOLIBC STREQUAL "OFF")
  find_program(STRATA_FW_GCC NAMES ${STRATA_FW_GCC_NAMES})
  set(_picolibc_ok FALSE)
  if(STRATA_FW_GCC)
    execute_process(COMMAND ${STRATA_FW_GCC} -print-file-name=picolibc.specs
                    OUTPUT_VARIABLE _specs OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc ERROR_QUIET)
    if(_rc EQUAL 0 AND IS_ABSOLUTE "${_specs}" AND EXISTS "${_specs}")
      set(_picolibc_ok TRUE)
    endif()
  endif()
  if(_picolibc_ok AND NOT STRATA_FW_PREFIX STREQUAL "")
    message(STATUS "strata firmware: no picolibc image with STRATA_FW_PREFIX=${STRATA_FW_PREFIX} (it replaces malloc)")
  elseif(_picolibc_ok)
    set(_image ${CMAKE_CURRENT_BINARY_DIR}/picolibc.elf)
    add_custom_command(OUTPUT ${_image}
      COMMAND ${STRATA_FW_GCC} ${STRATA_FW_GCC_FLAGS} -Os -Wall -Wextra -Werror -I${STRATA_ROOT}/include
              -DSTRATA_FW_ISA_NAME="${CMAKE_SYSTEM_PROCESSOR}"
              --specs=picolibc.specs --oslib=semihost --crt0=semihost ${STRATA_FW_GCC_MEMORY}
              -Wl,--defsym=__stack_size=0x4000 -Wl,-Map=picolibc.map -Wl,--no-warn-execstack
              ${_fw_tests}/picolibc_main.c $<TARGET_FILE:strata_fw> $<TARGET_FILE:strata_engine> -o ${_image}
      DEPENDS ${_fw_tests}/picolibc_main.c ${STRATA_ROOT}/include/strata/strata_fw.h strata_fw strata_engine
      COMMENT "Linking the picolibc image with ${STRATA_FW_GCC}" VERBATIM)
    add_custom_target(picolibc_image ALL DEPENDS ${_image})
  elseif(STRATA_FW_PICOLIBC STREQUAL "ON")
    message(FATAL_ERROR "STRATA_FW_PICOLIBC=ON needs ${STRATA_FW_GCC_NAMES} with picolibc (Debian: scripts/deps.sh test)")
  endif()
endif()

# The bounds image (bounds_main.cpp): worst-case instruction counts of the
# engines' calls, run under QEMU -icount (run_qemu.sh --icount).
strata_fw_image(bounds SOURCES ${_fw_tests}/bounds_main.cpp OBJECTS strata_fw_report)
