// RUN: nuri-opt %s --nuri-attach-target=target=atom --nuri-partition="test-claim=nuri.linear,nuri.matmul,nuri.concat" --split-input-file | FileCheck %s

// Claimed ops are marked for the NPU; the rest stay on the CPU with the
// reason; constants and the return get no device.
// CHECK-LABEL: func @mlp
// CHECK: %[[W:.*]] = nuri.constant dense<1.000000e+00> : tensor<4x4xbf16>
// CHECK-NOT: nuri.device
// CHECK: nuri.linear {{.*}} {nuri.device = "npu"}
// CHECK: nuri.gelu {{.*}}{nuri.device = "cpu", nuri.fallback = "not in the claimed list of the test"
// CHECK: nuri.matmul {{.*}} {nuri.device = "npu"}
// CHECK: return
func.func @mlp(%x: tensor<2x4xbf16>) -> tensor<2x4xbf16> {
  %w = nuri.constant dense<1.0> : tensor<4x4xbf16>
  %h = nuri.linear %x, %w : (tensor<2x4xbf16>, tensor<4x4xbf16>) -> tensor<2x4xbf16>
  %g = nuri.gelu %h : tensor<2x4xbf16>
  %y = nuri.matmul %g, %w : tensor<2x4xbf16>, tensor<4x4xbf16> -> tensor<2x4xbf16>
  return %y : tensor<2x4xbf16>
}

// -----

// An op on an empty tensor (a KV cache before the first step) stays on the
// CPU whatever the NPU claims.
// CHECK-LABEL: func @empty_past
// CHECK: nuri.concat {{.*}}nuri.device = "cpu", nuri.fallback = "has an empty tensor (nothing for the NPU to do)"
// CHECK: nuri.matmul {{.*}}{nuri.device = "npu", transpose_rhs}
func.func @empty_past(%past: tensor<1x0x4xbf16>, %x: tensor<1x2x4xbf16>) -> tensor<1x2x2xbf16> {
  %kv = nuri.concat %past, %x {axis = 1 : i64} : (tensor<1x0x4xbf16>, tensor<1x2x4xbf16>) -> tensor<1x2x4xbf16>
  %s = nuri.matmul %x, %kv {transpose_rhs} : tensor<1x2x4xbf16>, tensor<1x2x4xbf16> -> tensor<1x2x2xbf16>
  return %s : tensor<1x2x2xbf16>
}
