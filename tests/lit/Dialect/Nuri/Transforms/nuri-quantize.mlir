// RUN: nuri-opt %s --nuri-quantize --split-input-file | FileCheck %s

// int8: a uint8 activation over the calibrated range [-1, 3] (scale 4/255,
// zero point 64), per-column int8 weights (scales 1/127, 4/127, 1/127), the
// product read out in float, then the bias.
// CHECK-LABEL: func @int8
// CHECK-DAG: %[[WQ:.*]] = nuri.constant dense<{{\[}}[127, -64, 64], [32, 127, -127]]> : tensor<2x3xi8>
// CHECK-DAG: %[[WS:.*]] = nuri.constant dense<[0.00787401571, 0.0314960629, 0.00787401571]> : tensor<3xf32>
// CHECK-DAG: %[[AS:.*]] = nuri.constant dense<0.0156862754> : tensor<f32>
// CHECK-DAG: %[[AZ:.*]] = nuri.constant dense<64> : tensor<ui8>
// CHECK-DAG: %[[WZ:.*]] = nuri.constant dense<0> : tensor<i8>
// CHECK: %[[Q:.*]] = nuri.quantize %arg0, %[[AS]], %[[AZ]] {{.*}}: (tensor<4x2xf32>, tensor<f32>, tensor<ui8>) -> tensor<4x2xui8>
// CHECK: %[[Y:.*]] = nuri.quantized_matmul %[[Q]], %[[WQ]] zero_points(%[[AZ]], %[[WZ]]) scales(%[[AS]], %[[WS]]) : (tensor<4x2xui8>, tensor<2x3xi8>, tensor<ui8>, tensor<i8>, tensor<f32>, tensor<3xf32>) -> tensor<4x3xf32>
// CHECK: %[[B:.*]] = nuri.add %[[Y]], %{{.*}} {nuri.quant_key = "fc"}
// CHECK: nuri.relu %[[B]]
// CHECK-NOT: nuri.linear
func.func @int8(%x: tensor<4x2xf32>) -> tensor<4x3xf32> {
  %w = nuri.constant dense<[[1.0, -2.0, 0.5], [0.25, 4.0, -1.0]]> : tensor<2x3xf32>
  %b = nuri.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
  %y = nuri.linear %x, %w, %b {nuri.calibration = {min = -1.0 : f32, max = 3.0 : f32}} : (tensor<4x2xf32>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<4x3xf32> loc("fc")
  %r = nuri.relu %y : tensor<4x3xf32>
  return %r : tensor<4x3xf32>
}

// -----

// A range that does not hold 0 is widened to it: [0.5, 2] -> [0, 2], zero
// point 0. A layer without a bias ends at the product.
// CHECK-LABEL: func @positive_range
// CHECK-DAG: nuri.constant dense<0.00784313772> : tensor<f32>
// CHECK-DAG: nuri.constant dense<0> : tensor<ui8>
// CHECK: nuri.quantized_matmul {{.*}} {nuri.quant_key = "fc2"}
func.func @positive_range(%x: tensor<4x2xf32>) -> tensor<4x3xf32> {
  %w = nuri.constant dense<[[1.0, -2.0, 0.5], [0.25, 4.0, -1.0]]> : tensor<2x3xf32>
  %y = nuri.linear %x, %w {nuri.calibration = {min = 0.5 : f32, max = 2.0 : f32}} : (tensor<4x2xf32>, tensor<2x3xf32>) -> tensor<4x3xf32> loc("fc2")
  %r = nuri.relu %y : tensor<4x3xf32>
  return %r : tensor<4x3xf32>
}

// -----

// The model head (its result is the function's, through a reshape) and a
// layer marked nuri.quantize_skip stay float; the head is marked why.
// CHECK-LABEL: func @head_and_skip
// CHECK: nuri.linear %arg0, %{{.*}} {nuri.calibration = {{.*}}, nuri.quantize_skip = "excluded by --exclude fc"}
// CHECK: nuri.linear %{{.*}} {nuri.calibration = {{.*}}, nuri.quantize_skip = "the model head stays float"}
// CHECK-NOT: nuri.quantized_matmul
func.func @head_and_skip(%x: tensor<4x2xf32>) -> tensor<1x4x2xf32> {
  %w = nuri.constant dense<[[1.0, -2.0], [0.25, 4.0]]> : tensor<2x2xf32>
  %y = nuri.linear %x, %w {nuri.calibration = {min = -1.0 : f32, max = 1.0 : f32}, nuri.quantize_skip = "excluded by --exclude fc"} : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  %h = nuri.linear %y, %w {nuri.calibration = {min = -1.0 : f32, max = 1.0 : f32}} : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  %r = nuri.reshape %h : tensor<4x2xf32> -> tensor<1x4x2xf32>
  return %r : tensor<1x4x2xf32>
}
