// RUN: nuri-opt %s --nuri-fuse-linear --split-input-file | FileCheck %s

// PyTorch nn.Linear: MatMul by the [in, out] weight, then Add the bias
// (bias first, as torch writes it).
// CHECK-LABEL: func @matmul_add
// CHECK: %[[W:.*]] = nuri.constant dense<5.000000e-01> : tensor<8x4xf32>
// CHECK: %[[B:.*]] = nuri.constant dense<1.000000e+00> : tensor<4xf32>
// CHECK: %[[Y:.*]] = nuri.linear %arg0, %[[W]], %[[B]] : (tensor<1x3x8xf32>, tensor<8x4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
// CHECK-NEXT: return %[[Y]]
func.func @matmul_add(%x: tensor<1x3x8xf32>) -> tensor<1x3x4xf32> {
  %w = nuri.constant dense<0.5> : tensor<8x4xf32>
  %b = nuri.constant dense<1.0> : tensor<4xf32>
  %m = nuri.matmul %x, %w : tensor<1x3x8xf32>, tensor<8x4xf32> -> tensor<1x3x4xf32>
  %y = nuri.add %b, %m : tensor<4xf32>, tensor<1x3x4xf32> -> tensor<1x3x4xf32>
  return %y : tensor<1x3x4xf32>
}

// -----

// Gemm with transB: the weight is transposed at compile time.
// CHECK-LABEL: func @gemm_trans_b
// CHECK: %[[W:.*]] = nuri.constant dense<{{\[\[}}1.000000e+00, 4.000000e+00], [2.000000e+00, 5.000000e+00], [3.000000e+00, 6.000000e+00]]> : tensor<3x2xf32>
// CHECK: nuri.linear %arg0, %[[W]] : (tensor<5x3xf32>, tensor<3x2xf32>) -> tensor<5x2xf32>
func.func @gemm_trans_b(%x: tensor<5x3xf32>) -> tensor<5x2xf32> {
  %w = nuri.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  %m = nuri.matmul %x, %w {transpose_rhs} : tensor<5x3xf32>, tensor<2x3xf32> -> tensor<5x2xf32>
  return %m : tensor<5x2xf32>
}

// -----

// keras2onnx's Tensordot: reshape [b, s, k] -> [b * s, k], MatMul, reshape
// back, BiasAdd with a [1, 1, n] bias. The reshapes cancel.
// CHECK-LABEL: func @tensordot
// CHECK: %[[B:.*]] = nuri.constant dense<2.000000e+00> : tensor<4xf32>
// CHECK: %[[Y:.*]] = nuri.linear %arg0, %{{.*}}, %[[B]] : (tensor<2x7x8xf32>, tensor<8x4xf32>, tensor<4xf32>) -> tensor<2x7x4xf32>
// CHECK-NEXT: return %[[Y]]
func.func @tensordot(%x: tensor<2x7x8xf32>) -> tensor<2x7x4xf32> {
  %w = nuri.constant dense<0.5> : tensor<8x4xf32>
  %b = nuri.constant dense<2.0> : tensor<1x1x4xf32>
  %f = nuri.reshape %x : tensor<2x7x8xf32> -> tensor<14x8xf32>
  %m = nuri.matmul %f, %w : tensor<14x8xf32>, tensor<8x4xf32> -> tensor<14x4xf32>
  %r = nuri.reshape %m : tensor<14x4xf32> -> tensor<2x7x4xf32>
  %y = nuri.add %r, %b : tensor<2x7x4xf32>, tensor<1x1x4xf32> -> tensor<2x7x4xf32>
  return %y : tensor<2x7x4xf32>
}

// -----

// Negatives: a computed weight (attention scores), a 3-D constant, a bias
// that varies along the rows, and an add of a non-constant (a residual).
// CHECK-LABEL: func @not_linear
// CHECK: nuri.matmul %arg0, %arg1
// CHECK: nuri.matmul %arg0, %{{.*}} : tensor<1x3x8xf32>, tensor<1x8x4xf32>
// CHECK: %[[L:.*]] = nuri.linear %arg0, %{{.*}} : (tensor<1x3x8xf32>, tensor<8x4xf32>) -> tensor<1x3x4xf32>
// CHECK: nuri.add %[[L]], %{{.*}} : tensor<1x3x4xf32>, tensor<3x1xf32>
// CHECK: %[[L2:.*]] = nuri.linear %arg0, %{{.*}} : (tensor<1x3x8xf32>, tensor<8x4xf32>) -> tensor<1x3x4xf32>
// CHECK: nuri.add %[[L2]], %arg2
func.func @not_linear(%x: tensor<1x3x8xf32>, %k: tensor<1x8x4xf32>, %res: tensor<1x3x4xf32>) -> (tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>) {
  %w3 = nuri.constant dense<0.5> : tensor<1x8x4xf32>
  %w = nuri.constant dense<0.25> : tensor<8x4xf32>
  %rows = nuri.constant dense<[[1.0], [2.0], [3.0]]> : tensor<3x1xf32>
  %s = nuri.matmul %x, %k : tensor<1x3x8xf32>, tensor<1x8x4xf32> -> tensor<1x3x4xf32>
  %t = nuri.matmul %x, %w3 : tensor<1x3x8xf32>, tensor<1x8x4xf32> -> tensor<1x3x4xf32>
  %m = nuri.matmul %x, %w : tensor<1x3x8xf32>, tensor<8x4xf32> -> tensor<1x3x4xf32>
  %y = nuri.add %m, %rows : tensor<1x3x4xf32>, tensor<3x1xf32> -> tensor<1x3x4xf32>
  %m2 = nuri.matmul %x, %w : tensor<1x3x8xf32>, tensor<8x4xf32> -> tensor<1x3x4xf32>
  %z = nuri.add %m2, %res : tensor<1x3x4xf32>, tensor<1x3x4xf32> -> tensor<1x3x4xf32>
  return %s, %t, %y, %z : tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>
}
