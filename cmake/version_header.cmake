# Generates <build>/include/strata/strata_version.h from project(VERSION).
# Included by the root CMakeLists.txt (the runtime reports its version) and
# installed by cmake/install.cmake beside include/strata/strata.h.
set(STRATA_GENERATED_INCLUDE_DIR ${PROJECT_BINARY_DIR}/include)
configure_file(${PROJECT_SOURCE_DIR}/cmake/strata_version.h.in
  ${STRATA_GENERATED_INCLUDE_DIR}/strata/strata_version.h @ONLY)
