# Install rules (included at the end of the root CMakeLists.txt).
#
#   lib/libstrata.so.0 (+ libstrata.so.<version>, libstrata.so)   runtime, preload or link
#   lib/libstrata.a                                              static malloc replacement
#   lib/libstrata_engine.a                                       engine objects, when src/ has any
#   include/strata/                    strata.h (C API), strata_version.h, C++ headers,
#                                      core/ and engine/ (the header-only engines); every
#                                      header reaches the others as <strata/...>, so a user
#                                      adds <prefix>/include and nothing else
#   lib/cmake/strata/                  find_package(strata): strata::strata (shared),
#                                      strata::strata-static, strata::engine, strata::headers,
#                                      and the un-namespaced strata, strata-static, strata-engine
#   lib/pkgconfig/strata.pc            pkg-config strata (relocatable: paths from ${pcfiledir})
#   bin/strata                         `strata [--stats] prog args...`: runs prog with strata preloaded
if(NOT TARGET strata)
  return()  # no runtime on this platform (interpose/ is Linux-only)
endif()
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(_strata_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/strata)
set(_strata_gen ${PROJECT_BINARY_DIR}/strata-package)

# Engine library: only when the engines have compiled sources (else header-only).
get_target_property(_strata_engine_srcs strata_engine SOURCES)
list(FILTER _strata_engine_srcs INCLUDE REGEX "\\.(c|cc|cpp)$")
set(_strata_targets strata strata_static strata_headers)
if(_strata_engine_srcs)
  list(APPEND _strata_targets strata_engine)
  set_target_properties(strata_engine PROPERTIES EXPORT_NAME engine)
  set(STRATA_ENGINE_IS_LIBRARY 1)
else()
  set(STRATA_ENGINE_IS_LIBRARY 0)
endif()
set_target_properties(strata_static PROPERTIES EXPORT_NAME strata-static)
set_target_properties(strata_headers PROPERTIES EXPORT_NAME headers)

install(TARGETS ${_strata_targets} EXPORT strataTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(EXPORT strataTargets NAMESPACE strata:: DESTINATION ${_strata_cmake_dir} COMPONENT dev)

# Headers: the public ones (engines included) and the generated version header.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/strata DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
  FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp")
install(FILES ${PROJECT_BINARY_DIR}/include/strata/strata_version.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/strata COMPONENT dev)

# CMake package. 0.x: minor versions are not compatible with each other.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(_strata_compat SameMinorVersion)
else()
  set(_strata_compat SameMajorVersion)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/strataConfig.cmake.in ${_strata_gen}/strataConfig.cmake
  INSTALL_DESTINATION ${_strata_cmake_dir})
write_basic_package_version_file(${_strata_gen}/strataConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY ${_strata_compat})
install(FILES ${_strata_gen}/strataConfig.cmake ${_strata_gen}/strataConfigVersion.cmake
  DESTINATION ${_strata_cmake_dir} COMPONENT dev)

# Paths relative to the install prefix, so strata.pc and bin/strata work
# wherever the tree is installed (cmake --install --prefix, DESTDIR, a copy).
file(RELATIVE_PATH STRATA_PC_TO_PREFIX /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
string(REGEX REPLACE "/$" "" STRATA_PC_TO_PREFIX "${STRATA_PC_TO_PREFIX}")
file(RELATIVE_PATH STRATA_BIN_TO_LIB /p/${CMAKE_INSTALL_BINDIR} /p/${CMAKE_INSTALL_LIBDIR})
configure_file(${PROJECT_SOURCE_DIR}/cmake/strata.pc.in ${_strata_gen}/strata.pc @ONLY)
install(FILES ${_strata_gen}/strata.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
configure_file(${PROJECT_SOURCE_DIR}/scripts/strata.in ${_strata_gen}/strata @ONLY)
install(PROGRAMS ${_strata_gen}/strata DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
