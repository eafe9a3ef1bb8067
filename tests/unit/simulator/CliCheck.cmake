# The nuri CLI end to end: `asm -> disasm -> asm` is byte-identical on every
# example program, `sim --json` prints the documented keys, `target show
# --json` too, and a bad program exits non-zero naming core/engine/pc.
# Invoked by ctest with -DNURI=... -DSRC=... -DOUT=...
file(MAKE_DIRECTORY ${OUT})
file(GLOB programs ${SRC}/examples/programs/*.nasm)
list(LENGTH programs n)
if(n LESS 5)
  message(FATAL_ERROR "expected at least 5 example programs, found ${n}")
endif()
foreach(p ${programs})
  get_filename_component(name ${p} NAME_WE)
  execute_process(COMMAND ${NURI} asm ${p} -o ${OUT}/${name}.bin RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "nuri asm ${p} failed")
  endif()
  execute_process(COMMAND ${NURI} disasm ${OUT}/${name}.bin -o ${OUT}/${name}.nasm RESULT_VARIABLE rc)
  execute_process(COMMAND ${NURI} asm ${OUT}/${name}.nasm -o ${OUT}/${name}.2.bin RESULT_VARIABLE rc2)
  if(rc OR rc2)
    message(FATAL_ERROR "disasm/asm round trip of ${p} failed")
  endif()
  file(SHA256 ${OUT}/${name}.bin h1)
  file(SHA256 ${OUT}/${name}.2.bin h2)
  if(NOT h1 STREQUAL h2)
    message(FATAL_ERROR "asm -> disasm -> asm changed the bytes of ${p}")
  endif()
endforeach()

execute_process(COMMAND ${NURI} sim ${OUT}/gemm.bin --target atom --json
                          --trace ${OUT}/gemm.trace.json
                OUTPUT_VARIABLE json RESULT_VARIABLE rc)
foreach(key cycles seconds mac_utilization dram_bytes)
  if(rc OR NOT json MATCHES "\"${key}\": ")
    message(FATAL_ERROR "nuri sim --json lacks ${key}: ${json}")
  endif()
endforeach()
if(NOT EXISTS ${OUT}/gemm.trace.json)
  message(FATAL_ERROR "nuri sim --trace wrote nothing")
endif()

execute_process(COMMAND ${NURI} target show rngd --json OUTPUT_VARIABLE json RESULT_VARIABLE rc)
foreach(key cores clock_hz sram_bytes dram_bytes_per_s peak_ops_per_s)
  if(rc OR NOT json MATCHES "\"${key}\": ")
    message(FATAL_ERROR "nuri target show --json lacks ${key}: ${json}")
  endif()
endforeach()

file(WRITE ${OUT}/bad.nasm ".stream core=0 engine=mat\n  sem.wait sem=3, count=1\n  end\n")
execute_process(COMMAND ${NURI} sim ${OUT}/bad.nasm --target tiny
                ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc OR NOT err MATCHES "deadlock.*core 0 engine mat pc 0")
  message(FATAL_ERROR "a deadlocked program must fail naming core/engine/pc: ${err}")
endif()
