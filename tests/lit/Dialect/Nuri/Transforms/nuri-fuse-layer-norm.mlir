// RUN: nuri-opt %s --nuri-fuse-layer-norm --split-input-file | FileCheck %s

// PyTorch's decomposition (distilbert, whisper): Pow 2, Div by the sqrt, then
// gamma and beta.
// CHECK-LABEL: func @torch_pow_div
// CHECK-SAME: (%[[X:.*]]: tensor<1x8x32xf32>, %[[G:.*]]: tensor<32xf32>, %[[B:.*]]: tensor<32xf32>)
// CHECK: %[[Y:.*]] = nuri.layer_norm %[[X]], %[[G]], %[[B]] {axis = 2 : i64, epsilon = 9.99999996E-13 : f32}
// CHECK-NOT: nuri.reduce_mean
// CHECK: return %[[Y]]
func.func @torch_pow_div(%x: tensor<1x8x32xf32>, %g: tensor<32xf32>, %b: tensor<32xf32>) -> tensor<1x8x32xf32> {
  %two = nuri.constant dense<2.0> : tensor<f32>
  %eps = nuri.constant dense<9.99999996E-13> : tensor<f32>
  %mean = nuri.reduce_mean %x {axes = array<i64: 2>, keep_dims} : tensor<1x8x32xf32> -> tensor<1x8x1xf32>
  %d = nuri.sub %x, %mean : tensor<1x8x32xf32>, tensor<1x8x1xf32> -> tensor<1x8x32xf32>
  %sq = nuri.pow %d, %two : tensor<1x8x32xf32>, tensor<f32> -> tensor<1x8x32xf32>
  %var = nuri.reduce_mean %sq {axes = array<i64: 2>, keep_dims} : tensor<1x8x32xf32> -> tensor<1x8x1xf32>
  %ve = nuri.add %var, %eps : tensor<1x8x1xf32>, tensor<f32> -> tensor<1x8x1xf32>
  %std = nuri.sqrt %ve : tensor<1x8x1xf32>
  %n = nuri.div %d, %std : tensor<1x8x32xf32>, tensor<1x8x1xf32> -> tensor<1x8x32xf32>
  %s = nuri.mul %n, %g : tensor<1x8x32xf32>, tensor<32xf32> -> tensor<1x8x32xf32>
  %y = nuri.add %s, %b : tensor<1x8x32xf32>, tensor<32xf32> -> tensor<1x8x32xf32>
  return %y : tensor<1x8x32xf32>
}

// -----

// Old exporters (bert-toy, megatron): gamma first, `x - mean` computed twice.
// CHECK-LABEL: func @duplicated_centering
// CHECK: nuri.layer_norm %arg0, %arg1, %arg2 {axis = 2 : i64, epsilon = 9.99999974E-6 : f32}
// CHECK-NOT: nuri.sqrt
func.func @duplicated_centering(%x: tensor<2x4x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<2x4x8xf32> {
  %two = nuri.constant dense<2.0> : tensor<f32>
  %eps = nuri.constant dense<9.99999974E-6> : tensor<f32>
  %mean = nuri.reduce_mean %x {axes = array<i64: 2>, keep_dims} : tensor<2x4x8xf32> -> tensor<2x4x1xf32>
  %d = nuri.sub %x, %mean : tensor<2x4x8xf32>, tensor<2x4x1xf32> -> tensor<2x4x8xf32>
  %sq = nuri.pow %d, %two : tensor<2x4x8xf32>, tensor<f32> -> tensor<2x4x8xf32>
  %var = nuri.reduce_mean %sq {axes = array<i64: 2>, keep_dims} : tensor<2x4x8xf32> -> tensor<2x4x1xf32>
  %mean2 = nuri.reduce_mean %x {axes = array<i64: 2>, keep_dims} : tensor<2x4x8xf32> -> tensor<2x4x1xf32>
  %d2 = nuri.sub %x, %mean2 : tensor<2x4x8xf32>, tensor<2x4x1xf32> -> tensor<2x4x8xf32>
  %ve = nuri.add %eps, %var : tensor<f32>, tensor<2x4x1xf32> -> tensor<2x4x1xf32>
  %std = nuri.sqrt %ve : tensor<2x4x1xf32>
  %n = nuri.div %d2, %std : tensor<2x4x8xf32>, tensor<2x4x1xf32> -> tensor<2x4x8xf32>
  %s = nuri.mul %g, %n : tensor<8xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  %y = nuri.add %s, %b : tensor<2x4x8xf32>, tensor<8xf32> -> tensor<2x4x8xf32>
  return %y : tensor<2x4x8xf32>
}

// -----

// x * x instead of Pow, rsqrt and Mul instead of Div, and no affine
// parameters: a unit scale.
// CHECK-LABEL: func @mul_square_rsqrt_no_affine
// CHECK: %[[ONE:.*]] = nuri.constant dense<1.000000e+00> : tensor<8xf32>
// CHECK: nuri.layer_norm %arg0, %[[ONE]] {axis = 1 : i64, epsilon = 9.99999974E-6 : f32} : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
func.func @mul_square_rsqrt_no_affine(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %eps = nuri.constant dense<9.99999974E-6> : tensor<1xf32>
  %mean = nuri.reduce_mean %x {axes = array<i64: 1>, keep_dims} : tensor<4x8xf32> -> tensor<4x1xf32>
  %d = nuri.sub %x, %mean : tensor<4x8xf32>, tensor<4x1xf32> -> tensor<4x8xf32>
  %sq = nuri.mul %d, %d : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  %var = nuri.reduce_mean %sq {axes = array<i64: 1>, keep_dims} : tensor<4x8xf32> -> tensor<4x1xf32>
  %ve = nuri.add %var, %eps : tensor<4x1xf32>, tensor<1xf32> -> tensor<4x1xf32>
  %inv = nuri.rsqrt %ve : tensor<4x1xf32>
  %n = nuri.mul %inv, %d : tensor<4x1xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  return %n : tensor<4x8xf32>
}

// -----

// keras2onnx (TensorFlow's batchnorm form), as in bert-tiny-keras2onnx-qa:
// g = rsqrt(var + eps) * gamma; y = x * g + (beta - mean * g).
// CHECK-LABEL: func @tensorflow_folded_affine
// CHECK: %[[Y:.*]] = nuri.layer_norm %arg0, %arg1, %arg2 {axis = 2 : i64, epsilon = 9.99999996E-13 : f32}
// CHECK-NEXT: return %[[Y]]
func.func @tensorflow_folded_affine(%x: tensor<1x7x8xf32>, %gamma: tensor<8xf32>, %beta: tensor<8xf32>) -> tensor<1x7x8xf32> {
  %eps = nuri.constant dense<9.99999996E-13> : tensor<f32>
  %mean = nuri.reduce_mean %x {axes = array<i64: 2>, keep_dims} : tensor<1x7x8xf32> -> tensor<1x7x1xf32>
  %d = nuri.sub %x, %mean : tensor<1x7x8xf32>, tensor<1x7x1xf32> -> tensor<1x7x8xf32>
  %sq = nuri.mul %d, %d : tensor<1x7x8xf32>, tensor<1x7x8xf32> -> tensor<1x7x8xf32>
  %var = nuri.reduce_mean %sq {axes = array<i64: 2>, keep_dims} : tensor<1x7x8xf32> -> tensor<1x7x1xf32>
  %ve = nuri.add %var, %eps : tensor<1x7x1xf32>, tensor<f32> -> tensor<1x7x1xf32>
  %std = nuri.sqrt %ve : tensor<1x7x1xf32>
  %inv = nuri.reciprocal %std : tensor<1x7x1xf32>
  %g = nuri.mul %inv, %gamma : tensor<1x7x1xf32>, tensor<8xf32> -> tensor<1x7x8xf32>
  %xg = nuri.mul %x, %g : tensor<1x7x8xf32>, tensor<1x7x8xf32> -> tensor<1x7x8xf32>
  %mg = nuri.mul %mean, %g : tensor<1x7x1xf32>, tensor<1x7x8xf32> -> tensor<1x7x8xf32>
  %shift = nuri.sub %beta, %mg : tensor<8xf32>, tensor<1x7x8xf32> -> tensor<1x7x8xf32>
  %y = nuri.add %xg, %shift : tensor<1x7x8xf32>, tensor<1x7x8xf32> -> tensor<1x7x8xf32>
  return %y : tensor<1x7x8xf32>
}

// -----

// Normalizing over the last two dimensions is a LayerNorm with axis 1.
// CHECK-LABEL: func @two_trailing_axes
// CHECK: nuri.layer_norm %arg0, %{{.*}} {axis = 1 : i64
func.func @two_trailing_axes(%x: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  %two = nuri.constant dense<2.0> : tensor<f32>
  %eps = nuri.constant dense<1.0e-5> : tensor<f32>
  %mean = nuri.reduce_mean %x {axes = array<i64: 1, 2>, keep_dims} : tensor<2x4x8xf32> -> tensor<2x1x1xf32>
  %d = nuri.sub %x, %mean : tensor<2x4x8xf32>, tensor<2x1x1xf32> -> tensor<2x4x8xf32>
  %sq = nuri.pow %d, %two : tensor<2x4x8xf32>, tensor<f32> -> tensor<2x4x8xf32>
  %var = nuri.reduce_mean %sq {axes = array<i64: 1, 2>, keep_dims} : tensor<2x4x8xf32> -> tensor<2x1x1xf32>
  %ve = nuri.add %var, %eps : tensor<2x1x1xf32>, tensor<f32> -> tensor<2x1x1xf32>
  %std = nuri.sqrt %ve : tensor<2x1x1xf32>
  %n = nuri.div %d, %std : tensor<2x4x8xf32>, tensor<2x1x1xf32> -> tensor<2x4x8xf32>
  return %n : tensor<2x4x8xf32>
}

// -----

// Negative: the mean is over a leading axis, not the trailing ones.
// CHECK-LABEL: func @leading_axis
// CHECK-NOT: nuri.layer_norm
func.func @leading_axis(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %two = nuri.constant dense<2.0> : tensor<f32>
  %eps = nuri.constant dense<1.0e-5> : tensor<f32>
  %mean = nuri.reduce_mean %x {axes = array<i64: 0>, keep_dims} : tensor<4x8xf32> -> tensor<1x8xf32>
  %d = nuri.sub %x, %mean : tensor<4x8xf32>, tensor<1x8xf32> -> tensor<4x8xf32>
  %sq = nuri.pow %d, %two : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
  %var = nuri.reduce_mean %sq {axes = array<i64: 0>, keep_dims} : tensor<4x8xf32> -> tensor<1x8xf32>
  %ve = nuri.add %var, %eps : tensor<1x8xf32>, tensor<f32> -> tensor<1x8xf32>
  %std = nuri.sqrt %ve : tensor<1x8xf32>
  %n = nuri.div %d, %std : tensor<4x8xf32>, tensor<1x8xf32> -> tensor<4x8xf32>
  return %n : tensor<4x8xf32>
}

// -----

// Negative: the variance is of a different tensor than the numerator.
// CHECK-LABEL: func @variance_of_other_tensor
// CHECK-NOT: nuri.layer_norm
func.func @variance_of_other_tensor(%x: tensor<4x8xf32>, %z: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %two = nuri.constant dense<2.0> : tensor<f32>
  %eps = nuri.constant dense<1.0e-5> : tensor<f32>
  %mean = nuri.reduce_mean %x {axes = array<i64: 1>, keep_dims} : tensor<4x8xf32> -> tensor<4x1xf32>
  %d = nuri.sub %x, %mean : tensor<4x8xf32>, tensor<4x1xf32> -> tensor<4x8xf32>
  %sq = nuri.pow %z, %two : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
  %var = nuri.reduce_mean %sq {axes = array<i64: 1>, keep_dims} : tensor<4x8xf32> -> tensor<4x1xf32>
  %ve = nuri.add %var, %eps : tensor<4x1xf32>, tensor<f32> -> tensor<4x1xf32>
  %std = nuri.sqrt %ve : tensor<4x1xf32>
  %n = nuri.div %d, %std : tensor<4x8xf32>, tensor<4x1xf32> -> tensor<4x8xf32>
  return %n : tensor<4x8xf32>
}

// -----

// Negative: Pow 3 is not a variance, and a non-constant epsilon is not an
// epsilon.
// CHECK-LABEL: func @not_a_variance
// CHECK-NOT: nuri.layer_norm
func.func @not_a_variance(%x: tensor<4x8xf32>, %eps: tensor<f32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %two = nuri.constant dense<2.0> : tensor<f32>
  %three = nuri.constant dense<3.0> : tensor<f32>
  %eps2 = nuri.constant dense<1.0e-5> : tensor<f32>
  %mean = nuri.reduce_mean %x {axes = array<i64: 1>, keep_dims} : tensor<4x8xf32> -> tensor<4x1xf32>
  %d = nuri.sub %x, %mean : tensor<4x8xf32>, tensor<4x1xf32> -> tensor<4x8xf32>
  %cube = nuri.pow %d, %three : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
  %var3 = nuri.reduce_mean %cube {axes = array<i64: 1>, keep_dims} : tensor<4x8xf32> -> tensor<4x1xf32>
  %ve3 = nuri.add %var3, %eps2 : tensor<4x1xf32>, tensor<f32> -> tensor<4x1xf32>
  %std3 = nuri.sqrt %ve3 : tensor<4x1xf32>
  %n3 = nuri.div %d, %std3 : tensor<4x8xf32>, tensor<4x1xf32> -> tensor<4x8xf32>
  %sq = nuri.pow %d, %two : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
  %var = nuri.reduce_mean %sq {axes = array<i64: 1>, keep_dims} : tensor<4x8xf32> -> tensor<4x1xf32>
  %ve = nuri.add %var, %eps : tensor<4x1xf32>, tensor<f32> -> tensor<4x1xf32>
  %std = nuri.sqrt %ve : tensor<4x1xf32>
  %n = nuri.div %d, %std : tensor<4x8xf32>, tensor<4x1xf32> -> tensor<4x8xf32>
  return %n3, %n : tensor<4x8xf32>, tensor<4x8xf32>
}

// -----

// Negative for the affine part: a per-row scale does not broadcast to the
// normalized shape, so it stays a multiply after the norm.
// CHECK-LABEL: func @per_row_scale
// CHECK: %[[N:.*]] = nuri.layer_norm
// CHECK: nuri.mul %[[N]], %arg1
func.func @per_row_scale(%x: tensor<4x8xf32>, %rows: tensor<4x1xf32>) -> tensor<4x8xf32> {
  %two = nuri.constant dense<2.0> : tensor<f32>
  %eps = nuri.constant dense<1.0e-5> : tensor<f32>
  %mean = nuri.reduce_mean %x {axes = array<i64: 1>, keep_dims} : tensor<4x8xf32> -> tensor<4x1xf32>
  %d = nuri.sub %x, %mean : tensor<4x8xf32>, tensor<4x1xf32> -> tensor<4x8xf32>
  %sq = nuri.pow %d, %two : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
  %var = nuri.reduce_mean %sq {axes = array<i64: 1>, keep_dims} : tensor<4x8xf32> -> tensor<4x1xf32>
  %ve = nuri.add %var, %eps : tensor<4x1xf32>, tensor<f32> -> tensor<4x1xf32>
  %std = nuri.sqrt %ve : tensor<4x1xf32>
  %n = nuri.div %d, %std : tensor<4x8xf32>, tensor<4x1xf32> -> tensor<4x8xf32>
  %y = nuri.mul %n, %rows : tensor<4x8xf32>, tensor<4x1xf32> -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}
