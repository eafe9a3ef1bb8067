# Writes the small zoo models, runs them in ONNX Runtime (ort_check.js) and,
# when python3 has onnx and numpy, compares ONNX Runtime's outputs with the
# float64 numpy re-implementation of each architecture (reference.py).
# The large models take minutes and gigabytes; run them by hand:
#   nuri zoo gpt2-small -o /tmp/gpt2-small.onnx
#   python3 reference.py /tmp/gpt2-small.onnx
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
execute_process(COMMAND ${NODE} ${SCRIPT_DIR}/ort_check.js ${files}
                RESULT_VARIABLE rc)
if(rc EQUAL 77)
  message(FATAL_ERROR "onnxruntime-node not installed: NURI_SKIP")
elseif(NOT rc EQUAL 0)
  message(FATAL_ERROR "ONNX Runtime check failed")
endif()

execute_process(COMMAND ${PYTHON} -c "import onnx, numpy" RESULT_VARIABLE rc
                OUTPUT_QUIET ERROR_QUIET)
if(NOT rc EQUAL 0)
  message("${PYTHON} lacks onnx or numpy: numerical comparison skipped")
  return()
endif()
foreach(file IN LISTS files)
  execute_process(COMMAND ${PYTHON} ${SCRIPT_DIR}/reference.py ${file}
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${file}: ONNX Runtime disagrees with the reference")
  endif()
endforeach()
