// RUN: nuri-opt %s --canonicalize --split-input-file | FileCheck %s

// Transposes compose; a head split followed by its inverse disappears.
// CHECK-LABEL: func @compose_transposes
// CHECK-NEXT: %[[T:.*]] = nuri.transpose %arg0 {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x4x2x8xf32> -> tensor<1x2x4x8xf32>
// CHECK-NEXT: return %[[T]], %arg0
func.func @compose_transposes(%x: tensor<1x4x2x8xf32>) -> (tensor<1x2x4x8xf32>, tensor<1x4x2x8xf32>) {
  %a = nuri.transpose %x {permutation = array<i64: 0, 2, 3, 1>} : tensor<1x4x2x8xf32> -> tensor<1x2x8x4xf32>
  %b = nuri.transpose %a {permutation = array<i64: 0, 1, 3, 2>} : tensor<1x2x8x4xf32> -> tensor<1x2x4x8xf32>
  %c = nuri.transpose %b {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x2x4x8xf32> -> tensor<1x4x2x8xf32>
  return %b, %c : tensor<1x2x4x8xf32>, tensor<1x4x2x8xf32>
}

// -----

// Reshapes compose; a round trip disappears.
// CHECK-LABEL: func @compose_reshapes
// CHECK-NEXT: %[[R:.*]] = nuri.reshape %arg0 : tensor<2x3x4xf32> -> tensor<24xf32>
// CHECK-NEXT: return %[[R]], %arg0
func.func @compose_reshapes(%x: tensor<2x3x4xf32>) -> (tensor<24xf32>, tensor<2x3x4xf32>) {
  %a = nuri.reshape %x : tensor<2x3x4xf32> -> tensor<6x4xf32>
  %b = nuri.reshape %a : tensor<6x4xf32> -> tensor<24xf32>
  %c = nuri.reshape %a : tensor<6x4xf32> -> tensor<2x3x4xf32>
  return %b, %c : tensor<24xf32>, tensor<2x3x4xf32>
}

// -----

// Identities fold to their input: identity permutation, same-type reshape,
// broadcast, cast, whole slice, single-input concat, +0, -0, *1, /1, **1,
// and a where with equal branches.
// CHECK-LABEL: func @identities
// CHECK-NEXT: return %arg0, %arg0, %arg0, %arg0, %arg0, %arg0, %arg0, %arg0, %arg0, %arg0, %arg0, %arg0
func.func @identities(%x: tensor<2x3xf32>, %c: tensor<2x3xi1>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) {
  %zero = nuri.constant dense<0.0> : tensor<f32>
  %one = nuri.constant dense<1.0> : tensor<3xf32>
  %t = nuri.transpose %x {permutation = array<i64: 0, 1>} : tensor<2x3xf32> -> tensor<2x3xf32>
  %r = nuri.reshape %x : tensor<2x3xf32> -> tensor<2x3xf32>
  %b = nuri.broadcast_to %x : tensor<2x3xf32> -> tensor<2x3xf32>
  %k = nuri.cast %x : tensor<2x3xf32> -> tensor<2x3xf32>
  %s = nuri.slice %x {starts = array<i64: 0, 0>, limits = array<i64: 2, 3>, steps = array<i64: 1, 1>} : tensor<2x3xf32> -> tensor<2x3xf32>
  %j = nuri.concat %x {axis = 1 : i64} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %a = nuri.add %zero, %x : tensor<f32>, tensor<2x3xf32> -> tensor<2x3xf32>
  %d = nuri.sub %x, %zero : tensor<2x3xf32>, tensor<f32> -> tensor<2x3xf32>
  %m = nuri.mul %x, %one : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xf32>
  %q = nuri.div %x, %one : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xf32>
  %p = nuri.pow %x, %one : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xf32>
  %w = nuri.where %c, %x, %x : tensor<2x3xi1>, tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x3xf32>
  return %t, %r, %b, %k, %s, %j, %a, %d, %m, %q, %p, %w : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>
}

// -----

// Not identities: +0 that broadcasts the operand to a larger shape, and a
// reversing slice of the whole tensor.
// CHECK-LABEL: func @not_identities
// CHECK: nuri.add
// CHECK: nuri.slice
func.func @not_identities(%x: tensor<3xf32>) -> (tensor<2x3xf32>, tensor<3xf32>) {
  %zero = nuri.constant dense<0.0> : tensor<2x3xf32>
  %a = nuri.add %x, %zero : tensor<3xf32>, tensor<2x3xf32> -> tensor<2x3xf32>
  %s = nuri.slice %x {starts = array<i64: 2>, limits = array<i64: -1>, steps = array<i64: -1>} : tensor<3xf32> -> tensor<3xf32>
  return %a, %s : tensor<2x3xf32>, tensor<3xf32>
}

// -----

// A where with a constant condition picks a branch.
// CHECK-LABEL: func @where_constant_condition
// CHECK-NEXT: return %arg1
func.func @where_constant_condition(%x: tensor<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {
  %c = nuri.constant dense<false> : tensor<4xi1>
  %w = nuri.where %c, %x, %y : tensor<4xi1>, tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  return %w : tensor<4xf32>
}
