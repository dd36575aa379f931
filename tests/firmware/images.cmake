# strata firmware images (included by freestanding/CMakeLists.txt in a cross
# build, one ISA per build tree). Every image links the boot code of the ISA,
# libstrata_engine.a, libstrata_fw.a and libstrata_fw_runtime.a.
set(_fw_tests ${CMAKE_CURRENT_LIST_DIR})

# The self-test: every engine built (STRATA_WITH_*), then the C API and
# new/delete. Each suite present defines STRATA_FW_SUITE_<NAME> for the main.
set(_sources ${_fw_tests}/selftest_main.cpp ${_fw_tests}/report.cpp ${_fw_tests}/suite_fw_api.cpp)
set(_defines)
foreach(suite TLSF BUDDY SLAB BITMAP)
  string(TOLOWER ${suite} _file)
  if(suite STREQUAL SLAB)
    set(_file heap)
  endif()
  if(STRATA_WITH_${suite} AND EXISTS ${_fw_tests}/suite_${_file}.cpp)
    list(APPEND _sources ${_fw_tests}/suite_${_file}.cpp)
    list(APPEND _defines STRATA_FW_SUITE_${suite}=1)
  endif()
endforeach()
strata_fw_image(selftest SOURCES ${_sources} DEFINES ${_defines})
# The API suite uses <new> (std::nothrow), as new_delete.cpp does.
set_source_files_properties(${_fw_tests}/suite_fw_api.cpp PROPERTIES COMPILE_OPTIONS "${STRATA_FW_NEW_INCLUDES}")

# Images that must fail (see deliberate_failure.cpp): the harness tests
# expect FAIL from each, with the message of the mechanism under test.
set(STRATA_FW_FAILURES check trap_load trap_illegal fatal_free fatal_new)
set(_code 0)
foreach(kind IN LISTS STRATA_FW_FAILURES)
  math(EXPR _code "${_code} + 1")
  strata_fw_image(fail_${kind} SOURCES ${_fw_tests}/deliberate_failure.cpp ${_fw_tests}/report.cpp
    DEFINES STRATA_FW_FAILURE=${_code} STRATA_FW_FAILURE_NAME="${kind}")
endforeach()
