// RUN: nuri-opt %s --nuri-fuse-rms-norm --split-input-file | FileCheck %s

// LLaMA as torch exports it (llama-tiny-synth): Pow 2, ReduceMean, Add eps,
// Sqrt, Div 1 by it, Mul x, Mul weight.
// CHECK-LABEL: func @llama
// CHECK: %[[Y:.*]] = nuri.rms_norm %arg0, %arg1 {axis = 2 : i64, epsilon = 9.99999997E-7 : f32} : (tensor<2x5x32xf32>, tensor<32xf32>) -> tensor<2x5x32xf32>
// CHECK-NEXT: return %[[Y]]
func.func @llama(%x: tensor<2x5x32xf32>, %w: tensor<32xf32>) -> tensor<2x5x32xf32> {
  %two = nuri.constant dense<2.0> : tensor<f32>
  %one = nuri.constant dense<1.0> : tensor<f32>
  %eps = nuri.constant dense<9.99999997E-7> : tensor<f32>
  %sq = nuri.pow %x, %two : tensor<2x5x32xf32>, tensor<f32> -> tensor<2x5x32xf32>
  %ms = nuri.reduce_mean %sq {axes = array<i64: 2>, keep_dims} : tensor<2x5x32xf32> -> tensor<2x5x1xf32>
  %ve = nuri.add %ms, %eps : tensor<2x5x1xf32>, tensor<f32> -> tensor<2x5x1xf32>
  %rms = nuri.sqrt %ve : tensor<2x5x1xf32>
  %inv = nuri.div %one, %rms : tensor<f32>, tensor<2x5x1xf32> -> tensor<2x5x1xf32>
  %n = nuri.mul %x, %inv : tensor<2x5x32xf32>, tensor<2x5x1xf32> -> tensor<2x5x32xf32>
  %y = nuri.mul %w, %n : tensor<32xf32>, tensor<2x5x32xf32> -> tensor<2x5x32xf32>
  return %y : tensor<2x5x32xf32>
}

// -----

// x * x, rsqrt, and no weight.
// CHECK-LABEL: func @rsqrt_no_weight
// CHECK: %[[ONE:.*]] = nuri.constant dense<1.000000e+00> : tensor<16xf32>
// CHECK: nuri.rms_norm %arg0, %[[ONE]] {axis = 1 : i64, epsilon = 9.99999974E-6 : f32}
func.func @rsqrt_no_weight(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %eps = nuri.constant dense<1.0e-5> : tensor<f32>
  %sq = nuri.mul %x, %x : tensor<4x16xf32>, tensor<4x16xf32> -> tensor<4x16xf32>
  %ms = nuri.reduce_mean %sq {axes = array<i64: 1>, keep_dims} : tensor<4x16xf32> -> tensor<4x1xf32>
  %ve = nuri.add %ms, %eps : tensor<4x1xf32>, tensor<f32> -> tensor<4x1xf32>
  %inv = nuri.rsqrt %ve : tensor<4x1xf32>
  %n = nuri.mul %inv, %x : tensor<4x1xf32>, tensor<4x16xf32> -> tensor<4x16xf32>
  return %n : tensor<4x16xf32>
}

// -----

// Reciprocal of the sqrt, and Div by the sqrt directly.
// CHECK-LABEL: func @reciprocal_and_div
// CHECK-COUNT-2: nuri.rms_norm
// CHECK-NOT: nuri.sqrt
func.func @reciprocal_and_div(%x: tensor<4x16xf32>, %z: tensor<4x16xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  %eps = nuri.constant dense<1.0e-5> : tensor<f32>
  %sq = nuri.mul %x, %x : tensor<4x16xf32>, tensor<4x16xf32> -> tensor<4x16xf32>
  %ms = nuri.reduce_mean %sq {axes = array<i64: 1>, keep_dims} : tensor<4x16xf32> -> tensor<4x1xf32>
  %ve = nuri.add %ms, %eps : tensor<4x1xf32>, tensor<f32> -> tensor<4x1xf32>
  %rms = nuri.sqrt %ve : tensor<4x1xf32>
  %inv = nuri.reciprocal %rms : tensor<4x1xf32>
  %n = nuri.mul %x, %inv : tensor<4x16xf32>, tensor<4x1xf32> -> tensor<4x16xf32>
  %sq2 = nuri.mul %z, %z : tensor<4x16xf32>, tensor<4x16xf32> -> tensor<4x16xf32>
  %ms2 = nuri.reduce_mean %sq2 {axes = array<i64: 1>, keep_dims} : tensor<4x16xf32> -> tensor<4x1xf32>
  %ve2 = nuri.add %ms2, %eps : tensor<4x1xf32>, tensor<f32> -> tensor<4x1xf32>
  %rms2 = nuri.sqrt %ve2 : tensor<4x1xf32>
  %n2 = nuri.div %z, %rms2 : tensor<4x16xf32>, tensor<4x1xf32> -> tensor<4x16xf32>
  return %n, %n2 : tensor<4x16xf32>, tensor<4x16xf32>
}

// -----

// Negative: the mean of squares is of another tensor, and a mean without
// keep_dims is not the normalizer.
// CHECK-LABEL: func @not_rms
// CHECK-NOT: nuri.rms_norm
func.func @not_rms(%x: tensor<4x16xf32>, %z: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %eps = nuri.constant dense<1.0e-5> : tensor<f32>
  %sq = nuri.mul %z, %z : tensor<4x16xf32>, tensor<4x16xf32> -> tensor<4x16xf32>
  %ms = nuri.reduce_mean %sq {axes = array<i64: 1>, keep_dims} : tensor<4x16xf32> -> tensor<4x1xf32>
  %ve = nuri.add %ms, %eps : tensor<4x1xf32>, tensor<f32> -> tensor<4x1xf32>
  %inv = nuri.rsqrt %ve : tensor<4x1xf32>
  %n = nuri.mul %x, %inv : tensor<4x16xf32>, tensor<4x1xf32> -> tensor<4x16xf32>
  return %n : tensor<4x16xf32>
}

// -----

// Negative: the weight varies per row, so it is not an RMSNorm weight.
// CHECK-LABEL: func @per_row_weight
// CHECK: %[[N:.*]] = nuri.rms_norm
// CHECK: nuri.mul %[[N]], %arg1
func.func @per_row_weight(%x: tensor<4x16xf32>, %w: tensor<4x1xf32>) -> tensor<4x16xf32> {
  %eps = nuri.constant dense<1.0e-5> : tensor<f32>
  %sq = nuri.mul %x, %x : tensor<4x16xf32>, tensor<4x16xf32> -> tensor<4x16xf32>
  %ms = nuri.reduce_mean %sq {axes = array<i64: 1>, keep_dims} : tensor<4x16xf32> -> tensor<4x1xf32>
  %ve = nuri.add %ms, %eps : tensor<4x1xf32>, tensor<f32> -> tensor<4x1xf32>
  %inv = nuri.rsqrt %ve : tensor<4x1xf32>
  %n = nuri.mul %x, %inv : tensor<4x16xf32>, tensor<4x1xf32> -> tensor<4x16xf32>
  %y = nuri.mul %n, %w : tensor<4x16xf32>, tensor<4x1xf32> -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}
