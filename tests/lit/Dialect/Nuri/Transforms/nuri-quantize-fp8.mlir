// RUN: nuri-opt %s --nuri-quantize=scheme=fp8 --split-input-file | FileCheck %s

// fp8 (e4m3, max 448): the input per tensor with the calibrated |max| 3
// mapped to 448 (scale 3/448) and quantized; the weight per column (scales
// 1/448, 4/448, 1/448, so each column's |max| is 448) stored e4m3; the
// product of the two e4m3 operands (zero points 0) with the float read-out,
// then the bias add.
// CHECK-LABEL: func @fp8
// CHECK-DAG: %[[AS:.*]] = nuri.constant dense<0.00669642864> : tensor<f32>
// CHECK: %[[Q:.*]] = nuri.quantize %arg0, %[[AS]] : (tensor<4x2xf32>, tensor<f32>) -> tensor<4x2xf8E4M3FN>
// CHECK-DAG: %[[WQ:.*]] = nuri.constant dense<{{\[}}[4.480000e+02, -2.240000e+02, 2.240000e+02], [1.120000e+02, 4.480000e+02, -4.480000e+02]]> : tensor<2x3xf8E4M3FN>
// CHECK-DAG: %[[WS:.*]] = nuri.constant dense<[0.00223214296, 0.00892857183, 0.00223214296]> : tensor<3xf32>
// CHECK-DAG: %[[Z:.*]] = nuri.constant dense<0.000000e+00> : tensor<f8E4M3FN>
// CHECK: %[[Y:.*]] = nuri.quantized_matmul %[[Q]], %[[WQ]] zero_points(%[[Z]], %[[Z]]) scales(%[[AS]], %[[WS]]) : (tensor<4x2xf8E4M3FN>, tensor<2x3xf8E4M3FN>, tensor<f8E4M3FN>, tensor<f8E4M3FN>, tensor<f32>, tensor<3xf32>) -> tensor<4x3xf32>
// CHECK: nuri.add %[[Y]], %{{.*}} {nuri.quant_key = "fc"}
// CHECK-NOT: nuri.linear
func.func @fp8(%x: tensor<4x2xf32>) -> tensor<4x3xf32> {
  %w = nuri.constant dense<[[1.0, -2.0, 0.5], [0.25, 4.0, -1.0]]> : tensor<2x3xf32>
  %b = nuri.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
  %y = nuri.linear %x, %w, %b {nuri.calibration = {min = -1.0 : f32, max = 3.0 : f32}} : (tensor<4x2xf32>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<4x3xf32> loc("fc")
  %r = nuri.relu %y : tensor<4x3xf32>
  return %r : tensor<4x3xf32>
}
