// RUN: nuri-opt %s --npu-fuse-epilogues=target=atom --split-input-file | FileCheck %s
// RUN: nuri-opt %s --npu-fuse-epilogues --split-input-file | FileCheck %s --check-prefix=NOTARGET

// The cost model stores a compressed weight [N, K] (b_transposed: the
// transposed GEMV) for a decode step's single row on atom, whose 64 x 32
// array takes 64 streamed weights a cycle against 32 stationary ones; the
// 4-bit blocks keep MatMulNBits' rows of K (each byte u ^ 8: 0x99 -> 0x11)
// and its scales [N, K / 128]. 256 rows stay [K, N]. Without a target the
// layout is [K, N].
// CHECK-LABEL: func.func @w4_rows
// CHECK: %[[S1:.*]] = nuri.constant dense<5.000000e-01> : tensor<1024x8xf32>
// CHECK: %[[Q1:.*]] = nuri.constant dense<17> : tensor<1024x512xi8>
// CHECK: npu.gemm %arg0, %[[Q1]] scales %[[S1]] {b_bits = 4 : i64, b_group = 128 : i64, b_transposed} : (tensor<1x1024xbf16>, tensor<1024x512xi8>, tensor<1024x8xf32>)
// CHECK: npu.gemm %arg1, %{{.*}} scales %{{.*}} {b_bits = 4 : i64, b_group = 128 : i64} : (tensor<256x1024xbf16>, tensor<1024x512xi8>, tensor<8x1024xf32>)
// NOTARGET-LABEL: func.func @w4_rows
// NOTARGET-NOT: b_transposed
module attributes {} {
func.func @w4_rows(%x: tensor<1x1024xbf16>, %xs: tensor<256x1024xbf16>) -> (tensor<1x1024xbf16>, tensor<256x1024xbf16>) {
  %q = nuri.constant dense<153> : tensor<1024x8x64xui8>
  %s = nuri.constant dense<0.5> : tensor<1024x8xf32>
  %w = nuri.dequantize_blocked %q, %s {bits = 4 : i64, block_size = 128 : i64} : (tensor<1024x8x64xui8>, tensor<1024x8xf32>) -> tensor<1024x1024xf32>
  %wb = nuri.cast %w : tensor<1024x1024xf32> -> tensor<1024x1024xbf16>
  %y = nuri.linear %x, %wb : (tensor<1x1024xbf16>, tensor<1024x1024xbf16>) -> tensor<1x1024xbf16>
  %ys = nuri.linear %xs, %wb : (tensor<256x1024xbf16>, tensor<1024x1024xbf16>) -> tensor<256x1024xbf16>
  return %y, %ys : tensor<1x1024xbf16>, tensor<256x1024xbf16>
}
}

// -----

// bf16 weights are never transposed: the GEMV's gain is the compressed
// weight's DRAM rate.
// CHECK-LABEL: func.func @bf16_rows
// CHECK: npu.gemm %arg0, %{{.*}} : (tensor<1x1024xbf16>, tensor<1024x1024xbf16>) -> tensor<1x1024xbf16>
func.func @bf16_rows(%x: tensor<1x1024xbf16>) -> tensor<1x1024xbf16> {
  %w = nuri.constant dense<0.5> : tensor<1024x1024xbf16>
  %y = nuri.linear %x, %w : (tensor<1x1024xbf16>, tensor<1024x1024xbf16>) -> tensor<1x1024xbf16>
  return %y : tensor<1x1024xbf16>
}
