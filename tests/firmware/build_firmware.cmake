# strata firmware: configures and builds one ISA's cross build tree (the
# standalone project in freestanding/). Run by the ctest fixture
# firmware.<isa>.build as
#   cmake -DISA=<isa> -DSOURCE=<freestanding dir> -DBINARY=<build dir>
#         -DGENERATOR=<generator> -DOPTIONS=<-Dx=y|...> -P build_firmware.cmake
foreach(v ISA SOURCE BINARY GENERATOR)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "build_firmware.cmake needs -D${v}=...")
  endif()
endforeach()
string(REPLACE "|" ";" options "${OPTIONS}")
execute_process(
  COMMAND ${CMAKE_COMMAND} -S ${SOURCE} -B ${BINARY} -G ${GENERATOR}
          -DCMAKE_TOOLCHAIN_FILE=${SOURCE}/cmake/${ISA}.cmake ${options}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the ${ISA} firmware build failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BINARY} --parallel 2 RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the ${ISA} firmware failed")
endif()
