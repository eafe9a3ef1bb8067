// RUN: nuri-opt %s --nuri-smooth-quant=alpha=0.5 --split-input-file | FileCheck %s

// s = sqrt(amax / wmax) per input channel: channel 0 has amax 16 and wmax 2,
// s = 2.828427; channel 1 has 1 and 1, s = 1. The norm's scale and bias are
// divided by s, the weight's rows multiplied, the statistics divided.
// CHECK-LABEL: func @smooth
// CHECK-DAG: %[[G:.*]] = nuri.constant dense<[0.353553385, 1.000000e+00]> : tensor<2xf32>
// CHECK-DAG: %[[B:.*]] = nuri.constant dense<[0.176776692, 5.000000e-01]> : tensor<2xf32>
// CHECK: %[[N:.*]] = nuri.layer_norm %arg0, %[[G]], %[[B]]
// CHECK: %[[W:.*]] = nuri.constant dense<{{\[}}[5.65685415, 0.000000e+00], [0.000000e+00, 1.000000e+00]]> : tensor<2x2xf32>
// CHECK: nuri.linear %[[N]], %[[W]] {nuri.calibration = {channel_absmax = array<f32: 5.65685415, 1.000000e+00>}}
func.func @smooth(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %g = nuri.constant dense<1.0> : tensor<2xf32>
  %b = nuri.constant dense<0.5> : tensor<2xf32>
  %w = nuri.constant dense<[[2.0, 0.0], [0.0, 1.0]]> : tensor<2x2xf32>
  %n = nuri.layer_norm %x, %g, %b {axis = 1 : i64, epsilon = 1.0e-5 : f32} : (tensor<4x2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
  %y = nuri.linear %n, %w {nuri.calibration = {channel_absmax = array<f32: 16.0, 1.0>}} : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  %r = nuri.relu %y : tensor<4x2xf32>
  return %r : tensor<4x2xf32>
}

// -----

// A norm that also feeds something other than a linear (a residual) cannot
// move its scale: nothing changes.
// CHECK-LABEL: func @shared_with_residual
// CHECK: nuri.layer_norm %arg0, %{{.*}}, %{{.*}}
// CHECK: nuri.linear {{.*}} {nuri.calibration = {channel_absmax = array<f32: 1.600000e+01, 1.000000e+00>}}
func.func @shared_with_residual(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %g = nuri.constant dense<1.0> : tensor<2xf32>
  %b = nuri.constant dense<0.5> : tensor<2xf32>
  %w = nuri.constant dense<[[2.0, 0.0], [0.0, 1.0]]> : tensor<2x2xf32>
  %n = nuri.layer_norm %x, %g, %b {axis = 1 : i64, epsilon = 1.0e-5 : f32} : (tensor<4x2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
  %y = nuri.linear %n, %w {nuri.calibration = {channel_absmax = array<f32: 16.0, 1.0>}} : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  %s = nuri.add %y, %n : tensor<4x2xf32>, tensor<4x2xf32> -> tensor<4x2xf32>
  %r = nuri.relu %s : tensor<4x2xf32>
  return %r : tensor<4x2xf32>
}
