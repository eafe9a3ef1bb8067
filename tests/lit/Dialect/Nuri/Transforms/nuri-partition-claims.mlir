// RUN: nuri-opt %s --nuri-attach-target=target=atom --nuri-partition | FileCheck %s

// What the atom NPU claims, asked of the lowering itself (npu::claimsOp,
// through the registered target backend), for the data-movement ops whose
// claim depends on their operands.
// A gather with run-time indices (an embedding lookup) is one dma.idx per
// row, claimed only in a generation program (one with state): a plain
// model's lookups keep their placement. With constant indices (a KV cache
// split into layers) it is a set of copies.
// CHECK-LABEL: func @gathers
// CHECK: nuri.gather %arg0, %arg1 {{.*}}nuri.device = "cpu", nuri.fallback = "gather at run-time indices: on the NPU only in generation programs"
// CHECK: nuri.gather %arg0, %{{.*}}nuri.device = "npu"
func.func @gathers(%t: tensor<16x8xbf16>, %ids: tensor<4xi64>) -> (tensor<4x8xbf16>, tensor<8xbf16>) {
  %i = nuri.constant dense<3> : tensor<i64>
  %0 = nuri.gather %t, %ids {axis = 0 : i64} : tensor<16x8xbf16>, tensor<4xi64> -> tensor<4x8xbf16>
  %1 = nuri.gather %t, %i {axis = 0 : i64} : tensor<16x8xbf16>, tensor<i64> -> tensor<8xbf16>
  return %0, %1 : tensor<4x8xbf16>, tensor<8xbf16>
}

// CHECK-LABEL: func @generation_gathers
// CHECK: nuri.gather %arg0, %arg1 {{.*}}nuri.device = "npu"
// CHECK: nuri.gather %arg0, %arg1 {{.*}}nuri.device = "cpu", nuri.fallback = "gather at run-time indices along an axis other than 0 (dma.idx moves whole rows)"
func.func @generation_gathers(%t: tensor<16x8xbf16>, %ids: tensor<4xi64>, %c: tensor<1x4x16x8xbf16> {nuri.state = "cache"}) -> (tensor<4x8xbf16>, tensor<16x4xbf16>, tensor<1x4x16x8xbf16> {nuri.state = "cache"}) {
  %0 = nuri.gather %t, %ids {axis = 0 : i64} : tensor<16x8xbf16>, tensor<4xi64> -> tensor<4x8xbf16>
  %1 = nuri.gather %t, %ids {axis = 1 : i64} : tensor<16x8xbf16>, tensor<4xi64> -> tensor<16x4xbf16>
  return %0, %1, %c : tensor<4x8xbf16>, tensor<16x4xbf16>, tensor<1x4x16x8xbf16>
}

// A transpose that moves the innermost dim runs on the vector engine when it
// is a batch of 2-D transposes (two groups of adjacent dims swapping places).
// CHECK-LABEL: func @transposes
// CHECK: nuri.transpose %arg0 {nuri.device = "npu", permutation = array<i64: 0, 2, 3, 1>}
// CHECK: nuri.transpose %arg0 {nuri.device = "cpu", nuri.fallback = "transpose moves the innermost dimension in a way that is not a batch of 2-D transposes {{.*}}", permutation = array<i64: 1, 0, 3, 2>}
func.func @transposes(%x: tensor<2x3x5x7xbf16>) -> (tensor<2x5x7x3xbf16>, tensor<3x2x7x5xbf16>) {
  %0 = nuri.transpose %x {permutation = array<i64: 0, 2, 3, 1>} : tensor<2x3x5x7xbf16> -> tensor<2x5x7x3xbf16>
  %1 = nuri.transpose %x {permutation = array<i64: 1, 0, 3, 2>} : tensor<2x3x5x7xbf16> -> tensor<3x2x7x5xbf16>
  return %0, %1 : tensor<2x5x7x3xbf16>, tensor<3x2x7x5xbf16>
}
