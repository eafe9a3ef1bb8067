// RUN: nuri-opt %s --nuri-fold-weight-dequantize --split-input-file | FileCheck %s

// A per-column int8 weight: f32(q) * scale[n].
// CHECK-LABEL: func @int8_per_column
// CHECK: %[[W:.*]] = nuri.constant dense<{{\[}}[1.000000e+00, -1.000000e+00], [3.000000e+00, 2.000000e+00]]> : tensor<2x2xf32>
// CHECK-NOT: nuri.dequantize
// CHECK: nuri.linear %arg0, %[[W]]
func.func @int8_per_column(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %q = nuri.constant dense<[[2, -4], [6, 8]]> : tensor<2x2xi8>
  %s = nuri.constant dense<[0.5, 0.25]> : tensor<2xf32>
  %w = nuri.dequantize %q, %s : (tensor<2x2xi8>, tensor<2xf32>) -> tensor<2x2xf32>
  %y = nuri.linear %x, %w : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// w4a16's blocks (the packing of nuri-quantize-w4a16.mlir) expand back to
// the weight they were made from.
// CHECK-LABEL: func @blocked
// CHECK: nuri.constant dense<{{\[}}[4.000000e+00, -1.000000e+00], [-2.000000e+00, 5.000000e-01], [1.000000e+00, 2.500000e-01]]> : tensor<3x2xf32>
// CHECK-NOT: nuri.dequantize_blocked
func.func @blocked(%x: tensor<1x3xf32>) -> tensor<1x2xf32> {
  %q = nuri.constant dense<[[[192, 134, 136, 136, 136, 136, 136, 136]], [[192, 138, 136, 136, 136, 136, 136, 136]]]> : tensor<2x1x8xui8>
  %s = nuri.constant dense<[[-0.5], [0.125]]> : tensor<2x1xf32>
  %w = nuri.dequantize_blocked %q, %s {bits = 4 : i64, block_size = 16 : i64} : (tensor<2x1x8xui8>, tensor<2x1xf32>) -> tensor<3x2xf32>
  %y = nuri.linear %x, %w : (tensor<1x3xf32>, tensor<3x2xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// An fp8 e4m3 weight; an activation's dequantize (not constant) stays.
// CHECK-LABEL: func @fp8
// CHECK: nuri.dequantize %{{.*}}, %{{.*}} : (tensor<1x2xf8E4M3FN>, tensor<f32>) -> tensor<1x2xf32>
// CHECK: nuri.constant dense<{{\[}}[1.000000e+00], [-5.000000e-01]]> : tensor<2x1xf32>
func.func @fp8(%x: tensor<1x2xf32>) -> tensor<1x1xf32> {
  %as = nuri.constant dense<0.01> : tensor<f32>
  %xq = nuri.quantize %x, %as : (tensor<1x2xf32>, tensor<f32>) -> tensor<1x2xf8E4M3FN>
  %xd = nuri.dequantize %xq, %as : (tensor<1x2xf8E4M3FN>, tensor<f32>) -> tensor<1x2xf32>
  %q = nuri.constant dense<[[448.0], [-224.0]]> : tensor<2x1xf8E4M3FN>
  %s = nuri.constant dense<[0.00223214296]> : tensor<1xf32>
  %w = nuri.dequantize %q, %s : (tensor<2x1xf8E4M3FN>, tensor<1xf32>) -> tensor<2x1xf32>
  %y = nuri.linear %xd, %w : (tensor<1x2xf32>, tensor<2x1xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}
