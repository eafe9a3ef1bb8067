// RUN: nuri-opt %s --nuri-quantize=scheme=w4a16 --split-input-file | FileCheck %s

// w4a16: each column's K values become 4-bit in blocks (16, the smallest,
// for K = 3: the rest of the block is padding at the zero point 8). The
// value of largest magnitude maps to -8: column 0's 4.0 with the scale -0.5
// (q = 0, 12, 6), column 1's -1.0 with 0.125 (q = 0, 12, 10); two values a
// byte, the first in the low bits.
// CHECK-LABEL: func @w4a16
// CHECK-DAG: %[[WQ:.*]] = nuri.constant dense<{{\[\[\[}}192, 134, 136, 136, 136, 136, 136, 136]], {{\[\[}}192, 138, 136, 136, 136, 136, 136, 136]]]> : tensor<2x1x8xui8>
// CHECK-DAG: %[[WS:.*]] = nuri.constant dense<{{\[}}[-5.000000e-01], [1.250000e-01]]> : tensor<2x1xf32>
// CHECK: %[[W:.*]] = nuri.dequantize_blocked %[[WQ]], %[[WS]] {bits = 4 : i64, block_size = 16 : i64} : (tensor<2x1x8xui8>, tensor<2x1xf32>) -> tensor<3x2xf32>
// CHECK: nuri.linear %arg0, %[[W]], %{{.*}} {nuri.quant_key = "fc"}
func.func @w4a16(%x: tensor<4x3xf32>) -> tensor<4x2xf32> {
  %w = nuri.constant dense<[[4.0, -1.0], [-2.0, 0.5], [1.0, 0.25]]> : tensor<3x2xf32>
  %b = nuri.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %y = nuri.linear %x, %w, %b : (tensor<4x3xf32>, tensor<3x2xf32>, tensor<2xf32>) -> tensor<4x2xf32> loc("fc")
  %r = nuri.relu %y : tensor<4x2xf32>
  return %r : tensor<4x2xf32>
}

// -----

// A long reduction axis takes blocks of 128; 200 = 128 + 72 (padded).
// CHECK-LABEL: func @blocks_of_128
// CHECK: nuri.dequantize_blocked %{{.*}}, %{{.*}} {bits = 4 : i64, block_size = 128 : i64} : (tensor<3x2x64xui8>, tensor<3x2xf32>) -> tensor<200x3xf32>
func.func @blocks_of_128(%x: tensor<1x200xf32>) -> tensor<1x3xf32> {
  %w = nuri.constant dense<0.5> : tensor<200x3xf32>
  %y = nuri.linear %x, %w : (tensor<1x200xf32>, tensor<200x3xf32>) -> tensor<1x3xf32> loc("fc")
  %r = nuri.relu %y : tensor<1x3xf32>
  return %r : tensor<1x3xf32>
}
