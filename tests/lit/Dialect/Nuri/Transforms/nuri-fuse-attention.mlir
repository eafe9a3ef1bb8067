// RUN: nuri-opt %s --nuri-fuse-attention --split-input-file | FileCheck %s

// BERT as torch exports it (bert-toy, keras2onnx): k^T by the (0, 2, 3, 1)
// permutation of the head-split key, Div by sqrt(d), an additive padding
// mask, Softmax on the last axis.
// CHECK-LABEL: func @bert
// CHECK-SAME: (%[[Q:.*]]: tensor<1x4x16xf32>, %[[K:.*]]: tensor<1x4x16xf32>, %[[V:.*]]: tensor<1x4x16xf32>, %[[M:.*]]: tensor<1x1x1x4xf32>)
// CHECK: %[[QH:.*]] = nuri.transpose %{{.*}} {permutation = array<i64: 0, 2, 1, 3>}
// CHECK: %[[KR:.*]] = nuri.reshape %[[K]]
// CHECK: %[[VH:.*]] = nuri.transpose %{{.*}} {permutation = array<i64: 0, 2, 1, 3>}
// CHECK: %[[KH:.*]] = nuri.transpose %[[KR]] {permutation = array<i64: 0, 2, 1, 3>}
// CHECK: %[[O:.*]] = nuri.attention %[[QH]], %[[KH]], %[[VH]], %[[M]] {scale = 0.353553385 : f32} : (tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x1x1x4xf32>) -> tensor<1x2x4x8xf32>
// CHECK: nuri.transpose %[[O]] {permutation = array<i64: 0, 2, 1, 3>}
// CHECK-NOT: nuri.softmax
func.func @bert(%q: tensor<1x4x16xf32>, %k: tensor<1x4x16xf32>, %v: tensor<1x4x16xf32>, %mask: tensor<1x1x1x4xf32>) -> tensor<1x4x16xf32> {
  %sqrtd = nuri.constant dense<2.82842708> : tensor<f32>
  %q4 = nuri.reshape %q : tensor<1x4x16xf32> -> tensor<1x4x2x8xf32>
  %qh = nuri.transpose %q4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x4x2x8xf32> -> tensor<1x2x4x8xf32>
  %k4 = nuri.reshape %k : tensor<1x4x16xf32> -> tensor<1x4x2x8xf32>
  %v4 = nuri.reshape %v : tensor<1x4x16xf32> -> tensor<1x4x2x8xf32>
  %vh = nuri.transpose %v4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x4x2x8xf32> -> tensor<1x2x4x8xf32>
  %kt = nuri.transpose %k4 {permutation = array<i64: 0, 2, 3, 1>} : tensor<1x4x2x8xf32> -> tensor<1x2x8x4xf32>
  %s = nuri.matmul %qh, %kt : tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32> -> tensor<1x2x4x4xf32>
  %ss = nuri.div %s, %sqrtd : tensor<1x2x4x4xf32>, tensor<f32> -> tensor<1x2x4x4xf32>
  %sm = nuri.add %ss, %mask : tensor<1x2x4x4xf32>, tensor<1x1x1x4xf32> -> tensor<1x2x4x4xf32>
  %p = nuri.softmax %sm {axis = 3 : i64} : tensor<1x2x4x4xf32>
  %o = nuri.matmul %p, %vh : tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>
  %ot = nuri.transpose %o {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x2x4x8xf32> -> tensor<1x4x2x8xf32>
  %y = nuri.reshape %ot : tensor<1x4x2x8xf32> -> tensor<1x4x16xf32>
  return %y : tensor<1x4x16xf32>
}

// -----

// distilbert: the query scaled before the product, masked_fill as
// Where(mask == 0, -inf, scores): the mask keeps where the condition is false.
// CHECK-LABEL: func @distilbert_where_drop
// CHECK: %[[KEEP:.*]] = nuri.not %arg3 : tensor<1x2x4x4xi1>
// CHECK: nuri.attention %arg0, %arg1, %arg2, %[[KEEP]] {scale = 5.000000e-01 : f32}
func.func @distilbert_where_drop(%qh: tensor<1x2x4x8xf32>, %kh: tensor<1x2x4x8xf32>, %vh: tensor<1x2x4x8xf32>, %drop: tensor<1x2x4x4xi1>) -> tensor<1x2x4x8xf32> {
  %two = nuri.constant dense<2.0> : tensor<f32>
  %ninf = nuri.constant dense<0xFF800000> : tensor<f32>
  %qs = nuri.div %qh, %two : tensor<1x2x4x8xf32>, tensor<f32> -> tensor<1x2x4x8xf32>
  %kt = nuri.transpose %kh {permutation = array<i64: 0, 1, 3, 2>} : tensor<1x2x4x8xf32> -> tensor<1x2x8x4xf32>
  %s = nuri.matmul %qs, %kt : tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32> -> tensor<1x2x4x4xf32>
  %sm = nuri.where %drop, %ninf, %s : tensor<1x2x4x4xi1>, tensor<f32>, tensor<1x2x4x4xf32> -> tensor<1x2x4x4xf32>
  %p = nuri.softmax %sm {axis = 3 : i64} : tensor<1x2x4x4xf32>
  %o = nuri.matmul %p, %vh : tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

// ViT: no mask, and the key of a transpose_rhs matmul needs no transpose.
// CHECK-LABEL: func @vit_transpose_rhs
// CHECK: %[[O:.*]] = nuri.attention %arg0, %arg1, %arg2 {scale = 1.250000e-01 : f32} : (tensor<2x3x5x64xf32>, tensor<2x3x5x64xf32>, tensor<2x3x5x64xf32>) -> tensor<2x3x5x64xf32>
// CHECK-NEXT: return %[[O]]
func.func @vit_transpose_rhs(%qh: tensor<2x3x5x64xf32>, %kh: tensor<2x3x5x64xf32>, %vh: tensor<2x3x5x64xf32>) -> tensor<2x3x5x64xf32> {
  %c = nuri.constant dense<0.125> : tensor<f32>
  %s = nuri.matmul %qh, %kh {transpose_rhs} : tensor<2x3x5x64xf32>, tensor<2x3x5x64xf32> -> tensor<2x3x5x5xf32>
  %ss = nuri.mul %c, %s : tensor<f32>, tensor<2x3x5x5xf32> -> tensor<2x3x5x5xf32>
  %p = nuri.softmax %ss {axis = 3 : i64} : tensor<2x3x5x5xf32>
  %o = nuri.matmul %p, %vh : tensor<2x3x5x5xf32>, tensor<2x3x5x64xf32> -> tensor<2x3x5x64xf32>
  return %o : tensor<2x3x5x64xf32>
}

// -----

// Whisper encoder (bmm style): the query is scaled before the head split,
// batch and heads merge into [b * h, s, d] and the key is transposed in 3-D.
// The fused op reads the 4-D values and the scale moves into it.
// CHECK-LABEL: func @whisper_bmm
// CHECK-SAME: (%[[Q:[^:]*]]: tensor<1x4x16xf32>,
// CHECK: %[[QR:.*]] = nuri.reshape %[[Q]] : tensor<1x4x16xf32> -> tensor<1x4x2x8xf32>
// CHECK: %[[QH:.*]] = nuri.transpose %[[QR]]
// CHECK: %[[O:.*]] = nuri.attention %[[QH]], %[[KH:.*]], %[[VH:.*]] {scale = 0.353553385 : f32} : (tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
// CHECK: nuri.reshape %[[O]] : tensor<1x2x4x8xf32> -> tensor<2x4x8xf32>
// CHECK-NOT: nuri.mul
// CHECK-NOT: nuri.matmul
func.func @whisper_bmm(%q: tensor<1x4x16xf32>, %k: tensor<1x4x16xf32>, %v: tensor<1x4x16xf32>) -> tensor<2x4x8xf32> {
  %c = nuri.constant dense<0.353553385> : tensor<f32>
  %qs = nuri.mul %q, %c : tensor<1x4x16xf32>, tensor<f32> -> tensor<1x4x16xf32>
  %q4 = nuri.reshape %qs : tensor<1x4x16xf32> -> tensor<1x4x2x8xf32>
  %qh = nuri.transpose %q4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x4x2x8xf32> -> tensor<1x2x4x8xf32>
  %q3 = nuri.reshape %qh : tensor<1x2x4x8xf32> -> tensor<2x4x8xf32>
  %k4 = nuri.reshape %k : tensor<1x4x16xf32> -> tensor<1x4x2x8xf32>
  %kh = nuri.transpose %k4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x4x2x8xf32> -> tensor<1x2x4x8xf32>
  %k3 = nuri.reshape %kh : tensor<1x2x4x8xf32> -> tensor<2x4x8xf32>
  %v4 = nuri.reshape %v : tensor<1x4x16xf32> -> tensor<1x4x2x8xf32>
  %vh = nuri.transpose %v4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x4x2x8xf32> -> tensor<1x2x4x8xf32>
  %v3 = nuri.reshape %vh : tensor<1x2x4x8xf32> -> tensor<2x4x8xf32>
  %kt = nuri.transpose %k3 {permutation = array<i64: 0, 2, 1>} : tensor<2x4x8xf32> -> tensor<2x8x4xf32>
  %s = nuri.matmul %q3, %kt : tensor<2x4x8xf32>, tensor<2x8x4xf32> -> tensor<2x4x4xf32>
  %p = nuri.softmax %s {axis = 2 : i64} : tensor<2x4x4xf32>
  %o = nuri.matmul %p, %v3 : tensor<2x4x4xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  return %o : tensor<2x4x8xf32>
}

// -----

// Whisper decoder: the 3-D scores go back to 4-D for a constant causal mask
// (0 / float lowest) and to 3-D for the softmax. The mask becomes `causal`.
// CHECK-LABEL: func @whisper_causal
// CHECK: nuri.attention %arg0, %arg1, %arg2 {causal, scale = 1.000000e+00 : f32} : (tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>) -> tensor<1x2x3x8xf32>
// CHECK-NOT: nuri.add
func.func @whisper_causal(%qh: tensor<1x2x3x8xf32>, %kh: tensor<1x2x3x8xf32>, %vh: tensor<1x2x3x8xf32>) -> tensor<2x3x8xf32> {
  %mask = nuri.constant dense<[[[[0.0, -3.40282347E+38, -3.40282347E+38], [0.0, 0.0, -3.40282347E+38], [0.0, 0.0, 0.0]]]]> : tensor<1x1x3x3xf32>
  %q3 = nuri.reshape %qh : tensor<1x2x3x8xf32> -> tensor<2x3x8xf32>
  %k3 = nuri.reshape %kh : tensor<1x2x3x8xf32> -> tensor<2x3x8xf32>
  %v3 = nuri.reshape %vh : tensor<1x2x3x8xf32> -> tensor<2x3x8xf32>
  %kt = nuri.transpose %k3 {permutation = array<i64: 0, 2, 1>} : tensor<2x3x8xf32> -> tensor<2x8x3xf32>
  %s = nuri.matmul %q3, %kt : tensor<2x3x8xf32>, tensor<2x8x3xf32> -> tensor<2x3x3xf32>
  %s4 = nuri.reshape %s : tensor<2x3x3xf32> -> tensor<1x2x3x3xf32>
  %sm = nuri.add %s4, %mask : tensor<1x2x3x3xf32>, tensor<1x1x3x3xf32> -> tensor<1x2x3x3xf32>
  %s3 = nuri.reshape %sm : tensor<1x2x3x3xf32> -> tensor<2x3x3xf32>
  %p = nuri.softmax %s3 {axis = 2 : i64} : tensor<2x3x3xf32>
  %o = nuri.matmul %p, %v3 : tensor<2x3x3xf32>, tensor<2x3x8xf32> -> tensor<2x3x8xf32>
  return %o : tensor<2x3x8xf32>
}

// -----

// LLaMA: grouped-query key/value repeated from 2 to 4 heads by
// Unsqueeze/Expand/Reshape, and HF's mask = causal constant + padding mask.
// The fused op reads the 2-head key/value. The mask stays whole: for a query
// at a left-padded position every key is masked, and there the sum of two
// finfo.min masks is not the causal flag's -inf.
// CHECK-LABEL: func @llama_gqa
// CHECK-SAME: (%[[Q:.*]]: tensor<1x4x3x8xf32>, %[[K:.*]]: tensor<1x2x3x8xf32>, %[[V:.*]]: tensor<1x2x3x8xf32>, %[[PAD:.*]]: tensor<1x1x3x3xf32>)
// CHECK: %[[MASK:.*]] = nuri.add {{.*}}%[[PAD]]
// CHECK: nuri.attention %[[Q]], %[[K]], %[[V]], %[[MASK]] {scale = 0.353553385 : f32} : (tensor<1x4x3x8xf32>, tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>, tensor<1x1x3x3xf32>) -> tensor<1x4x3x8xf32>
func.func @llama_gqa(%q: tensor<1x4x3x8xf32>, %k: tensor<1x2x3x8xf32>, %v: tensor<1x2x3x8xf32>, %pad: tensor<1x1x3x3xf32>) -> tensor<1x4x3x8xf32> {
  %causal = nuri.constant dense<[[[[0.0, -3.40282347E+38, -3.40282347E+38], [0.0, 0.0, -3.40282347E+38], [0.0, 0.0, 0.0]]]]> : tensor<1x1x3x3xf32>
  %sqrtd = nuri.constant dense<2.82842708> : tensor<f32>
  %mask = nuri.add %causal, %pad : tensor<1x1x3x3xf32>, tensor<1x1x3x3xf32> -> tensor<1x1x3x3xf32>
  %k5 = nuri.reshape %k : tensor<1x2x3x8xf32> -> tensor<1x2x1x3x8xf32>
  %ke = nuri.broadcast_to %k5 : tensor<1x2x1x3x8xf32> -> tensor<1x2x2x3x8xf32>
  %kr = nuri.reshape %ke : tensor<1x2x2x3x8xf32> -> tensor<1x4x3x8xf32>
  %v5 = nuri.reshape %v : tensor<1x2x3x8xf32> -> tensor<1x2x1x3x8xf32>
  %ve = nuri.broadcast_to %v5 : tensor<1x2x1x3x8xf32> -> tensor<1x2x2x3x8xf32>
  %vr = nuri.reshape %ve : tensor<1x2x2x3x8xf32> -> tensor<1x4x3x8xf32>
  %kt = nuri.transpose %kr {permutation = array<i64: 0, 1, 3, 2>} : tensor<1x4x3x8xf32> -> tensor<1x4x8x3xf32>
  %s = nuri.matmul %q, %kt : tensor<1x4x3x8xf32>, tensor<1x4x8x3xf32> -> tensor<1x4x3x3xf32>
  %ss = nuri.div %s, %sqrtd : tensor<1x4x3x3xf32>, tensor<f32> -> tensor<1x4x3x3xf32>
  %sm = nuri.add %ss, %mask : tensor<1x4x3x3xf32>, tensor<1x1x3x3xf32> -> tensor<1x4x3x3xf32>
  %p = nuri.softmax %sm {axis = 3 : i64} : tensor<1x4x3x3xf32>
  %o = nuri.matmul %p, %vr : tensor<1x4x3x3xf32>, tensor<1x4x3x8xf32> -> tensor<1x4x3x8xf32>
  return %o : tensor<1x4x3x8xf32>
}

// -----

// GPT-2 decoding one token with a KV cache: k^T is the concatenation of the
// cached and the new transposed keys, the causal mask is a boolean slice of
// the `attn.bias` buffer (all true for the last query) used as
// Where(mask, scores, -1e4).
// CHECK-LABEL: func @gpt2_past
// CHECK: %[[KT:.*]] = nuri.concat
// CHECK: %[[K:.*]] = nuri.transpose %[[KT]] {permutation = array<i64: 0, 1, 3, 2>} : tensor<1x2x2x3xf32> -> tensor<1x2x3x2xf32>
// CHECK: nuri.attention %arg0, %[[K]], %arg3 {scale = 0.707106769 : f32} : (tensor<1x2x1x2xf32>, tensor<1x2x3x2xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x1x2xf32>
func.func @gpt2_past(%qh: tensor<1x2x1x2xf32>, %pastkt: tensor<1x2x2x2xf32>, %knewt: tensor<1x2x2x1xf32>, %v: tensor<1x2x3x2xf32>) -> tensor<1x2x1x2xf32> {
  %bias = nuri.constant dense<true> : tensor<1x1x1x3xi1>
  %neg = nuri.constant dense<-1.0e4> : tensor<f32>
  %sqrtd = nuri.constant dense<1.41421354> : tensor<f32>
  %kt = nuri.concat %pastkt, %knewt {axis = 3 : i64} : (tensor<1x2x2x2xf32>, tensor<1x2x2x1xf32>) -> tensor<1x2x2x3xf32>
  %s = nuri.matmul %qh, %kt : tensor<1x2x1x2xf32>, tensor<1x2x2x3xf32> -> tensor<1x2x1x3xf32>
  %ss = nuri.div %s, %sqrtd : tensor<1x2x1x3xf32>, tensor<f32> -> tensor<1x2x1x3xf32>
  %sm = nuri.where %bias, %ss, %neg : tensor<1x1x1x3xi1>, tensor<1x2x1x3xf32>, tensor<f32> -> tensor<1x2x1x3xf32>
  %p = nuri.softmax %sm {axis = 3 : i64} : tensor<1x2x1x3xf32>
  %o = nuri.matmul %p, %v : tensor<1x2x1x3xf32>, tensor<1x2x3x2xf32> -> tensor<1x2x1x2xf32>
  return %o : tensor<1x2x1x2xf32>
}

// -----

// GPT-2 with a padding mask (Hugging Face): Where(causal, scores, -1e4),
// then + padding. The two become one additive mask, where(causal, 0, -1e4)
// folded to a constant plus the padding.
// CHECK-LABEL: func @gpt2_causal_and_padding
// CHECK: %[[C:.*]] = nuri.constant dense<{{\[\[\[\[}}0.000000e+00, -1.000000e+04, -1.000000e+04], [0.000000e+00, 0.000000e+00, -1.000000e+04], [0.000000e+00, 0.000000e+00, 0.000000e+00]]]]> : tensor<1x1x3x3xf32>
// CHECK: %[[M:.*]] = nuri.add %arg3, %[[C]] : tensor<2x1x1x3xf32>, tensor<1x1x3x3xf32> -> tensor<2x1x3x3xf32>
// CHECK: nuri.attention %arg0, %arg1, %arg2, %[[M]] {scale = 1.000000e+00 : f32}
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

// GPT-2 prefill: the lower-triangular boolean slice is the causal flag.
// CHECK-LABEL: func @gpt2_causal_where
// CHECK: nuri.attention %arg0, %arg1, %arg2 {causal, scale = 1.000000e+00 : f32}
func.func @gpt2_causal_where(%qh: tensor<1x2x3x4xf32>, %kh: tensor<1x2x3x4xf32>, %vh: tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32> {
  %tril = nuri.constant dense<[[[[true, false, false], [true, true, false], [true, true, true]]]]> : tensor<1x1x3x3xi1>
  %neg = nuri.constant dense<-1.0e4> : tensor<f32>
  %s = nuri.matmul %qh, %kh {transpose_rhs} : tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32> -> tensor<1x2x3x3xf32>
  %sm = nuri.where %tril, %s, %neg : tensor<1x1x3x3xi1>, tensor<1x2x3x3xf32>, tensor<f32> -> tensor<1x2x3x3xf32>
  %p = nuri.softmax %sm {axis = 3 : i64} : tensor<1x2x3x3xf32>
  %o = nuri.matmul %p, %vh : tensor<1x2x3x3xf32>, tensor<1x2x3x4xf32> -> tensor<1x2x3x4xf32>
  return %o : tensor<1x2x3x4xf32>
}

// -----

// Megatron: sqrt(scale) split over q and k^T, and the 0/1 float mask applied
// as scores * m - 10000 * (1 - m).
// CHECK-LABEL: func @megatron
// CHECK: %[[ZERO:.*]] = nuri.constant dense<0.000000e+00> : tensor<f32>
// CHECK: %[[KEEP:.*]] = nuri.compare ne, %arg3, %[[ZERO]] : tensor<1x1x2x2xf32>, tensor<f32> -> tensor<1x1x2x2xi1>
// CHECK: nuri.attention %arg0, %arg1, %arg2, %[[KEEP]] {scale = 0.49999997 : f32}
func.func @megatron(%qh: tensor<1x2x2x4xf32>, %kh: tensor<1x2x2x4xf32>, %vh: tensor<1x2x2x4xf32>, %m: tensor<1x1x2x2xf32>) -> tensor<1x2x2x4xf32> {
  %r = nuri.constant dense<1.41421354> : tensor<f32>
  %one = nuri.constant dense<1.0> : tensor<f32>
  %big = nuri.constant dense<1.0e4> : tensor<f32>
  %qs = nuri.div %qh, %r : tensor<1x2x2x4xf32>, tensor<f32> -> tensor<1x2x2x4xf32>
  %kt = nuri.transpose %kh {permutation = array<i64: 0, 1, 3, 2>} : tensor<1x2x2x4xf32> -> tensor<1x2x4x2xf32>
  %ks = nuri.div %kt, %r : tensor<1x2x4x2xf32>, tensor<f32> -> tensor<1x2x4x2xf32>
  %s = nuri.matmul %qs, %ks : tensor<1x2x2x4xf32>, tensor<1x2x4x2xf32> -> tensor<1x2x2x2xf32>
  %sm1 = nuri.mul %s, %m : tensor<1x2x2x2xf32>, tensor<1x1x2x2xf32> -> tensor<1x2x2x2xf32>
  %inv = nuri.sub %one, %m : tensor<f32>, tensor<1x1x2x2xf32> -> tensor<1x1x2x2xf32>
  %pen = nuri.mul %inv, %big : tensor<1x1x2x2xf32>, tensor<f32> -> tensor<1x1x2x2xf32>
  %sm = nuri.sub %sm1, %pen : tensor<1x2x2x2xf32>, tensor<1x1x2x2xf32> -> tensor<1x2x2x2xf32>
  %p = nuri.softmax %sm {axis = 3 : i64} : tensor<1x2x2x2xf32>
  %o = nuri.matmul %p, %vh : tensor<1x2x2x2xf32>, tensor<1x2x2x4xf32> -> tensor<1x2x2x4xf32>
  return %o : tensor<1x2x2x4xf32>
}

// -----

// A lower-triangular mask with fewer keys than queries masks whole rows; it
// stays a mask rather than becoming the causal flag.
// CHECK-LABEL: func @causal_fewer_keys
// CHECK: nuri.attention %arg0, %arg1, %arg2, %{{.*}} {scale = 1.000000e+00 : f32}
func.func @causal_fewer_keys(%qh: tensor<1x1x3x4xf32>, %kh: tensor<1x1x2x4xf32>, %vh: tensor<1x1x2x4xf32>) -> tensor<1x1x3x4xf32> {
  %tril = nuri.constant dense<[[[[false, false], [true, false], [true, true]]]]> : tensor<1x1x3x2xi1>
  %neg = nuri.constant dense<-1.0e4> : tensor<f32>
  %s = nuri.matmul %qh, %kh {transpose_rhs} : tensor<1x1x3x4xf32>, tensor<1x1x2x4xf32> -> tensor<1x1x3x2xf32>
  %sm = nuri.where %tril, %s, %neg : tensor<1x1x3x2xi1>, tensor<1x1x3x2xf32>, tensor<f32> -> tensor<1x1x3x2xf32>
  %p = nuri.softmax %sm {axis = 3 : i64} : tensor<1x1x3x2xf32>
  %o = nuri.matmul %p, %vh : tensor<1x1x3x2xf32>, tensor<1x1x2x4xf32> -> tensor<1x1x3x4xf32>
  return %o : tensor<1x1x3x4xf32>
}

// -----

// A constant additive bias that is not a 0/-inf mask (ALiBi-like) stays the
// mask operand; an all-zero one is dropped.
// CHECK-LABEL: func @constant_masks
// CHECK: %[[BIAS:.*]] = nuri.constant dense<{{.*}}> : tensor<1x1x2x2xf32>
// CHECK: nuri.attention %arg0, %arg1, %arg2, %[[BIAS]] {scale = 1.000000e+00 : f32}
// CHECK: nuri.attention %arg0, %arg1, %arg2 {scale = 1.000000e+00 : f32}
func.func @constant_masks(%qh: tensor<1x2x2x4xf32>, %kh: tensor<1x2x2x4xf32>, %vh: tensor<1x2x2x4xf32>) -> (tensor<1x2x2x4xf32>, tensor<1x2x2x4xf32>) {
  %bias = nuri.constant dense<[[[[0.0, -1.0], [-1.0, 0.0]]]]> : tensor<1x1x2x2xf32>
  %zero = nuri.constant dense<0.0> : tensor<1x1x1x2xf32>
  %s = nuri.matmul %qh, %kh {transpose_rhs} : tensor<1x2x2x4xf32>, tensor<1x2x2x4xf32> -> tensor<1x2x2x2xf32>
  %sm = nuri.add %s, %bias : tensor<1x2x2x2xf32>, tensor<1x1x2x2xf32> -> tensor<1x2x2x2xf32>
  %p = nuri.softmax %sm {axis = 3 : i64} : tensor<1x2x2x2xf32>
  %o = nuri.matmul %p, %vh : tensor<1x2x2x2xf32>, tensor<1x2x2x4xf32> -> tensor<1x2x2x4xf32>
  %s2 = nuri.matmul %qh, %kh {transpose_rhs} : tensor<1x2x2x4xf32>, tensor<1x2x2x4xf32> -> tensor<1x2x2x2xf32>
  %sm2 = nuri.add %zero, %s2 : tensor<1x1x1x2xf32>, tensor<1x2x2x2xf32> -> tensor<1x2x2x2xf32>
  %p2 = nuri.softmax %sm2 {axis = 3 : i64} : tensor<1x2x2x2xf32>
  %o2 = nuri.matmul %p2, %vh : tensor<1x2x2x2xf32>, tensor<1x2x2x4xf32> -> tensor<1x2x2x4xf32>
  return %o, %o2 : tensor<1x2x2x4xf32>, tensor<1x2x2x4xf32>
}

// -----

// Negatives: softmax over a non-last axis, probabilities used twice (an
// `output_attentions` model), a Where whose fill is not a large negative,
// and a product with a constant (a layer, not attention).
// CHECK-LABEL: func @not_attention
// CHECK-NOT: nuri.attention
func.func @not_attention(%qh: tensor<1x2x4x4xf32>, %kh: tensor<1x2x4x4xf32>, %vh: tensor<1x2x4x4xf32>, %c: tensor<1x2x4x4xi1>) -> (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) {
  %w = nuri.constant dense<0.5> : tensor<4x4xf32>
  %zero = nuri.constant dense<0.0> : tensor<f32>
  %s0 = nuri.matmul %qh, %kh {transpose_rhs} : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32> -> tensor<1x2x4x4xf32>
  %p0 = nuri.softmax %s0 {axis = 2 : i64} : tensor<1x2x4x4xf32>
  %o0 = nuri.matmul %p0, %vh : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32> -> tensor<1x2x4x4xf32>
  %s1 = nuri.matmul %qh, %kh {transpose_rhs} : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32> -> tensor<1x2x4x4xf32>
  %p1 = nuri.softmax %s1 {axis = 3 : i64} : tensor<1x2x4x4xf32>
  %o1 = nuri.matmul %p1, %vh : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32> -> tensor<1x2x4x4xf32>
  %s2 = nuri.matmul %qh, %kh {transpose_rhs} : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32> -> tensor<1x2x4x4xf32>
  %f2 = nuri.where %c, %s2, %zero : tensor<1x2x4x4xi1>, tensor<1x2x4x4xf32>, tensor<f32> -> tensor<1x2x4x4xf32>
  %p2 = nuri.softmax %f2 {axis = 3 : i64} : tensor<1x2x4x4xf32>
  %o2 = nuri.matmul %p2, %vh : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32> -> tensor<1x2x4x4xf32>
  %s3 = nuri.matmul %qh, %w : tensor<1x2x4x4xf32>, tensor<4x4xf32> -> tensor<1x2x4x4xf32>
  %p3 = nuri.softmax %s3 {axis = 3 : i64} : tensor<1x2x4x4xf32>
  %o3 = nuri.matmul %p3, %vh : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32> -> tensor<1x2x4x4xf32>
  return %o0, %o1, %p1, %o2, %o3 : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>
}
