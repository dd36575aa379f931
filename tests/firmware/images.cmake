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

# The multi-task image (Cortex-M boards: a preemptive scheduler on SysTick and
# PendSV, rtos_main.cpp) and the interrupt rule's failing half.
if(STRATA_FW_BOARD STREQUAL "cortex-m")
  strata_fw_objects(strata_fw_rtos SOURCES ${_fw_tests}/rtos_main.cpp ${_fw_tests}/rtos_cortex_m.S)
  strata_fw_image(rtos OBJECTS strata_fw_rtos strata_fw_report LINK_OPTIONS --defsym=fw_main=fw_main_rtos)
  strata_fw_image(fail_isr_alloc OBJECTS strata_fw_rtos strata_fw_report LINK_OPTIONS --defsym=fw_main=fw_main_isr_spin)
endif()
