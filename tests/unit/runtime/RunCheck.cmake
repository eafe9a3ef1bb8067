# `nuri run` and `nuri inspect` on the test packages: JSON keys, .npy
# outputs fed back as inputs, and a clear error for each kind of bad input.
# Invoked with -DNURI=... -DMAKE_PACKAGES=... -DOUT=...
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
execute_process(COMMAND ${MAKE_PACKAGES} ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nuri-make-test-packages failed")
endif()

# Runs nuri with ARGN; expects exit code `want` and every regex in
# `expect` (a list) in stdout+stderr.
function(nuri_expect want expect)
  execute_process(COMMAND ${NURI} ${ARGN} RESULT_VARIABLE rc
                  OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL want)
    message(FATAL_ERROR "nuri ${ARGN}: exit ${rc}, wanted ${want}\n${out}${err}")
  endif()
  foreach(re IN LISTS expect)
    if(NOT "${out}${err}" MATCHES "${re}")
      message(FATAL_ERROR "nuri ${ARGN}: no match for '${re}' in\n${out}${err}")
    endif()
  endforeach()
endfunction()

nuri_expect(0 "\"name\": \"y\";\"shape\": \\[\n *2,\n *4\n *\\]"
            run ${OUT}/cpu.nuri --device cpu --json)
nuri_expect(0 "\"sim\": {;\"cycles\": [1-9];\"seconds\": ;\"mac_utilization\": ;\"dram_bytes\": 262144;\"name\": \"probs\""
            run ${OUT}/mixed.nuri --device sim --json)
# A CPU-only package on sim: honest zeros.
nuri_expect(0 "\"cycles\": 0,;\"npu_partitions\": 0"
            run ${OUT}/cpu.nuri --device sim --json)
# One session, three runs: only the first uploads the weights.
nuri_expect(0 "run 0: [0-9.]+ ms, 4096 weight bytes written to the device;run 1: [0-9.]+ ms, 0 weight bytes;run 2: [0-9.]+ ms, 0 weight bytes"
            run ${OUT}/weights.nuri --device sim --repeat 3)
nuri_expect(0 "\"runs\": ;\"device_weight_bytes_written\": 4096,;\"device_weight_bytes_written\": 0,;\"host_to_device_bytes\": 131072;\"run\": 2"
            run ${OUT}/weights.nuri --device sim --repeat 3 --json)
nuri_expect(1 "--repeat must be at least 1"
            run ${OUT}/weights.nuri --device sim --repeat 0)
nuri_expect(0 "cpu ops by wall time:\n  (add|mul|matmul) "
            run ${OUT}/cpu.nuri --device cpu --profile)
nuri_expect(0 "states:\n  acc: \\[2,3\\] f32 zeros, 'acc' -> 'acc_next' in place"
            inspect ${OUT}/state.nuri)
nuri_expect(0 "on device cpu;h: \\[2,4\\] f32;-> ${OUT}/o/y.npy"
            run ${OUT}/cpu.nuri --device cpu --output-dir ${OUT}/o)
if(NOT EXISTS ${OUT}/o/h.npy OR NOT EXISTS ${OUT}/o/y.npy)
  message(FATAL_ERROR "--output-dir wrote no .npy files")
endif()
# bf16 written as <u2 reads back as bf16.
nuri_expect(0 "p_bf16: \\[128,512\\] bf16"
            run ${OUT}/softmax.nuri --device sim --output-dir ${OUT}/s)
nuri_expect(0 "p_bf16: \\[128,512\\] bf16"
            run ${OUT}/softmax.nuri --device sim
            --input x_bf16=${OUT}/s/p_bf16.npy)

# Bad input: each a clear message and exit code 1.
nuri_expect(1 "input 'x': expected \\[2,3\\] f32, given \\[2,4\\] f32"
            run ${OUT}/cpu.nuri --device cpu --input x=${OUT}/o/h.npy)
nuri_expect(1 "/nonexistent.npy: cannot open"
            run ${OUT}/cpu.nuri --device cpu --input x=/nonexistent.npy)
file(WRITE ${OUT}/garbage.npy "not numpy")
nuri_expect(1 "garbage.npy: not a readable .npy file"
            run ${OUT}/cpu.nuri --device cpu --input x=${OUT}/garbage.npy)
nuri_expect(1 "no input 'q' \\(inputs: x\\)"
            run ${OUT}/cpu.nuri --device cpu --input q=${OUT}/o/h.npy)
nuri_expect(1 "NPU program"
            run ${OUT}/mixed.nuri --device cpu)
nuri_expect(1 "unknown device 'gpu'"
            run ${OUT}/cpu.nuri --device gpu)
nuri_expect(1 "corrupt.nuri: .*checksum mismatch"
            run ${OUT}/corrupt.nuri --device cpu)
nuri_expect(1 "truncated.nuri: header says the file has [0-9]+ bytes, but it has 300"
            run ${OUT}/truncated.nuri --device cpu)
nuri_expect(1 "nonexistent.nuri: cannot open"
            run ${OUT}/nonexistent.nuri)

nuri_expect(0 "inputs:\n  x: \\[2,3\\] f32;ops: addx1 matmulx1 mulx1;weights"
            inspect ${OUT}/cpu.nuri)
nuri_expect(0 "transfer cpu -> npu: 'x_bf16'"
            inspect ${OUT}/mixed.nuri)
# A program family: inspect lists its programs; `nuri run` runs one program
# when named with --program, and otherwise lists them.
nuri_expect(0 "format 1.2;generation: 2 slots, max_seq 8;'prefill': prefill, batch 1, tokens 2, context 2, 1 partitions;
      x: \\[2,3\\] f32;'decode': decode, batch 1, tokens 1, context 4"
            inspect ${OUT}/family.nuri)
nuri_expect(1 "is a generation package: run one of its programs with --program NAME \\(prefill, decode\\)"
            run ${OUT}/family.nuri --device cpu)
nuri_expect(0 "outputs:"
            run ${OUT}/family.nuri --device cpu --program decode)
nuri_expect(1 "--program: .*cpu.nuri is not a generation package"
            run ${OUT}/cpu.nuri --device cpu --program decode)
