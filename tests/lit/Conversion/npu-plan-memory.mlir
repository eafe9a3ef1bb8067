// RUN: nuri-opt %s --npu-plan-memory=target=tiny --split-input-file | FileCheck %s

// Intermediates go to the shared SRAM, first fit, and are free after the
// op that last reads them: %b cannot reuse %a's bytes (the op computing %b
// reads %a), %c can. Outputs always get DRAM; inputs come first in DRAM.
// CHECK-LABEL: func.func @liveness
// CHECK-SAME: (%arg0: tensor<4x8xbf16> {npu.buffer = #npu.buffer<"dram", 0>})
// CHECK-SAME: -> (tensor<4x8xbf16> {npu.buffer = #npu.buffer<"dram", 256>})
// CHECK-SAME: npu.dram_bytes = 512 : i64
// CHECK: nuri.relu %arg0 {npu.buffers = [#npu.buffer<"shared", 0>]}
// CHECK: nuri.relu %{{.*}} {npu.buffers = [#npu.buffer<"shared", 256>]}
// CHECK: nuri.relu %{{.*}} {npu.buffers = [#npu.buffer<"shared", 0>]}
// CHECK: nuri.relu %{{.*}} {npu.buffers = [#npu.buffer<"dram", 256>]}
func.func @liveness(%x: tensor<4x8xbf16>) -> tensor<4x8xbf16> {
  %a = nuri.relu %x : tensor<4x8xbf16>
  %b = nuri.relu %a : tensor<4x8xbf16>
  %c = nuri.relu %b : tensor<4x8xbf16>
  %d = nuri.relu %c : tensor<4x8xbf16>
  return %d : tensor<4x8xbf16>
}

// -----

// A tensor larger than the free shared SRAM (64 KiB on tiny) goes to DRAM.
// CHECK-LABEL: func.func @too_big_for_shared
// CHECK: nuri.relu %arg0 {npu.buffers = [#npu.buffer<"dram", 131072>]}
// CHECK: nuri.relu %{{.*}} {npu.buffers = [#npu.buffer<"dram", 262144>]}
func.func @too_big_for_shared(%x: tensor<256x256xbf16>) -> tensor<256x256xbf16> {
  %a = nuri.relu %x : tensor<256x256xbf16>
  %b = nuri.relu %a : tensor<256x256xbf16>
  return %b : tensor<256x256xbf16>
}

// -----

// Constants and constant expressions get DRAM when a kernel first reads
// them, in the layout it reads (the f32 bias is its own buffer); an input
// a weight-dominated GEMM reads as A is staged into the shared SRAM.
// CHECK-LABEL: func.func @constants_and_staging
// CHECK-SAME: %arg0: tensor<8x16xbf16> {npu.buffer = #npu.buffer<"dram", 0>, npu.staged = #npu.buffer<"shared", 0>}
// CHECK: nuri.constant {npu.buffers = [#npu.buffer<"dram", 256>]} dense<5.000000e-01> : tensor<16x64xbf16>
// CHECK: nuri.constant dense<1.000000e+00> : tensor<64xbf16>
// CHECK: nuri.cast %{{.*}} {npu.buffers = [#npu.buffer<"dram", 2304>]} : tensor<64xbf16> -> tensor<64xf32>
// CHECK: npu.gemm %arg0, %{{.*}} bias %{{.*}} {act = "relu", npu.buffers = [#npu.buffer<"dram", 2560>]}
func.func @constants_and_staging(%x: tensor<8x16xbf16>) -> tensor<8x64xbf16> {
  %w = nuri.constant dense<0.5> : tensor<16x64xbf16>
  %b = nuri.constant dense<1.0> : tensor<64xbf16>
  %b32 = nuri.cast %b : tensor<64xbf16> -> tensor<64xf32>
  %y = npu.gemm %x, %w bias %b32 {act = "relu"} : (tensor<8x16xbf16>, tensor<16x64xbf16>, tensor<64xf32>) -> tensor<8x64xbf16>
  return %y : tensor<8x64xbf16>
}

// -----

// Views own no bytes: the column slices and head splits address the
// merged projection's buffer, which lives until the attention; the
// attention writes the head merge's buffer.
// CHECK-LABEL: func.func @views
// CHECK: npu.gemm {{.*}}npu.buffers = [#npu.buffer<"shared", 256>]
// CHECK-NOT: npu.buffers
// CHECK: nuri.attention
// CHECK-NOT: npu.buffers
// CHECK: nuri.transpose %{{.*}} {npu.buffers = [#npu.buffer<"dram", 512>], npu.layout = "head_merge"
// CHECK-NOT: npu.buffers
func.func @views(%x: tensor<1x4x8xbf16>, %w: tensor<8x16xbf16>) -> tensor<1x4x8xbf16> {
  %qk = npu.gemm %x, %w : (tensor<1x4x8xbf16>, tensor<8x16xbf16>) -> tensor<1x4x16xbf16>
  %q = nuri.slice %qk {npu.layout = "columns", starts = array<i64: 0, 0, 0>, limits = array<i64: 1, 4, 8>, steps = array<i64: 1, 1, 1>} : tensor<1x4x16xbf16> -> tensor<1x4x8xbf16>
  %q4 = nuri.reshape %q {npu.layout = "alias"} : tensor<1x4x8xbf16> -> tensor<1x4x2x4xbf16>
  %qt = nuri.transpose %q4 {npu.layout = "head_split", permutation = array<i64: 0, 2, 1, 3>} : tensor<1x4x2x4xbf16> -> tensor<1x2x4x4xbf16>
  %k = nuri.slice %qk {npu.layout = "columns", starts = array<i64: 0, 0, 8>, limits = array<i64: 1, 4, 16>, steps = array<i64: 1, 1, 1>} : tensor<1x4x16xbf16> -> tensor<1x4x8xbf16>
  %k4 = nuri.reshape %k {npu.layout = "alias"} : tensor<1x4x8xbf16> -> tensor<1x4x2x4xbf16>
  %kt = nuri.transpose %k4 {npu.layout = "head_split", permutation = array<i64: 0, 2, 1, 3>} : tensor<1x4x2x4xbf16> -> tensor<1x2x4x4xbf16>
  %o = nuri.attention %qt, %kt, %kt {scale = 0.5 : f32} : (tensor<1x2x4x4xbf16>, tensor<1x2x4x4xbf16>, tensor<1x2x4x4xbf16>) -> tensor<1x2x4x4xbf16>
  %m = nuri.transpose %o {npu.layout = "head_merge", permutation = array<i64: 0, 2, 1, 3>} : tensor<1x2x4x4xbf16> -> tensor<1x4x2x4xbf16>
  %r = nuri.reshape %m {npu.layout = "alias"} : tensor<1x4x2x4xbf16> -> tensor<1x4x8xbf16>
  return %r : tensor<1x4x8xbf16>
}

// -----

// An output that is an input, or that another output already took, gets a
// fresh DRAM buffer (the lowering copies it there).
// CHECK-LABEL: func.func @outputs
// CHECK-SAME: (%arg0: tensor<4x8xbf16> {npu.buffer = #npu.buffer<"dram", 0>})
// CHECK-SAME: -> (tensor<4x8xbf16> {npu.buffer = #npu.buffer<"dram", 512>}, tensor<4x8xbf16> {npu.buffer = #npu.buffer<"dram", 256>}, tensor<4x8xbf16> {npu.buffer = #npu.buffer<"dram", 768>})
// CHECK: nuri.relu %arg0 {npu.buffers = [#npu.buffer<"dram", 256>]}
func.func @outputs(%x: tensor<4x8xbf16>) -> (tensor<4x8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>) {
  %a = nuri.relu %x : tensor<4x8xbf16>
  return %x, %a, %a : tensor<4x8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>
}

// -----

// A gather's constant indices become copy addresses, not a tensor a
// kernel reads: only the rows it copies from are placed.
// CHECK-LABEL: func.func @gather_indices
// CHECK: nuri.constant dense<[1, 0]> : tensor<2xi64>
// CHECK-NEXT: nuri.gather %arg0, %{{.*}} {axis = 0 : i64, npu.buffers = [#npu.buffer<"dram", 256>]}
func.func @gather_indices(%x: tensor<4x8xbf16>) -> tensor<2x8xbf16> {
  %i = nuri.constant dense<[1, 0]> : tensor<2xi64>
  %g = nuri.gather %x, %i {axis = 0 : i64} : tensor<4x8xbf16>, tensor<2xi64> -> tensor<2x8xbf16>
  return %g : tensor<2x8xbf16>
}
