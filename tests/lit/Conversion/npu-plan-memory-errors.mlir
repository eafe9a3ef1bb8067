// RUN: nuri-opt %s --npu-plan-memory=target=%S/Inputs/tiny-1k-sram.yaml --split-input-file --verify-diagnostics

// Weights beyond the 64 MiB of DRAM are refused at the constant, before
// any byte is materialized.
func.func @weights_beyond_dram(%x: tensor<8x8192xbf16>) -> tensor<8x8192xbf16> {
  // expected-error @+1 {{constant of 134217728 B does not fit in the 67108864 B of DRAM of target tiny-sram (131072 B already planned)}}
  %w = nuri.constant dense<1.0> : tensor<8192x8192xbf16>
  %y = npu.gemm %x, %w : (tensor<8x8192xbf16>, tensor<8192x8192xbf16>) -> tensor<8x8192xbf16>
  return %y : tensor<8x8192xbf16>
}

// -----

// A weight laid out transposed is named at the constant it comes from.
func.func @transposed_weight_beyond_dram(%x: tensor<8x8192xbf16>) -> tensor<8x8192xbf16> {
  // expected-error @+1 {{constant of 134217728 B does not fit in the 67108864 B of DRAM}}
  %w = nuri.constant dense<1.0> : tensor<8192x8192xbf16>
  %t = nuri.transpose %w {permutation = array<i64: 1, 0>} : tensor<8192x8192xbf16> -> tensor<8192x8192xbf16>
  %y = npu.gemm %x, %t : (tensor<8x8192xbf16>, tensor<8192x8192xbf16>) -> tensor<8x8192xbf16>
  return %y : tensor<8x8192xbf16>
}

// -----

// Computed tensors that only fit DRAM together overflow it.
// expected-error @+1 {{npu partition needs 100663296 B of DRAM (weights, inputs, outputs and intermediates), target tiny-sram has 67108864}}
func.func @tensors_beyond_dram(%x: tensor<4096x4096xbf16>) -> tensor<4096x4096xbf16> {
  %a = nuri.relu %x : tensor<4096x4096xbf16>
  %b = nuri.relu %a : tensor<4096x4096xbf16>
  return %b : tensor<4096x4096xbf16>
}

// -----

// expected-error @+1 {{partition argument 0 has type 'tensor<4xi32>'; the NPU takes bf16, f16 or f32 tensors}}
func.func @int_input(%x: tensor<4xi32>) -> tensor<4xi32> {
  return %x : tensor<4xi32>
}

// -----

// A kernel reading an integer constant (a cast of one is computed at
// compile time instead).
func.func @int_constant(%x: tensor<4xbf16>) -> tensor<4xi32> {
  // expected-error @+1 {{constant of type 'tensor<4xi32>' is not a float tensor the NPU reads}}
  %c = nuri.constant dense<1> : tensor<4xi32>
  %n = nuri.neg %c : tensor<4xi32>
  return %n : tensor<4xi32>
}
