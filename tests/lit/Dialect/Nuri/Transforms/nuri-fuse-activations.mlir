// RUN: nuri-opt %s --nuri-fuse-activations --split-input-file | FileCheck %s

// bert-toy: (x * 0.5) * (1 + erf(x / sqrt 2)).
// CHECK-LABEL: func @gelu_erf_half_first
// CHECK: %[[Y:.*]] = nuri.gelu %arg0 : tensor<2x8xf32>
// CHECK-NEXT: return %[[Y]]
func.func @gelu_erf_half_first(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %half = nuri.constant dense<0.5> : tensor<f32>
  %sqrt2 = nuri.constant dense<1.41421354> : tensor<f32>
  %one = nuri.constant dense<1.0> : tensor<f32>
  %h = nuri.mul %x, %half : tensor<2x8xf32>, tensor<f32> -> tensor<2x8xf32>
  %s = nuri.div %x, %sqrt2 : tensor<2x8xf32>, tensor<f32> -> tensor<2x8xf32>
  %e = nuri.erf %s : tensor<2x8xf32>
  %p = nuri.add %e, %one : tensor<2x8xf32>, tensor<f32> -> tensor<2x8xf32>
  %y = nuri.mul %h, %p : tensor<2x8xf32>, tensor<2x8xf32> -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

// distilbert, ViT: (x * (erf + 1)) * 0.5.
// CHECK-LABEL: func @gelu_erf_half_last
// CHECK: nuri.gelu %arg0 : tensor<2x8xf32>
// CHECK-NOT: nuri.erf
func.func @gelu_erf_half_last(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %half = nuri.constant dense<0.5> : tensor<f32>
  %sqrt2 = nuri.constant dense<1.41421354> : tensor<f32>
  %one = nuri.constant dense<1.0> : tensor<f32>
  %s = nuri.div %x, %sqrt2 : tensor<2x8xf32>, tensor<f32> -> tensor<2x8xf32>
  %e = nuri.erf %s : tensor<2x8xf32>
  %p = nuri.add %e, %one : tensor<2x8xf32>, tensor<f32> -> tensor<2x8xf32>
  %m = nuri.mul %x, %p : tensor<2x8xf32>, tensor<2x8xf32> -> tensor<2x8xf32>
  %y = nuri.mul %m, %half : tensor<2x8xf32>, tensor<f32> -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

// keras2onnx: x * (0.5 * (1 + erf(x / sqrt 2))), and x * 0.7071 instead of
// the division.
// CHECK-LABEL: func @gelu_erf_keras
// CHECK: nuri.gelu %arg0 : tensor<2x8xf32>
// CHECK-NOT: nuri.erf
func.func @gelu_erf_keras(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %half = nuri.constant dense<0.5> : tensor<f32>
  %rsqrt2 = nuri.constant dense<0.707106769> : tensor<f32>
  %one = nuri.constant dense<1.0> : tensor<f32>
  %s = nuri.mul %x, %rsqrt2 : tensor<2x8xf32>, tensor<f32> -> tensor<2x8xf32>
  %e = nuri.erf %s : tensor<2x8xf32>
  %p = nuri.add %one, %e : tensor<f32>, tensor<2x8xf32> -> tensor<2x8xf32>
  %h = nuri.mul %half, %p : tensor<f32>, tensor<2x8xf32> -> tensor<2x8xf32>
  %y = nuri.mul %x, %h : tensor<2x8xf32>, tensor<2x8xf32> -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

// GPT-2 (gelu_new): 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))).
// CHECK-LABEL: func @gelu_tanh_pow
// CHECK: %[[Y:.*]] = nuri.gelu %arg0 {approximate = #nuri<gelu tanh>} : tensor<1x4x16xf32>
// CHECK-NEXT: return %[[Y]]
func.func @gelu_tanh_pow(%x: tensor<1x4x16xf32>) -> tensor<1x4x16xf32> {
  %half = nuri.constant dense<0.5> : tensor<f32>
  %three = nuri.constant dense<3.0> : tensor<f32>
  %c = nuri.constant dense<0.044714998> : tensor<f32>
  %k = nuri.constant dense<0.797884583> : tensor<f32>
  %one = nuri.constant dense<1.0> : tensor<f32>
  %h = nuri.mul %x, %half : tensor<1x4x16xf32>, tensor<f32> -> tensor<1x4x16xf32>
  %cube = nuri.pow %x, %three : tensor<1x4x16xf32>, tensor<f32> -> tensor<1x4x16xf32>
  %cc = nuri.mul %cube, %c : tensor<1x4x16xf32>, tensor<f32> -> tensor<1x4x16xf32>
  %in = nuri.add %x, %cc : tensor<1x4x16xf32>, tensor<1x4x16xf32> -> tensor<1x4x16xf32>
  %arg = nuri.mul %in, %k : tensor<1x4x16xf32>, tensor<f32> -> tensor<1x4x16xf32>
  %t = nuri.tanh %arg : tensor<1x4x16xf32>
  %p = nuri.add %t, %one : tensor<1x4x16xf32>, tensor<f32> -> tensor<1x4x16xf32>
  %y = nuri.mul %h, %p : tensor<1x4x16xf32>, tensor<1x4x16xf32> -> tensor<1x4x16xf32>
  return %y : tensor<1x4x16xf32>
}

// -----

// Megatron: tanh(x * 0.7979 * (0.044715 * x * x + 1)), x * x * x cubes too.
// CHECK-LABEL: func @gelu_tanh_megatron
// CHECK: nuri.gelu %arg0 {approximate = #nuri<gelu tanh>}
// CHECK-NOT: nuri.tanh
func.func @gelu_tanh_megatron(%x: tensor<2x32xf32>) -> tensor<2x32xf32> {
  %half = nuri.constant dense<0.5> : tensor<f32>
  %c = nuri.constant dense<0.044714998> : tensor<f32>
  %k = nuri.constant dense<0.797884583> : tensor<f32>
  %one = nuri.constant dense<1.0> : tensor<f32>
  %h = nuri.mul %x, %half : tensor<2x32xf32>, tensor<f32> -> tensor<2x32xf32>
  %kx = nuri.mul %x, %k : tensor<2x32xf32>, tensor<f32> -> tensor<2x32xf32>
  %cx = nuri.mul %x, %c : tensor<2x32xf32>, tensor<f32> -> tensor<2x32xf32>
  %cxx = nuri.mul %cx, %x : tensor<2x32xf32>, tensor<2x32xf32> -> tensor<2x32xf32>
  %in = nuri.add %cxx, %one : tensor<2x32xf32>, tensor<f32> -> tensor<2x32xf32>
  %arg = nuri.mul %kx, %in : tensor<2x32xf32>, tensor<2x32xf32> -> tensor<2x32xf32>
  %t = nuri.tanh %arg : tensor<2x32xf32>
  %p = nuri.add %t, %one : tensor<2x32xf32>, tensor<f32> -> tensor<2x32xf32>
  %y = nuri.mul %h, %p : tensor<2x32xf32>, tensor<2x32xf32> -> tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}

// -----

// SiLU in both operand orders (LLaMA's SwiGLU gate); the product with `up`
// stays a multiply.
// CHECK-LABEL: func @silu
// CHECK: %[[A:.*]] = nuri.silu %arg0 : tensor<2x64xf32>
// CHECK: %[[B:.*]] = nuri.silu %arg1 : tensor<2x64xf32>
// CHECK: nuri.mul %[[A]], %[[B]]
func.func @silu(%g: tensor<2x64xf32>, %u: tensor<2x64xf32>) -> tensor<2x64xf32> {
  %s = nuri.sigmoid %g : tensor<2x64xf32>
  %a = nuri.mul %g, %s : tensor<2x64xf32>, tensor<2x64xf32> -> tensor<2x64xf32>
  %t = nuri.sigmoid %u : tensor<2x64xf32>
  %b = nuri.mul %t, %u : tensor<2x64xf32>, tensor<2x64xf32> -> tensor<2x64xf32>
  %y = nuri.mul %a, %b : tensor<2x64xf32>, tensor<2x64xf32> -> tensor<2x64xf32>
  return %y : tensor<2x64xf32>
}

// -----

// SiLU with the sigmoid written out: x / (1 + exp(-x)).
// CHECK-LABEL: func @silu_division
// CHECK: %[[Y:.*]] = nuri.silu %arg0 : tensor<2x64xf32>
// CHECK-NEXT: return %[[Y]]
func.func @silu_division(%x: tensor<2x64xf32>) -> tensor<2x64xf32> {
  %one = nuri.constant dense<1.0> : tensor<f32>
  %n = nuri.neg %x : tensor<2x64xf32>
  %e = nuri.exp %n : tensor<2x64xf32>
  %d = nuri.add %one, %e : tensor<f32>, tensor<2x64xf32> -> tensor<2x64xf32>
  %y = nuri.div %x, %d : tensor<2x64xf32>, tensor<2x64xf32> -> tensor<2x64xf32>
  return %y : tensor<2x64xf32>
}

// -----

// Negatives: a 0.25 factor, an erf of x / 2, a tanh with the wrong cubic
// coefficient, and x * sigmoid(z).
// CHECK-LABEL: func @not_activations
// CHECK-NOT: nuri.gelu
// CHECK-NOT: nuri.silu
func.func @not_activations(%x: tensor<8xf32>, %z: tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) {
  %quarter = nuri.constant dense<0.25> : tensor<f32>
  %half = nuri.constant dense<0.5> : tensor<f32>
  %two = nuri.constant dense<2.0> : tensor<f32>
  %sqrt2 = nuri.constant dense<1.41421354> : tensor<f32>
  %one = nuri.constant dense<1.0> : tensor<f32>
  %k = nuri.constant dense<0.797884583> : tensor<f32>
  %c = nuri.constant dense<0.1> : tensor<f32>
  %s = nuri.div %x, %sqrt2 : tensor<8xf32>, tensor<f32> -> tensor<8xf32>
  %e = nuri.erf %s : tensor<8xf32>
  %p = nuri.add %e, %one : tensor<8xf32>, tensor<f32> -> tensor<8xf32>
  %m = nuri.mul %x, %p : tensor<8xf32>, tensor<8xf32> -> tensor<8xf32>
  %y0 = nuri.mul %m, %quarter : tensor<8xf32>, tensor<f32> -> tensor<8xf32>
  %s1 = nuri.div %x, %two : tensor<8xf32>, tensor<f32> -> tensor<8xf32>
  %e1 = nuri.erf %s1 : tensor<8xf32>
  %p1 = nuri.add %e1, %one : tensor<8xf32>, tensor<f32> -> tensor<8xf32>
  %m1 = nuri.mul %x, %p1 : tensor<8xf32>, tensor<8xf32> -> tensor<8xf32>
  %y1 = nuri.mul %m1, %half : tensor<8xf32>, tensor<f32> -> tensor<8xf32>
  %xx = nuri.mul %x, %x : tensor<8xf32>, tensor<8xf32> -> tensor<8xf32>
  %x3 = nuri.mul %xx, %x : tensor<8xf32>, tensor<8xf32> -> tensor<8xf32>
  %cx3 = nuri.mul %x3, %c : tensor<8xf32>, tensor<f32> -> tensor<8xf32>
  %in = nuri.add %x, %cx3 : tensor<8xf32>, tensor<8xf32> -> tensor<8xf32>
  %arg = nuri.mul %in, %k : tensor<8xf32>, tensor<f32> -> tensor<8xf32>
  %t = nuri.tanh %arg : tensor<8xf32>
  %p2 = nuri.add %t, %one : tensor<8xf32>, tensor<f32> -> tensor<8xf32>
  %m2 = nuri.mul %x, %p2 : tensor<8xf32>, tensor<8xf32> -> tensor<8xf32>
  %y2 = nuri.mul %m2, %half : tensor<8xf32>, tensor<f32> -> tensor<8xf32>
  %sig = nuri.sigmoid %z : tensor<8xf32>
  %y3 = nuri.mul %x, %sig : tensor<8xf32>, tensor<8xf32> -> tensor<8xf32>
  return %y0, %y1, %y2, %y3 : tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
}
