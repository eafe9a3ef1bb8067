// RUN: nuri-opt %s --npu-plan-memory --split-input-file --verify-diagnostics | FileCheck %s

// Without a `target` option the pass plans for the module's nuri.target, as
// inside `nuri compile`: tiny's 64 KiB shared SRAM holds the 256-byte
// intermediate, DRAM holds the input and the output.
// CHECK-LABEL: func.func @module_target
// CHECK-SAME: npu.dram_bytes = 512 : i64
// CHECK: nuri.relu %arg0 {npu.buffers = [#npu.buffer<"shared", 0>]}
module attributes {nuri.target = #nuri.target<"tiny">} {
  func.func @module_target(%x: tensor<4x8xbf16>) -> tensor<4x8xbf16> {
    %a = nuri.relu %x : tensor<4x8xbf16>
    %b = nuri.relu %a : tensor<4x8xbf16>
    return %b : tensor<4x8xbf16>
  }
}

// -----

// expected-error @+1 {{no target: no enclosing op has a 'nuri.target' attribute}}
func.func @no_target(%x: tensor<4x8xbf16>) -> tensor<4x8xbf16> {
  %a = nuri.relu %x : tensor<4x8xbf16>
  return %a : tensor<4x8xbf16>
}
