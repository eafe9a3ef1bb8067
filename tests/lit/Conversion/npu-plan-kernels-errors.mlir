// RUN: nuri-opt %s --pass-pipeline='builtin.module(func.func(npu-plan-memory{target=tiny},npu-plan-kernels{target=tiny}))' --split-input-file --verify-diagnostics

// A pinned plan whose slices leave part of the output uncomputed.
func.func @plan_short_of_output(%x: tensor<64x128xbf16>, %w: tensor<128x256xbf16>) -> tensor<64x256xbf16> {
  // expected-error @+1 {{has a plan the target cannot run: 1 x 1 slices of 32 x 256 do not cover the 64 x 256 output}}
  %y = npu.gemm %x, %w {npu.plan = #npu.gemm_plan<row_slices = 1, col_slices = 1, slice_rows = 32, slice_cols = 256, block_rows = 16, tile_cols = 64, k_chunk = 64, a_buffers = 2, w_buffers = 4, a_pitch = 256, multicast_a = false, cycles = 1>} : (tensor<64x128xbf16>, tensor<128x256xbf16>) -> tensor<64x256xbf16>
  return %y : tensor<64x256xbf16>
}

// -----

// Multicast needs the column slices to divide the cores (tiny has 2).
func.func @plan_multicast_three(%x: tensor<64x128xbf16>, %w: tensor<128x384xbf16>) -> tensor<64x384xbf16> {
  // expected-error @+1 {{has a plan the target cannot run: multicast_a needs col_slices (3) to divide the 2 cores}}
  %y = npu.gemm %x, %w {npu.plan = #npu.gemm_plan<row_slices = 1, col_slices = 3, slice_rows = 64, slice_cols = 128, block_rows = 16, tile_cols = 64, k_chunk = 64, a_buffers = 2, w_buffers = 4, a_pitch = 256, multicast_a = true, cycles = 1>} : (tensor<64x128xbf16>, tensor<128x384xbf16>) -> tensor<64x384xbf16>
  return %y : tensor<64x384xbf16>
}

// -----

// Two accumulator tiles must fit the 16 KiB accumulator (4096 entries).
func.func @plan_beyond_accumulator(%x: tensor<64x128xbf16>, %w: tensor<128x256xbf16>) -> tensor<64x256xbf16> {
  // expected-error @+1 {{has a plan the target cannot run: two 64 x 256 accumulator tiles exceed the 4096 entries}}
  %y = npu.gemm %x, %w {npu.plan = #npu.gemm_plan<row_slices = 1, col_slices = 1, slice_rows = 64, slice_cols = 256, block_rows = 64, tile_cols = 256, k_chunk = 64, a_buffers = 2, w_buffers = 4, a_pitch = 256, multicast_a = false, cycles = 1>} : (tensor<64x128xbf16>, tensor<128x256xbf16>) -> tensor<64x256xbf16>
  return %y : tensor<64x256xbf16>
}

// -----

// Resident weights need every core to keep the same column slice.
func.func @plan_resident_batched(%x: tensor<2x64x128xbf16>, %w: tensor<2x128x256xbf16>) -> tensor<2x64x256xbf16> {
  // expected-error @+1 {{has a plan the target cannot run: resident weights (w_buffers = 0) need col_slices to divide the cores and unbatched weights}}
  %y = npu.gemm %x, %w {npu.plan = #npu.gemm_plan<row_slices = 1, col_slices = 1, slice_rows = 64, slice_cols = 256, block_rows = 16, tile_cols = 64, k_chunk = 64, a_buffers = 2, w_buffers = 0, a_pitch = 256, multicast_a = false, cycles = 1>} : (tensor<2x64x128xbf16>, tensor<2x128x256xbf16>) -> tensor<2x64x256xbf16>
  return %y : tensor<2x64x256xbf16>
}
