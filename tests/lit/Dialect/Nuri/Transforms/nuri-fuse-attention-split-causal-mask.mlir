// RUN: nuri-opt %s --nuri-fuse-attention=split-causal-mask --split-input-file | FileCheck %s

// With split-causal-mask, a causal constant next to a padding mask becomes
// the causal flag and the padding stays the mask: in a Where then Add
// (GPT-2)...
// CHECK-LABEL: func @gpt2_causal_and_padding
// CHECK: nuri.attention %arg0, %arg1, %arg2, %arg3 {causal, scale = 1.000000e+00 : f32}
func.func @gpt2_causal_and_padding(%qh: tensor<2x2x3x4xf32>, %kh: tensor<2x2x3x4xf32>, %vh: tensor<2x2x3x4xf32>, %pad: tensor<2x1x1x3xf32>) -> tensor<2x2x3x4xf32> {
  %tril = nuri.constant dense<[[[[true, false, false], [true, true, false], [true, true, true]]]]> : tensor<1x1x3x3xi1>
  %neg = nuri.constant dense<-1.0e4> : tensor<f32>
  %s = nuri.matmul %qh, %kh {transpose_rhs} : tensor<2x2x3x4xf32>, tensor<2x2x3x4xf32> -> tensor<2x2x3x3xf32>
  %sc = nuri.where %tril, %s, %neg : tensor<1x1x3x3xi1>, tensor<2x2x3x3xf32>, tensor<f32> -> tensor<2x2x3x3xf32>
  %sm = nuri.add %sc, %pad : tensor<2x2x3x3xf32>, tensor<2x1x1x3xf32> -> tensor<2x2x3x3xf32>
  %p = nuri.softmax %sm {axis = 3 : i64} : tensor<2x2x3x3xf32>
  %o = nuri.matmul %p, %vh : tensor<2x2x3x3xf32>, tensor<2x2x3x4xf32> -> tensor<2x2x3x4xf32>
  return %o : tensor<2x2x3x4xf32>
}

// -----

// ...and in an additive mask that already sums them (LLaMA).
// CHECK-LABEL: func @llama_summed
// CHECK: nuri.attention %arg0, %arg1, %arg2, %arg3 {causal, scale = 1.000000e+00 : f32}
func.func @llama_summed(%qh: tensor<1x2x3x4xf32>, %kh: tensor<1x2x3x4xf32>, %vh: tensor<1x2x3x4xf32>, %pad: tensor<1x1x3x3xf32>) -> tensor<1x2x3x4xf32> {
  %causal = nuri.constant dense<[[[[0.0, -3.40282347E+38, -3.40282347E+38], [0.0, 0.0, -3.40282347E+38], [0.0, 0.0, 0.0]]]]> : tensor<1x1x3x3xf32>
  %mask = nuri.add %causal, %pad : tensor<1x1x3x3xf32>, tensor<1x1x3x3xf32> -> tensor<1x1x3x3xf32>
  %s = nuri.matmul %qh, %kh {transpose_rhs} : tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32> -> tensor<1x2x3x3xf32>
  %sm = nuri.add %s, %mask : tensor<1x2x3x3xf32>, tensor<1x1x3x3xf32> -> tensor<1x2x3x3xf32>
  %p = nuri.softmax %sm {axis = 3 : i64} : tensor<1x2x3x3xf32>
  %o = nuri.matmul %p, %vh : tensor<1x2x3x3xf32>, tensor<1x2x3x4xf32> -> tensor<1x2x3x4xf32>
  return %o : tensor<1x2x3x4xf32>
}

// -----

// Negative: a mask that is not causal is no flag, even with the option.
// CHECK-LABEL: func @not_causal
// CHECK: %[[M:.*]] = nuri.add
// CHECK: nuri.attention %arg0, %arg1, %arg2, %[[M]] {scale = 1.000000e+00 : f32}
func.func @not_causal(%qh: tensor<1x2x3x4xf32>, %kh: tensor<1x2x3x4xf32>, %vh: tensor<1x2x3x4xf32>, %pad: tensor<1x1x3x3xf32>) -> tensor<1x2x3x4xf32> {
  %upper = nuri.constant dense<[[[[0.0, 0.0, 0.0], [-3.40282347E+38, 0.0, 0.0], [-3.40282347E+38, -3.40282347E+38, 0.0]]]]> : tensor<1x1x3x3xf32>
  %mask = nuri.add %upper, %pad : tensor<1x1x3x3xf32>, tensor<1x1x3x3xf32> -> tensor<1x1x3x3xf32>
  %s = nuri.matmul %qh, %kh {transpose_rhs} : tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32> -> tensor<1x2x3x3xf32>
  %sm = nuri.add %s, %mask : tensor<1x2x3x3xf32>, tensor<1x1x3x3xf32> -> tensor<1x2x3x3xf32>
  %p = nuri.softmax %sm {axis = 3 : i64} : tensor<1x2x3x3xf32>
  %o = nuri.matmul %p, %vh : tensor<1x2x3x3xf32>, tensor<1x2x3x4xf32> -> tensor<1x2x3x4xf32>
  return %o : tensor<1x2x3x4xf32>
}
