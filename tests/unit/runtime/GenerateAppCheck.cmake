# Installs the runtime into a temporary prefix, builds examples/generate
# against it with find_package(Nuri), compiles the shared gpt2-bytes-trained
# decoder with --generate and checks the app's greedy tokens against ONNX
# Runtime's (generate/2.json). Invoked with -DBUILD=... -DSRC=... -DOUT=...
# -DNURI=... -DMODEL_DIR=... [-DGENERATOR=...] [-DCXX=...]
include(${CMAKE_CURRENT_LIST_DIR}/InstallSupport.cmake)
run_step("configure examples/generate" ${CMAKE_COMMAND}
         -S ${SRC}/examples/generate -B ${OUT}/app -G ${GENERATOR}
         -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_CXX_COMPILER=${CXX}
         -DCMAKE_BUILD_TYPE=Release)
run_step("build examples/generate" ${CMAKE_COMMAND} --build ${OUT}/app)
run_step("compile --generate" ${NURI} compile ${MODEL_DIR}/model.onnx
         --generate --max-seq 96 --decode-batch 1,2 --context-buckets 96
         --prefill-buckets 64 -o ${OUT}/gpt2.nuri)
file(READ ${MODEL_DIR}/generate/2.json reference)
string(JSON prompt_len LENGTH "${reference}" prompt)
set(prompt "")
math(EXPR last "${prompt_len} - 1")
foreach(i RANGE ${last})
  string(JSON code GET "${reference}" prompt ${i})
  string(ASCII ${code} ch)
  string(APPEND prompt "${ch}")
endforeach()
set(expected "")
foreach(i RANGE 15)
  string(JSON code GET "${reference}" greedy ${i})
  string(APPEND expected "${code},")
endforeach()
string(REGEX REPLACE ",$" "" expected "${expected}")
run_step("nuri-generate-app" ${OUT}/app/nuri-generate-app ${OUT}/gpt2.nuri cpu
         16 "${prompt}" "You may not")
if(NOT step_output MATCHES "request 1 ids:${expected} \\(length\\)" OR
   NOT step_output MATCHES "request 2 ids:" OR
   NOT step_output MATCHES "tokens/s on cpu")
  message(FATAL_ERROR "nuri-generate-app printed:\n${step_output}\n"
                      "expected request 1 ids:${expected}")
endif()
