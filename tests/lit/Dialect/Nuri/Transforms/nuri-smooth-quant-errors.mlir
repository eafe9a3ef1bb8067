// RUN: nuri-opt %s --nuri-smooth-quant --split-input-file -verify-diagnostics

func.func @wrong_length(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %g = nuri.constant dense<1.0> : tensor<2xf32>
  %w = nuri.constant dense<1.0> : tensor<2x2xf32>
  %n = nuri.layer_norm %x, %g {axis = 1 : i64, epsilon = 1.0e-5 : f32} : (tensor<4x2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
  // expected-error @+1 {{nuri.calibration of 'linear' has 3 channel_absmax values for an input of 2 channels}}
  %y = nuri.linear %n, %w {nuri.calibration = {channel_absmax = array<f32: 1.0, 2.0, 3.0>}} : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  %r = nuri.relu %y : tensor<4x2xf32>
  return %r : tensor<4x2xf32>
}
