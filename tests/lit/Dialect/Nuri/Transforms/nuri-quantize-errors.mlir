// RUN: nuri-opt %s --nuri-quantize --split-input-file -verify-diagnostics

func.func @uncalibrated(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %w = nuri.constant dense<1.0> : tensor<2x2xf32>
  // expected-error @+1 {{no calibrated input range for 'linear'; calibrate the model (--calibration) or exclude the layer (--exclude)}}
  %y = nuri.linear %x, %w : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  %r = nuri.relu %y : tensor<4x2xf32>
  return %r : tensor<4x2xf32>
}

// -----

func.func @no_range(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %w = nuri.constant dense<1.0> : tensor<2x2xf32>
  // expected-error @+1 {{nuri.calibration of 'linear' lacks a float 'min' and 'max'}}
  %y = nuri.linear %x, %w {nuri.calibration = {channel_absmax = array<f32: 1.0, 2.0>}} : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  %r = nuri.relu %y : tensor<4x2xf32>
  return %r : tensor<4x2xf32>
}

// -----

func.func @inverted_range(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %w = nuri.constant dense<1.0> : tensor<2x2xf32>
  // expected-error @+1 {{nuri.calibration of 'linear' has an invalid range [2.000000e+00, 1.000000e+00]}}
  %y = nuri.linear %x, %w {nuri.calibration = {min = 2.0 : f32, max = 1.0 : f32}} : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  %r = nuri.relu %y : tensor<4x2xf32>
  return %r : tensor<4x2xf32>
}

// -----

// A model quantized in ONNX (QDQ, ORT's dynamic form) is refused.
func.func @already_quantized(%x: tensor<4x2xf32>, %s: tensor<f32>, %zp: tensor<ui8>) -> tensor<4x2xui8> {
  // expected-error @+1 {{the model is already quantized ('nuri.quantize' from a quantized ONNX node); --quantize takes a float model}}
  %q = nuri.quantize %x, %s, %zp : (tensor<4x2xf32>, tensor<f32>, tensor<ui8>) -> tensor<4x2xui8>
  return %q : tensor<4x2xui8>
}
