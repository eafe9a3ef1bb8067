// RUN: nuri-opt %s --nuri-fold-constants --split-input-file | FileCheck %s

// The Shape -> Gather -> Unsqueeze -> Concat chain exporters write for a
// Reshape target becomes one constant.
// CHECK-LABEL: func @shape_chain
// CHECK-NEXT: %[[C:.*]] = nuri.constant dense<[2, 8, 4, 8]> : tensor<4xi64>
// CHECK-NEXT: return %[[C]]
func.func @shape_chain() -> tensor<4xi64> {
  %shape = nuri.constant dense<[2, 8, 32]> : tensor<3xi64>
  %i0 = nuri.constant dense<0> : tensor<i64>
  %i1 = nuri.constant dense<1> : tensor<i64>
  %heads = nuri.constant dense<[4, 8]> : tensor<2xi64>
  %b = nuri.gather %shape, %i0 {axis = 0 : i64} : tensor<3xi64>, tensor<i64> -> tensor<i64>
  %s = nuri.gather %shape, %i1 {axis = 0 : i64} : tensor<3xi64>, tensor<i64> -> tensor<i64>
  %bu = nuri.reshape %b : tensor<i64> -> tensor<1xi64>
  %su = nuri.reshape %s : tensor<i64> -> tensor<1xi64>
  %cat = nuri.concat %bu, %su, %heads {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>, tensor<2xi64>) -> tensor<4xi64>
  return %cat : tensor<4xi64>
}

// -----

// Arithmetic and casts on shape values: (seq - 1) as float, and a
// comparison into a boolean mask.
// CHECK-LABEL: func @arithmetic_and_casts
// CHECK-DAG: nuri.constant dense<[0.000000e+00, 1.000000e+00, 2.000000e+00]> : tensor<3xf32>
// CHECK-DAG: nuri.constant dense<[true, true, false]> : tensor<3xi1>
// CHECK-NOT: nuri.sub
// CHECK-NOT: nuri.cast
// CHECK-NOT: nuri.compare
func.func @arithmetic_and_casts() -> (tensor<3xf32>, tensor<3xi1>) {
  %r = nuri.constant dense<[1, 2, 3]> : tensor<3xi64>
  %one = nuri.constant dense<1> : tensor<i64>
  %two = nuri.constant dense<2> : tensor<i64>
  %d = nuri.sub %r, %one : tensor<3xi64>, tensor<i64> -> tensor<3xi64>
  %f = nuri.cast %d : tensor<3xi64> -> tensor<3xf32>
  %m = nuri.compare le, %r, %two : tensor<3xi64>, tensor<i64> -> tensor<3xi1>
  return %f, %m : tensor<3xf32>, tensor<3xi1>
}

// -----

// A transposed weight (Gemm transB, tied embeddings) becomes a transposed
// constant, so no transpose runs at inference time.
// CHECK-LABEL: func @weight_transpose
// CHECK: %[[W:.*]] = nuri.constant dense<{{\[\[}}1.000000e+00, 4.000000e+00], [2.000000e+00, 5.000000e+00], [3.000000e+00, 6.000000e+00]]> : tensor<3x2xf32>
// CHECK: nuri.matmul %arg0, %[[W]]
// CHECK-NOT: nuri.transpose
func.func @weight_transpose(%x: tensor<4x3xf32>) -> tensor<4x2xf32> {
  %w = nuri.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  %wt = nuri.transpose %w {permutation = array<i64: 1, 0>} : tensor<2x3xf32> -> tensor<3x2xf32>
  %y = nuri.matmul %x, %wt : tensor<4x3xf32>, tensor<3x2xf32> -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

// A constant mask built in-graph (Trilu-free causal mask: Where over a
// comparison of positions) folds, slices and broadcasts included.
// CHECK-LABEL: func @mask_construction
// CHECK-NEXT: %[[M:.*]] = nuri.constant dense<{{\[\[\[\[}}0.000000e+00, -3.40282347E+38], [0.000000e+00, 0.000000e+00]]], {{\[\[\[}}0.000000e+00, -3.40282347E+38], [0.000000e+00, 0.000000e+00]]]]> : tensor<2x1x2x2xf32>
// CHECK-NEXT: return %[[M]]
func.func @mask_construction() -> tensor<2x1x2x2xf32> {
  %rows = nuri.constant dense<[[0], [1], [2]]> : tensor<3x1xi64>
  %cols = nuri.constant dense<[0, 1, 2]> : tensor<3xi64>
  %zero = nuri.constant dense<0.0> : tensor<f32>
  %min = nuri.constant dense<-3.40282347E+38> : tensor<f32>
  %keep = nuri.compare le, %cols, %rows : tensor<3xi64>, tensor<3x1xi64> -> tensor<3x3xi1>
  %m = nuri.where %keep, %zero, %min : tensor<3x3xi1>, tensor<f32>, tensor<f32> -> tensor<3x3xf32>
  %s = nuri.slice %m {starts = array<i64: 0, 0>, limits = array<i64: 2, 2>, steps = array<i64: 1, 1>} : tensor<3x3xf32> -> tensor<2x2xf32>
  %r = nuri.reshape %s : tensor<2x2xf32> -> tensor<1x1x2x2xf32>
  %b = nuri.broadcast_to %r : tensor<1x1x2x2xf32> -> tensor<2x1x2x2xf32>
  return %b : tensor<2x1x2x2xf32>
}

// -----

// Nothing folds where an operand is computed at run time.
// CHECK-LABEL: func @not_constant
// CHECK: nuri.add %arg0, %{{.*}}
// CHECK: nuri.transpose %arg1
func.func @not_constant(%x: tensor<3xi64>, %w: tensor<2x3xf32>) -> (tensor<3xi64>, tensor<3x2xf32>) {
  %one = nuri.constant dense<1> : tensor<i64>
  %y = nuri.add %x, %one : tensor<3xi64>, tensor<i64> -> tensor<3xi64>
  %wt = nuri.transpose %w {permutation = array<i64: 1, 0>} : tensor<2x3xf32> -> tensor<3x2xf32>
  return %y, %wt : tensor<3xi64>, tensor<3x2xf32>
}
