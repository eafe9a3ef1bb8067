# Writes gpt2-tiny and llama-tiny (grouped-query) in the with-past layout,
# compiles them with --generate, generates greedily with `nuri generate` on
# the CPU device and checks every token against ONNX Runtime running the same
# ONNX file one step at a time (prefill with an empty past, then present fed
# back as past), as optimum does. The same for the shared stacked-past
# exports (Megatron's Split reads and square mask, ORT's fused Attention).
# Skipped when onnxruntime-node is absent.
file(MAKE_DIRECTORY ${OUT})

# Compiles ONNX into PKG with --generate and the COMPILE flags, then checks
# NEW greedy tokens of each of PROMPTS against ONNX Runtime's step loop.
function(check_against_ort name onnx pkg)
  cmake_parse_arguments(arg "" "NEW" "COMPILE;PROMPTS" ${ARGN})
  execute_process(COMMAND ${NURI} compile ${onnx} --generate ${arg_COMPILE}
                          -o ${pkg}
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "nuri compile --generate ${name} failed")
  endif()
  foreach(prompt IN LISTS arg_PROMPTS)
    execute_process(COMMAND ${NODE} ${SCRIPT} ${onnx} --prompt-ids ${prompt}
                            --max-new-tokens ${arg_NEW}
                    RESULT_VARIABLE rc OUTPUT_VARIABLE ort_json)
    if(rc EQUAL 77)
      message(FATAL_ERROR "onnxruntime-node not installed: NURI_SKIP")
    elseif(NOT rc EQUAL 0)
      message(FATAL_ERROR "ONNX Runtime failed on ${onnx}")
    endif()
    execute_process(COMMAND ${NURI} generate ${pkg} --device cpu
                            --prompt-ids ${prompt}
                            --max-new-tokens ${arg_NEW} --json
                    RESULT_VARIABLE rc OUTPUT_VARIABLE nuri_json)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "nuri generate ${pkg} failed")
    endif()
    string(JSON ort_tokens GET "${ort_json}" tokens)
    string(JSON nuri_tokens GET "${nuri_json}" requests 0 tokens)
    # Both are JSON arrays of integers; compare them without whitespace.
    string(REGEX REPLACE "[ \n\t]" "" ort_tokens "${ort_tokens}")
    string(REGEX REPLACE "[ \n\t]" "" nuri_tokens "${nuri_tokens}")
    if(NOT ort_tokens STREQUAL nuri_tokens)
      message(FATAL_ERROR "${name} prompt ${prompt}: nuri generate gave "
                          "${nuri_tokens}, ONNX Runtime ${ort_tokens}")
    endif()
    message("${name} prompt ${prompt}: ${arg_NEW} tokens match ONNX Runtime: "
            "${ort_tokens}")
  endforeach()
endfunction()

foreach(model gpt2-tiny llama-tiny)
  set(onnx ${OUT}/${model}-with-past.onnx)
  execute_process(COMMAND ${NURI} zoo ${model} --with-past -o ${onnx}
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "nuri zoo ${model} --with-past failed")
  endif()
  # Prompts of 4 and 17 tokens land in the 32-token prefill bucket; the
  # decode steps cross the 32 -> 64 context buckets.
  check_against_ort(${model} ${onnx} ${OUT}/${model}-with-past.nuri NEW 24
    COMPILE --max-seq 64 --prefill-buckets 32 --decode-batch 1
            --context-buckets 32,64
    PROMPTS "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17" "4000,17,900,33")
endforeach()

# The shared stacked-past exports: small vocabularies, 64 and 32 positions.
foreach(model gpt2-megatron-1layer-past-torch19 gpt2-tiny-random-ortfused)
  set(onnx ${SHARED_MODELS}/${model}/model.onnx)
  if(EXISTS ${onnx})
    check_against_ort(${model} ${onnx} ${OUT}/${model}.nuri NEW 12
      COMPILE --max-seq 32 --prefill-buckets 8 --decode-batch 1
              --context-buckets 16,32
      PROMPTS "1,2,3,4,5" "7,8,9")
  endif()
endforeach()
