# strata firmware: fails when the objects of the given static libraries
# reference any symbol but memcpy/memset/memmove/memcmp and strata_fatal (on
# ARM also their __aeabi_mem* forms: pass -DARM=1).
#   cmake -DNM=<llvm-nm> -DAR=<llvm-ar> -DARCHIVES=<a.a|b.a> -DWORKDIR=<dir>
#         -DCHECKER=<tests/support/check_undefined.cmake> [-DARM=1] -P check_archives.cmake
# Unpacks each archive and hands its members to the host build's checker of
# freestanding objects (llvm-nm lists archive members with headers that the
# checker would take for symbols).
cmake_minimum_required(VERSION 3.25)  # the checker uses if(IN_LIST)
string(REPLACE "|" ";" archives "${ARCHIVES}")
set(members "")
foreach(archive IN LISTS archives)
  get_filename_component(name ${archive} NAME_WE)
  set(dir ${WORKDIR}/${name})
  file(REMOVE_RECURSE ${dir})
  file(MAKE_DIRECTORY ${dir})
  execute_process(COMMAND ${AR} x ${archive} WORKING_DIRECTORY ${dir} RESULT_VARIABLE rc)
  file(GLOB objs ${dir}/*)
  if(NOT rc EQUAL 0 OR NOT objs)
    message(FATAL_ERROR "cannot unpack ${archive} (or it is empty)")
  endif()
  list(APPEND members ${objs})
  execute_process(COMMAND ${NM} -u ${archive})
endforeach()
string(REPLACE ";" "|" OBJECTS "${members}")
if(ARM)
  set(ALLOWED_EXTRA "")
  foreach(f memcpy memmove memset memclr)
    foreach(suffix "" 4 8)
      string(APPEND ALLOWED_EXTRA "__aeabi_${f}${suffix}|")
    endforeach()
  endforeach()
endif()
include(${CHECKER})
