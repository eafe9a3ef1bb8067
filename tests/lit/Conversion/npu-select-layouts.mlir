// RUN: nuri-opt %s --npu-select-layouts --split-input-file | FileCheck %s

// A merged projection: a slice is a column range of the wide GEMM output
// when its head split folds into the attention's reads (not K here: its
// head split has a second reader), the reshapes alias, the head merge
// folds into the attention's writes.
// CHECK-LABEL: func.func @merged_heads
// CHECK: %[[Q:.*]] = nuri.slice %{{.*}} {limits = array<i64: 1, 4, 8>, npu.layout = "columns", starts
// CHECK-NEXT: nuri.reshape %[[Q]] {npu.layout = "alias"}
// CHECK-NEXT: nuri.transpose %{{.*}} {npu.layout = "head_split", permutation = array<i64: 0, 2, 1, 3>}
// CHECK-NEXT: nuri.slice %{{.*}} {limits = array<i64: 1, 4, 16>, starts
// CHECK-NEXT: nuri.reshape %{{.*}} {npu.layout = "alias"}
// CHECK-NEXT: nuri.transpose %{{.*}} {permutation = array<i64: 0, 2, 1, 3>}
// CHECK: %[[O:.*]] = nuri.attention
// CHECK-NEXT: nuri.transpose %[[O]] {npu.layout = "head_merge"
// CHECK-NEXT: nuri.reshape %{{.*}} {npu.layout = "alias"}
func.func @merged_heads(%x: tensor<1x4x8xbf16>, %w: tensor<8x16xbf16>) -> tensor<1x4x8xbf16> {
  %qk = npu.gemm %x, %w : (tensor<1x4x8xbf16>, tensor<8x16xbf16>) -> tensor<1x4x16xbf16>
  %q = nuri.slice %qk {starts = array<i64: 0, 0, 0>, limits = array<i64: 1, 4, 8>, steps = array<i64: 1, 1, 1>} : tensor<1x4x16xbf16> -> tensor<1x4x8xbf16>
  %q4 = nuri.reshape %q : tensor<1x4x8xbf16> -> tensor<1x4x2x4xbf16>
  %qt = nuri.transpose %q4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x4x2x4xbf16> -> tensor<1x2x4x4xbf16>
  %k = nuri.slice %qk {starts = array<i64: 0, 0, 8>, limits = array<i64: 1, 4, 16>, steps = array<i64: 1, 1, 1>} : tensor<1x4x16xbf16> -> tensor<1x4x8xbf16>
  %k4 = nuri.reshape %k : tensor<1x4x8xbf16> -> tensor<1x4x2x4xbf16>
  %kt = nuri.transpose %k4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x4x2x4xbf16> -> tensor<1x2x4x4xbf16>
  %v = nuri.relu %kt : tensor<1x2x4x4xbf16>
  %o = nuri.attention %qt, %kt, %v {scale = 0.5 : f32} : (tensor<1x2x4x4xbf16>, tensor<1x2x4x4xbf16>, tensor<1x2x4x4xbf16>) -> tensor<1x2x4x4xbf16>
  %m = nuri.transpose %o {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x2x4x4xbf16> -> tensor<1x4x2x4xbf16>
  %r = nuri.reshape %m : tensor<1x4x2x4xbf16> -> tensor<1x4x8xbf16>
  return %r : tensor<1x4x8xbf16>
}

// -----

// Copies stay copies: a head split with a second reader, a slice read by
// something other than a head split, a transpose of a constant (laid out
// at compile time), a transpose that is not a head swap.
// CHECK-LABEL: func.func @copies
// CHECK: nuri.transpose %arg0 {permutation = array<i64: 0, 2, 1, 3>}
// CHECK: nuri.slice %arg1 {limits = array<i64: 1, 4, 8>, starts
// CHECK: nuri.transpose %{{.*}} {permutation = array<i64: 0, 2, 1, 3>}
// CHECK: nuri.transpose %arg0 {permutation = array<i64: 2, 1, 0, 3>}
// CHECK-NOT: npu.layout
func.func @copies(%x: tensor<1x4x2x4xbf16>, %y: tensor<1x4x16xbf16>) -> (tensor<1x2x4x4xbf16>, tensor<1x2x4x4xbf16>, tensor<1x4x8xbf16>, tensor<2x4x1x4xbf16>) {
  %t = nuri.transpose %x {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x4x2x4xbf16> -> tensor<1x2x4x4xbf16>
  %c = nuri.constant dense<1.0> : tensor<1x4x2x4xbf16>
  %s = nuri.slice %y {starts = array<i64: 0, 0, 0>, limits = array<i64: 1, 4, 8>, steps = array<i64: 1, 1, 1>} : tensor<1x4x16xbf16> -> tensor<1x4x8xbf16>
  %ct = nuri.transpose %c {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x4x2x4xbf16> -> tensor<1x2x4x4xbf16>
  %o = nuri.attention %t, %ct, %ct {scale = 0.5 : f32} : (tensor<1x2x4x4xbf16>, tensor<1x2x4x4xbf16>, tensor<1x2x4x4xbf16>) -> tensor<1x2x4x4xbf16>
  %p = nuri.transpose %x {permutation = array<i64: 2, 1, 0, 3>} : tensor<1x4x2x4xbf16> -> tensor<2x4x1x4xbf16>
  return %o, %t, %s, %p : tensor<1x2x4x4xbf16>, tensor<1x2x4x4xbf16>, tensor<1x4x8xbf16>, tensor<2x4x1x4xbf16>
}
