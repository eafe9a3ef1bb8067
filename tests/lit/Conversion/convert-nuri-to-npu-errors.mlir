// RUN: nuri-opt %s --convert-nuri-to-npu=target=%S/Inputs/tiny-1k-sram.yaml --split-input-file --verify-diagnostics

// An op the NPU does not run is an error naming claimsOp's reason.
func.func @unsupported(%x: tensor<4x8xbf16>) -> tensor<4x8xbf16> {
  // expected-error @+1 {{'nuri.log' op cannot be lowered to the NPU: no NPU lowering for 'nuri.log'}}
  %y = nuri.log %x : tensor<4x8xbf16>
  return %y : tensor<4x8xbf16>
}

// -----

// A 1 KiB scratchpad cannot hold one A row of K = 1024 plus buffers.
func.func @sram_too_small(%x: tensor<8x1024xbf16>, %w: tensor<1024x8xbf16>) -> tensor<8x8xbf16> {
  // expected-error @+1 {{cannot be lowered to the NPU: sram of 1024 B per core cannot hold one gemm tile: an A row of 2048 B (K = 1024)}}
  %y = nuri.linear %x, %w : (tensor<8x1024xbf16>, tensor<1024x8xbf16>) -> tensor<8x8xbf16>
  return %y : tensor<8x8xbf16>
}

// -----

// Weights beyond the 64 MiB of DRAM are refused at the constant, before
// any byte is materialized.
func.func @weights_beyond_dram(%x: tensor<8x8192xbf16>) -> tensor<8x8192xbf16> {
  // expected-error @+1 {{constant of 134217728 B does not fit in the 67108864 B of DRAM of target tiny-sram}}
  %w = nuri.constant dense<1.0> : tensor<8192x8192xbf16>
  %y = nuri.linear %x, %w : (tensor<8x8192xbf16>, tensor<8192x8192xbf16>) -> tensor<8x8192xbf16>
  return %y : tensor<8x8192xbf16>
}

// -----

// f32 matmuls: the matrix engine has no f32 path on this chip.
func.func @f32_matmul(%x: tensor<4x4xf32>, %w: tensor<4x4xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{cannot be lowered to the NPU: the tiny-sram matrix engine has no f32 path}}
  %y = nuri.matmul %x, %w : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
  return %y : tensor<4x4xf32>
}

// -----

// A row of 8192 elements with its f32 scratch does not fit 1 KiB.
func.func @row_too_long(%x: tensor<2x8192xbf16>) -> tensor<2x8192xbf16> {
  // expected-error @+1 {{cannot be lowered to the NPU: sram of 1024 B per core cannot hold one row of 8192 elements with its scratch buffers}}
  %y = nuri.softmax %x {axis = 1 : i64} : tensor<2x8192xbf16>
  return %y : tensor<2x8192xbf16>
}

// -----

// Not even a 1 x 1 attention tile with a head dim of 512 fits 1 KiB.
func.func @attention_too_big(%q: tensor<1x1x4x512xbf16>) -> tensor<1x1x4x512xbf16> {
  // expected-error @+1 {{cannot be lowered to the NPU: sram of 1024 B per core cannot hold one attention tile (head dim 512)}}
  %o = nuri.attention %q, %q, %q {scale = 0.125 : f32} : (tensor<1x1x4x512xbf16>, tensor<1x1x4x512xbf16>, tensor<1x1x4x512xbf16>) -> tensor<1x1x4x512xbf16>
  return %o : tensor<1x1x4x512xbf16>
}

// -----

// Swapping two pairs of dims is not one batch of 2-D transposes.
func.func @two_swaps(%x: tensor<2x3x5x7xbf16>) -> tensor<3x2x7x5xbf16> {
  // expected-error @+1 {{cannot be lowered to the NPU: transpose moves the innermost dimension in a way that is not a batch of 2-D transposes}}
  %0 = nuri.transpose %x {permutation = array<i64: 1, 0, 3, 2>} : tensor<2x3x5x7xbf16> -> tensor<3x2x7x5xbf16>
  return %0 : tensor<3x2x7x5xbf16>
}

