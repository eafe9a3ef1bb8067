// RUN: nuri-opt %s --pass-pipeline='builtin.module(func.func(npu-plan-memory{target=%S/Inputs/tiny-1k-sram.yaml},npu-plan-kernels{target=%S/Inputs/tiny-1k-sram.yaml}))' --split-input-file --verify-diagnostics

// No tiling fits 1 KiB of SRAM per core: the planner says why, at the op.
func.func @no_tile_fits(%x: tensor<64x512xbf16>, %w: tensor<512x256xbf16>) -> tensor<64x256xbf16> {
  // expected-error @+1 {{cannot be lowered to the NPU: sram of 1024 B per core cannot hold one gemm tile: an A row of 1024 B (K = 512) plus the smallest weight and output buffers}}
  %y = npu.gemm %x, %w : (tensor<64x512xbf16>, tensor<512x256xbf16>) -> tensor<64x256xbf16>
  return %y : tensor<64x256xbf16>
}

// -----

// A pinned plan is checked against the SRAM too.
func.func @plan_beyond_sram(%x: tensor<64x128xbf16>, %w: tensor<128x256xbf16>) -> tensor<64x256xbf16> {
  // expected-error-re @+1 {{has a plan the target cannot run: the plan needs {{[0-9]+}} B of SRAM per core, the core has 1024 B}}
  %y = npu.gemm %x, %w {npu.plan = #npu.gemm_plan<row_slices = 1, col_slices = 1, slice_rows = 64, slice_cols = 256, block_rows = 16, tile_cols = 64, k_chunk = 64, a_buffers = 2, w_buffers = 4, a_pitch = 256, multicast_a = false, cycles = 1>} : (tensor<64x128xbf16>, tensor<128x256xbf16>) -> tensor<64x256xbf16>
  return %y : tensor<64x256xbf16>
}
