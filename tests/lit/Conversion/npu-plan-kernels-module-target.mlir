// RUN: nuri-opt %s --pass-pipeline='builtin.module(func.func(npu-plan-memory,npu-plan-kernels))' --split-input-file --verify-diagnostics | FileCheck %s

// Without a `target` option the pass plans for the module's nuri.target, as
// inside `nuri compile`: on tiny (2 cores, 8x8 arrays) the same tiling as
// npu-plan-kernels.mlir's @planned, which names tiny as an option.
// CHECK-LABEL: func.func @module_target
// CHECK: npu.plan = #npu.gemm_plan<row_slices = 2, col_slices = 1, slice_rows = 32, slice_cols = 256, block_rows = 32, tile_cols = 16, k_chunk = 128, a_buffers = 2, w_buffers = 4, a_pitch = 256, multicast_a = false, cycles = 18134>
module attributes {nuri.target = #nuri.target<"tiny">} {
  func.func @module_target(%x: tensor<64x128xbf16>, %w: tensor<128x256xbf16>) -> tensor<64x256xbf16> {
    %y = npu.gemm %x, %w : (tensor<64x128xbf16>, tensor<128x256xbf16>) -> tensor<64x256xbf16>
    return %y : tensor<64x256xbf16>
  }
}

// -----

// The module's config decides: on rngd the same GEMM splits both ways over
// all eight cores and multicasts A; its column slices (64) are narrower
// than the 128-wide array, which runs part empty while each core streams a
// quarter of the weights. rngd streams weights ahead through one ring, so the
// estimate includes storing the last tile after the multiplies.
// CHECK-LABEL: func.func @other_module_target
// CHECK: npu.plan = #npu.gemm_plan<row_slices = 2, col_slices = 4, slice_rows = 32, slice_cols = 64, block_rows = 32, tile_cols = 64, k_chunk = 128, a_buffers = 2, w_buffers = 4, a_pitch = 256, multicast_a = true, cycles = 1861>
module attributes {nuri.target = #nuri.target<"rngd">} {
  func.func @other_module_target(%x: tensor<64x128xbf16>, %w: tensor<128x256xbf16>) -> tensor<64x256xbf16> {
    %y = npu.gemm %x, %w : (tensor<64x128xbf16>, tensor<128x256xbf16>) -> tensor<64x256xbf16>
    return %y : tensor<64x256xbf16>
  }
}

// -----

// Neither an option nor a module target: an error, not a default chip.
module {
  // expected-error @+1 {{no target: no enclosing op has a 'nuri.target' attribute}}
  func.func @no_target(%x: tensor<64x128xbf16>, %w: tensor<128x256xbf16>) -> tensor<64x256xbf16> {
    %y = npu.gemm %x, %w {npu.buffers = [#npu.buffer<"dram", 0>]} : (tensor<64x128xbf16>, tensor<128x256xbf16>) -> tensor<64x256xbf16>
    return %y : tensor<64x256xbf16>
  }
}
