# `nuri zoo NAME --shapes-only` writes a 7B graph without its 27 GB of
# weights; importing it fails with an error naming the missing data file.
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
# [batch, kv_heads, past, head_dim] per model, for pinning the past inputs.
set(llama-7b_kv 32)
set(llama3-8b_kv 8)
foreach(model llama-7b llama3-8b)
  set(onnx ${OUT}/${model}.onnx)
  execute_process(COMMAND ${NURI} zoo ${model} --with-past --shapes-only
                          -o ${onnx}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "nuri zoo ${model} --shapes-only failed: ${err}")
  endif()
  if(EXISTS ${onnx}.data)
    message(FATAL_ERROR "--shapes-only wrote ${onnx}.data")
  endif()
  file(SIZE ${onnx} size)
  if(size GREATER 2000000)
    message(FATAL_ERROR "${onnx} is ${size} bytes: weights were written inline")
  endif()
  # Every input pinned, so that the import gets as far as the weights.
  set(shapes --input-shape input_ids=1x1 --input-shape position_ids=1x1
             --input-shape attention_mask=1x9)
  foreach(layer RANGE 31)
    foreach(kind key value)
      list(APPEND shapes --input-shape
           past_key_values.${layer}.${kind}=1x${${model}_kv}x8x128)
    endforeach()
  endforeach()
  execute_process(COMMAND ${NURI} import ${onnx} ${shapes}
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(rc EQUAL 0)
    message(FATAL_ERROR "nuri import of the shapes-only ${onnx} succeeded")
  endif()
  string(FIND "${err}" "${model}.onnx.data" named)
  if(named EQUAL -1)
    message(FATAL_ERROR "the import error does not name ${model}.onnx.data:\n${err}")
  endif()
  message("${model}: ${size} bytes; nuri import: ${err}")
endforeach()
