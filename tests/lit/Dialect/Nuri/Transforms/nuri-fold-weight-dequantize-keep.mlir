// RUN: nuri-opt %s --nuri-fold-weight-dequantize=keep-linear-weights=true --split-input-file | FileCheck %s

// keep-linear-weights (the chips): the forms the NPU's GEMM reads
// compressed stay (WeightOnly.h): a per-column int8 weight and 4-bit blocks
// without zero points, read only as linear weights.
// CHECK-LABEL: func @kept
// CHECK: nuri.dequantize %{{.*}}, %{{.*}} : (tensor<2x2xi8>, tensor<2xf32>) -> tensor<2x2xf32>
// CHECK: nuri.dequantize_blocked
func.func @kept(%x: tensor<1x2xf32>, %x3: tensor<1x3xf32>) -> (tensor<1x2xf32>, tensor<1x2xf32>) {
  %q = nuri.constant dense<[[2, -4], [6, 8]]> : tensor<2x2xi8>
  %s = nuri.constant dense<[0.5, 0.25]> : tensor<2xf32>
  %w = nuri.dequantize %q, %s : (tensor<2x2xi8>, tensor<2xf32>) -> tensor<2x2xf32>
  %y = nuri.linear %x, %w : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %q4 = nuri.constant dense<[[[192, 134, 136, 136, 136, 136, 136, 136]], [[192, 138, 136, 136, 136, 136, 136, 136]]]> : tensor<2x1x8xui8>
  %s4 = nuri.constant dense<[[-0.5], [0.125]]> : tensor<2x1xf32>
  %w4 = nuri.dequantize_blocked %q4, %s4 {bits = 4 : i64, block_size = 16 : i64} : (tensor<2x1x8xui8>, tensor<2x1xf32>) -> tensor<3x2xf32>
  %y4 = nuri.linear %x3, %w4 : (tensor<1x3xf32>, tensor<3x2xf32>) -> tensor<1x2xf32>
  return %y, %y4 : tensor<1x2xf32>, tensor<1x2xf32>
}

// -----

// Folded all the same: a weight something else reads too, a zero point,
// a per-tensor scale.
// CHECK-LABEL: func @folded
// CHECK-NOT: nuri.dequantize
func.func @folded(%x: tensor<1x2xf32>) -> (tensor<1x2xf32>, tensor<2x2xf32>, tensor<1x2xf32>, tensor<1x2xf32>) {
  %q = nuri.constant dense<[[2, -4], [6, 8]]> : tensor<2x2xi8>
  %s = nuri.constant dense<[0.5, 0.25]> : tensor<2xf32>
  %w = nuri.dequantize %q, %s : (tensor<2x2xi8>, tensor<2xf32>) -> tensor<2x2xf32>
  %y = nuri.linear %x, %w : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %zp = nuri.constant dense<[1, 0]> : tensor<2xi8>
  %wz = nuri.dequantize %q, %s, %zp : (tensor<2x2xi8>, tensor<2xf32>, tensor<2xi8>) -> tensor<2x2xf32>
  %yz = nuri.linear %x, %wz : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %st = nuri.constant dense<0.5> : tensor<f32>
  %wt = nuri.dequantize %q, %st : (tensor<2x2xi8>, tensor<f32>) -> tensor<2x2xf32>
  %yt = nuri.linear %x, %wt : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  return %y, %w, %yz, %yt : tensor<1x2xf32>, tensor<2x2xf32>, tensor<1x2xf32>, tensor<1x2xf32>
}
