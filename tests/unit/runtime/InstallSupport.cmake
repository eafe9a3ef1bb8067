# Shared by InstallCheck.cmake and GenerateAppCheck.cmake: run a step or fail
# with its output, and install the runtime component into ${OUT}/prefix.
function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(step_output "${out}${err}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${OUT})
set(prefix ${OUT}/prefix)
run_step("install" ${CMAKE_COMMAND} --install ${BUILD} --component runtime
         --prefix ${prefix})
