# Writes the small zoo models and runs them in ONNX Runtime (ort_check.js).
# The large ones take minutes and gigabytes; run them by hand:
#   nuri zoo gpt2-small -o /tmp/g.onnx && node ort_check.js /tmp/g.onnx
file(MAKE_DIRECTORY ${OUT})
set(models bert-tiny gpt2-tiny llama-tiny vit-tiny whisper-tiny-encoder)
set(files)
foreach(model IN LISTS models)
  execute_process(COMMAND ${NURI} zoo ${model} -o ${OUT}/${model}.onnx
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "nuri zoo ${model} failed")
  endif()
  list(APPEND files ${OUT}/${model}.onnx)
endforeach()
execute_process(COMMAND ${NODE} ${SCRIPT} ${files} RESULT_VARIABLE rc)
if(rc EQUAL 77)
  message("onnxruntime-node not installed; skipped")
  # cmake -P cannot exit with a chosen code; print the marker ctest skips on.
  message(FATAL_ERROR "NURI_SKIP")
elseif(NOT rc EQUAL 0)
  message(FATAL_ERROR "ONNX Runtime check failed")
endif()
