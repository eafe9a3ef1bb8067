// RUN: nuri-opt %s --nuri-fuse-rope --split-input-file | FileCheck %s

// HF LLaMA (llama-tiny-synth): q * cos + cat(-q[..., 4:], q[..., :4]) * sin
// with gathered [b, 1, s, d] tables.
// CHECK-LABEL: func @llama
// CHECK: %[[R:.*]] = nuri.rope %arg0, %arg1, %arg2 : (tensor<1x4x5x8xf32>, tensor<1x1x5x8xf32>, tensor<1x1x5x8xf32>) -> tensor<1x4x5x8xf32>
// CHECK-NEXT: return %[[R]]
func.func @llama(%q: tensor<1x4x5x8xf32>, %cos: tensor<1x1x5x8xf32>, %sin: tensor<1x1x5x8xf32>) -> tensor<1x4x5x8xf32> {
  %qc = nuri.mul %q, %cos : tensor<1x4x5x8xf32>, tensor<1x1x5x8xf32> -> tensor<1x4x5x8xf32>
  %x1 = nuri.slice %q {starts = array<i64: 0, 0, 0, 0>, limits = array<i64: 1, 4, 5, 4>, steps = array<i64: 1, 1, 1, 1>} : tensor<1x4x5x8xf32> -> tensor<1x4x5x4xf32>
  %x2 = nuri.slice %q {starts = array<i64: 0, 0, 0, 4>, limits = array<i64: 1, 4, 5, 8>, steps = array<i64: 1, 1, 1, 1>} : tensor<1x4x5x8xf32> -> tensor<1x4x5x4xf32>
  %n = nuri.neg %x2 : tensor<1x4x5x4xf32>
  %rot = nuri.concat %n, %x1 {axis = 3 : i64} : (tensor<1x4x5x4xf32>, tensor<1x4x5x4xf32>) -> tensor<1x4x5x8xf32>
  %rs = nuri.mul %rot, %sin : tensor<1x4x5x8xf32>, tensor<1x1x5x8xf32> -> tensor<1x4x5x8xf32>
  %y = nuri.add %qc, %rs : tensor<1x4x5x8xf32>, tensor<1x4x5x8xf32> -> tensor<1x4x5x8xf32>
  return %y : tensor<1x4x5x8xf32>
}

// -----

// Halves from one split, operands commuted, [s, d] constant tables.
// CHECK-LABEL: func @split_commuted
// CHECK: %[[C:.*]] = nuri.constant dense<5.000000e-01> : tensor<5x8xf32>
// CHECK: %[[S:.*]] = nuri.constant dense<2.500000e-01> : tensor<5x8xf32>
// CHECK: nuri.rope %arg0, %[[C]], %[[S]]
// CHECK-NOT: nuri.concat
func.func @split_commuted(%k: tensor<2x2x5x8xf32>) -> tensor<2x2x5x8xf32> {
  %cos = nuri.constant dense<0.5> : tensor<5x8xf32>
  %sin = nuri.constant dense<0.25> : tensor<5x8xf32>
  %x1, %x2 = nuri.split %k {axis = 3 : i64, sizes = array<i64: 4, 4>} : tensor<2x2x5x8xf32> -> tensor<2x2x5x4xf32>, tensor<2x2x5x4xf32>
  %n = nuri.neg %x2 : tensor<2x2x5x4xf32>
  %rot = nuri.concat %n, %x1 {axis = 3 : i64} : (tensor<2x2x5x4xf32>, tensor<2x2x5x4xf32>) -> tensor<2x2x5x8xf32>
  %rs = nuri.mul %sin, %rot : tensor<5x8xf32>, tensor<2x2x5x8xf32> -> tensor<2x2x5x8xf32>
  %kc = nuri.mul %cos, %k : tensor<5x8xf32>, tensor<2x2x5x8xf32> -> tensor<2x2x5x8xf32>
  %y = nuri.add %rs, %kc : tensor<2x2x5x8xf32>, tensor<2x2x5x8xf32> -> tensor<2x2x5x8xf32>
  return %y : tensor<2x2x5x8xf32>
}

// -----

// Negatives: halves swapped without the negation of the second half (that
// is the inverse rotation), the rotation of another tensor, and a table
// that would grow the result.
// CHECK-LABEL: func @not_rope
// CHECK-NOT: nuri.rope
func.func @not_rope(%q: tensor<1x4x5x8xf32>, %z: tensor<1x4x5x8xf32>, %cos: tensor<1x1x5x8xf32>, %sin: tensor<1x1x5x8xf32>, %big: tensor<2x4x5x8xf32>) -> (tensor<1x4x5x8xf32>, tensor<1x4x5x8xf32>, tensor<2x4x5x8xf32>) {
  %qc = nuri.mul %q, %cos : tensor<1x4x5x8xf32>, tensor<1x1x5x8xf32> -> tensor<1x4x5x8xf32>
  %x1 = nuri.slice %q {starts = array<i64: 0, 0, 0, 0>, limits = array<i64: 1, 4, 5, 4>, steps = array<i64: 1, 1, 1, 1>} : tensor<1x4x5x8xf32> -> tensor<1x4x5x4xf32>
  %x2 = nuri.slice %q {starts = array<i64: 0, 0, 0, 4>, limits = array<i64: 1, 4, 5, 8>, steps = array<i64: 1, 1, 1, 1>} : tensor<1x4x5x8xf32> -> tensor<1x4x5x4xf32>
  %n1 = nuri.neg %x1 : tensor<1x4x5x4xf32>
  %inv = nuri.concat %x2, %n1 {axis = 3 : i64} : (tensor<1x4x5x4xf32>, tensor<1x4x5x4xf32>) -> tensor<1x4x5x8xf32>
  %is = nuri.mul %inv, %sin : tensor<1x4x5x8xf32>, tensor<1x1x5x8xf32> -> tensor<1x4x5x8xf32>
  %y0 = nuri.add %qc, %is : tensor<1x4x5x8xf32>, tensor<1x4x5x8xf32> -> tensor<1x4x5x8xf32>
  %n = nuri.neg %x2 : tensor<1x4x5x4xf32>
  %rot = nuri.concat %n, %x1 {axis = 3 : i64} : (tensor<1x4x5x4xf32>, tensor<1x4x5x4xf32>) -> tensor<1x4x5x8xf32>
  %rs = nuri.mul %rot, %sin : tensor<1x4x5x8xf32>, tensor<1x1x5x8xf32> -> tensor<1x4x5x8xf32>
  %zc = nuri.mul %z, %cos : tensor<1x4x5x8xf32>, tensor<1x1x5x8xf32> -> tensor<1x4x5x8xf32>
  %y1 = nuri.add %zc, %rs : tensor<1x4x5x8xf32>, tensor<1x4x5x8xf32> -> tensor<1x4x5x8xf32>
  %qb = nuri.mul %q, %big : tensor<1x4x5x8xf32>, tensor<2x4x5x8xf32> -> tensor<2x4x5x8xf32>
  %y2 = nuri.add %qb, %rs : tensor<2x4x5x8xf32>, tensor<1x4x5x8xf32> -> tensor<2x4x5x8xf32>
  return %y0, %y1, %y2 : tensor<1x4x5x8xf32>, tensor<1x4x5x8xf32>, tensor<2x4x5x8xf32>
}
