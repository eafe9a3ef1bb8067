// RUN: nuri-opt %s --pass-pipeline='builtin.module(func.func(npu-plan-memory{target=tiny},npu-plan-kernels{target=tiny}))' --split-input-file | FileCheck %s

// The cost model's tiling of a GEMM on tiny (2 cores, 8x8 arrays) with
// both operands in DRAM: pinned here so a change to the planner shows up
// as a change to this line.
// CHECK-LABEL: func.func @planned
// CHECK: npu.gemm %arg0, %arg1 {npu.buffers = [#npu.buffer<"dram", {{[0-9]+}}>], npu.plan = #npu.gemm_plan<row_slices = 2, col_slices = 1, slice_rows = 32, slice_cols = 256, block_rows = 32, tile_cols = 16, k_chunk = 128, a_buffers = 2, w_buffers = 4, a_pitch = 256, multicast_a = false, cycles = 18134>}
func.func @planned(%x: tensor<64x128xbf16>, %w: tensor<128x256xbf16>) -> tensor<64x256xbf16> {
  %y = npu.gemm %x, %w : (tensor<64x128xbf16>, tensor<128x256xbf16>) -> tensor<64x256xbf16>
  return %y : tensor<64x256xbf16>
}

// -----

// A plan written into the input is kept (the planner splits the rows
// over the two cores; this one splits the columns and multicasts A): a
// test or an experiment pins a tiling this way.
// CHECK-LABEL: func.func @pinned
// CHECK: npu.plan = #npu.gemm_plan<row_slices = 1, col_slices = 2, slice_rows = 64, slice_cols = 128, block_rows = 16, tile_cols = 64, k_chunk = 64, a_buffers = 2, w_buffers = 4, a_pitch = 256, multicast_a = true, cycles = 12345>
func.func @pinned(%x: tensor<64x128xbf16>, %w: tensor<128x256xbf16>) -> tensor<64x256xbf16> {
  %y = npu.gemm %x, %w {npu.plan = #npu.gemm_plan<row_slices = 1, col_slices = 2, slice_rows = 64, slice_cols = 128, block_rows = 16, tile_cols = 64, k_chunk = 64, a_buffers = 2, w_buffers = 4, a_pitch = 256, multicast_a = true, cycles = 12345>} : (tensor<64x128xbf16>, tensor<128x256xbf16>) -> tensor<64x256xbf16>
  return %y : tensor<64x256xbf16>
}

// -----

// Only kernels are planned: a relu has nothing to choose.
// CHECK-LABEL: func.func @nothing_to_plan
// CHECK-NOT: npu.plan
func.func @nothing_to_plan(%x: tensor<4x8xbf16>) -> tensor<4x8xbf16> {
  %y = nuri.relu %x : tensor<4x8xbf16>
  return %y : tensor<4x8xbf16>
}
