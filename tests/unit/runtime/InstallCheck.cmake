# Installs the runtime component of the build tree into a temporary prefix,
# configures and builds examples/app against it with find_package(Nuri), and
# runs the app on a test package.
# Invoked with -DBUILD=... -DSRC=... -DOUT=... -DMAKE_PACKAGES=...
#   [-DGENERATOR=...] [-DCXX=...] [-DCC=...]
include(${CMAKE_CURRENT_LIST_DIR}/InstallSupport.cmake)
foreach(f include/nuri/runtime.h include/nuri/runtime.hpp
          lib/cmake/Nuri/NuriConfig.cmake)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "install: ${f} is missing")
  endif()
endforeach()
# Only the runtime: no compiler, simulator or package headers.
if(EXISTS ${prefix}/include/nuri/package OR EXISTS ${prefix}/bin/nuri)
  message(FATAL_ERROR "install: more than the runtime was installed")
endif()
run_step("configure examples/app" ${CMAKE_COMMAND} -S ${SRC}/examples/app
         -B ${OUT}/app -G ${GENERATOR} -DCMAKE_PREFIX_PATH=${prefix}
         -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_C_COMPILER=${CC}
         -DCMAKE_BUILD_TYPE=Release)
run_step("build examples/app" ${CMAKE_COMMAND} --build ${OUT}/app)
file(MAKE_DIRECTORY ${OUT}/pkgs)
run_step("make test packages" ${MAKE_PACKAGES} ${OUT}/pkgs)
run_step("nuri-app-c" ${OUT}/app/nuri-app-c)
if(NOT step_output MATCHES "devices: auto cpu sim")
  message(FATAL_ERROR "nuri-app-c printed:\n${step_output}")
endif()
run_step("nuri-app" ${OUT}/app/nuri-app ${OUT}/pkgs/cpu.nuri cpu)
if(NOT step_output MATCHES "y: \\[2,4\\] f32 [-0-9]" OR
   NOT step_output MATCHES "async run: same outputs")
  message(FATAL_ERROR "nuri-app printed:\n${step_output}")
endif()
run_step("nuri-app on sim" ${OUT}/app/nuri-app ${OUT}/pkgs/mixed.nuri sim)
if(NOT step_output MATCHES "probs: \\[128,512\\] f32")
  message(FATAL_ERROR "nuri-app printed:\n${step_output}")
endif()
