// RUN: nuri-opt %s --convert-nuri-to-npu=target=%S/Inputs/tiny-8-semaphores.yaml --verify-diagnostics

// A chip with fewer semaphores than the kernels and the fetch queue's
// weight stream use is refused at the partition, not deep in emission.
// expected-error @+1 {{target tiny-few-semaphores has 8 semaphores per core; the NPU lowering needs 15}}
func.func @too_few_semaphores(%x: tensor<4x8xbf16>) -> tensor<4x8xbf16> {
  %y = nuri.relu %x : tensor<4x8xbf16>
  return %y : tensor<4x8xbf16>
}
