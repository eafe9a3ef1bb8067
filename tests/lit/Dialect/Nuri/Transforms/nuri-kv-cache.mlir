// RUN: nuri-opt %s --nuri-kv-cache="slots=4 max-seq=16" -split-input-file | FileCheck %s

// A decode step (past 3, one new token): the caches become state read and
// written in place, attention reads the cache's first 4 positions.
// CHECK-LABEL: func.func @main
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<2x2x1x8xf32>
// CHECK-SAME: %[[KC:[a-z0-9]+]]: tensor<4x2x16x8xf32> {nuri.name = "past_key_values.0.key", nuri.state = "past_key_values.0.key"}
// CHECK-SAME: %[[VC:[a-z0-9]+]]: tensor<4x2x16x8xf32> {nuri.name = "past_key_values.0.value", nuri.state = "past_key_values.0.value"}
// CHECK-SAME: %[[SLOTS:[a-z0-9]+]]: tensor<2xi64> {nuri.name = "kv_slots"}
// CHECK-SAME: %[[POS:[a-z0-9]+]]: tensor<2xi64> {nuri.name = "kv_positions"}
// CHECK-SAME: -> (tensor<2x2x1x8xf32> {nuri.name = "out"}, tensor<4x2x16x8xf32> {nuri.name = "present.0.key", nuri.state = "past_key_values.0.key"}
// CHECK: %[[WK:.*]] = nuri.cache_write %[[KC]], %{{.*}}, %[[SLOTS]], %[[POS]]
// CHECK: %[[WV:.*]] = nuri.cache_write %[[VC]], %{{.*}}, %[[SLOTS]], %[[POS]]
// CHECK: %[[O:.*]] = nuri.cache_attention %[[Q]], %[[WK]], %[[WV]], %[[SLOTS]], %{{.*}} {context_length = 4 : i64, scale = 2.500000e-01 : f32}
// CHECK-NOT: nuri.concat
// CHECK: return %[[O]], %[[WK]], %[[WV]]
func.func @main(%q: tensor<2x2x1x8xf32> {nuri.name = "q"},
                %pk: tensor<2x2x3x8xf32> {nuri.name = "past_key_values.0.key"},
                %pv: tensor<2x2x3x8xf32> {nuri.name = "past_key_values.0.value"},
                %k: tensor<2x2x1x8xf32> {nuri.name = "k"},
                %v: tensor<2x2x1x8xf32> {nuri.name = "v"},
                %mask: tensor<2x1x1x4xf32> {nuri.name = "mask"})
    -> (tensor<2x2x1x8xf32> {nuri.name = "out"},
        tensor<2x2x4x8xf32> {nuri.name = "present.0.key"},
        tensor<2x2x4x8xf32> {nuri.name = "present.0.value"}) {
  %ck = nuri.concat %pk, %k {axis = 2 : i64} : (tensor<2x2x3x8xf32>, tensor<2x2x1x8xf32>) -> tensor<2x2x4x8xf32>
  %cv = nuri.concat %pv, %v {axis = 2 : i64} : (tensor<2x2x3x8xf32>, tensor<2x2x1x8xf32>) -> tensor<2x2x4x8xf32>
  %o = nuri.attention %q, %ck, %cv, %mask {scale = 0.25 : f32} : (tensor<2x2x1x8xf32>, tensor<2x2x4x8xf32>, tensor<2x2x4x8xf32>, tensor<2x1x1x4xf32>) -> tensor<2x2x1x8xf32>
  return %o, %ck, %cv : tensor<2x2x1x8xf32>, tensor<2x2x4x8xf32>, tensor<2x2x4x8xf32>
}

// -----

// A boolean mask (Megatron's, true = attend) becomes the additive float mask
// the NPU's cache attention takes: (float(mask) - 1) * 1e30.
// CHECK-LABEL: func.func @main
// CHECK: %[[F:.*]] = nuri.cast %{{.*}} : tensor<2x1x1x4xi1> -> tensor<2x1x1x4xf32>
// CHECK: %[[ONE:.*]] = nuri.constant dense<1.000000e+00> : tensor<f32>
// CHECK: %[[S:.*]] = nuri.sub %[[F]], %[[ONE]]
// CHECK: %[[BIG:.*]] = nuri.constant dense<1.000000e+30> : tensor<f32>
// CHECK: %[[M:.*]] = nuri.mul %[[S]], %[[BIG]]
// CHECK: nuri.cache_attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[M]] {context_length = 4 : i64
func.func @main(%q: tensor<2x2x1x8xf32> {nuri.name = "q"},
                %pk: tensor<2x2x3x8xf32> {nuri.name = "past_key_values.0.key"},
                %pv: tensor<2x2x3x8xf32> {nuri.name = "past_key_values.0.value"},
                %k: tensor<2x2x1x8xf32> {nuri.name = "k"},
                %v: tensor<2x2x1x8xf32> {nuri.name = "v"},
                %mask: tensor<2x1x1x4xi1> {nuri.name = "mask"})
    -> (tensor<2x2x1x8xf32> {nuri.name = "out"},
        tensor<2x2x4x8xf32> {nuri.name = "present.0.key"},
        tensor<2x2x4x8xf32> {nuri.name = "present.0.value"}) {
  %ck = nuri.concat %pk, %k {axis = 2 : i64} : (tensor<2x2x3x8xf32>, tensor<2x2x1x8xf32>) -> tensor<2x2x4x8xf32>
  %cv = nuri.concat %pv, %v {axis = 2 : i64} : (tensor<2x2x3x8xf32>, tensor<2x2x1x8xf32>) -> tensor<2x2x4x8xf32>
  %o = nuri.attention %q, %ck, %cv, %mask {scale = 0.25 : f32} : (tensor<2x2x1x8xf32>, tensor<2x2x4x8xf32>, tensor<2x2x4x8xf32>, tensor<2x1x1x4xi1>) -> tensor<2x2x1x8xf32>
  return %o, %ck, %cv : tensor<2x2x1x8xf32>, tensor<2x2x4x8xf32>, tensor<2x2x4x8xf32>
}

// -----

// A prefill from an empty cache: the new rows are written, attention keeps
// reading them directly (causal over the prompt).
// CHECK-LABEL: func.func @main
// CHECK: %[[WK:.*]] = nuri.cache_write
// CHECK: %[[WV:.*]] = nuri.cache_write
// CHECK: nuri.attention %{{.*}}, %[[K:[a-z0-9]+]], %[[V:[a-z0-9]+]] {causal, scale = 2.500000e-01 : f32} : (tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>)
// CHECK-NOT: nuri.cache_attention
// CHECK: return %{{.*}}, %[[WK]], %[[WV]]
func.func @main(%q: tensor<1x2x5x8xf32> {nuri.name = "q"},
                %pk: tensor<1x2x0x8xf32> {nuri.name = "past_key_values.0.key"},
                %pv: tensor<1x2x0x8xf32> {nuri.name = "past_key_values.0.value"},
                %k: tensor<1x2x5x8xf32> {nuri.name = "k"},
                %v: tensor<1x2x5x8xf32> {nuri.name = "v"})
    -> (tensor<1x2x5x8xf32> {nuri.name = "out"},
        tensor<1x2x5x8xf32> {nuri.name = "present.0.key"},
        tensor<1x2x5x8xf32> {nuri.name = "present.0.value"}) {
  %ck = nuri.concat %pk, %k {axis = 2 : i64} : (tensor<1x2x0x8xf32>, tensor<1x2x5x8xf32>) -> tensor<1x2x5x8xf32>
  %cv = nuri.concat %pv, %v {axis = 2 : i64} : (tensor<1x2x0x8xf32>, tensor<1x2x5x8xf32>) -> tensor<1x2x5x8xf32>
  %o = nuri.attention %q, %ck, %cv {causal, scale = 0.25 : f32} : (tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>) -> tensor<1x2x5x8xf32>
  return %o, %ck, %cv : tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>
}

// -----

// Keys and values stacked in one past [2, B, H, P, D] (ORT's fused
// Attention, the older past_N exports): one state per half, the stacked
// input gone, the present result split into the two caches.
// CHECK-LABEL: func.func @main
// CHECK-NOT: tensor<2x1x2x3x8xf32>
// CHECK-SAME: %[[KC:[a-z0-9]+]]: tensor<4x2x16x8xf32> {nuri.name = "past_0.key", nuri.state = "past_0.key"}
// CHECK-SAME: %[[VC:[a-z0-9]+]]: tensor<4x2x16x8xf32> {nuri.name = "past_0.value", nuri.state = "past_0.value"}
// CHECK-SAME: -> (tensor<1x2x1x8xf32> {nuri.name = "out"}, tensor<4x2x16x8xf32> {nuri.name = "present_0.key", nuri.state = "past_0.key"}, tensor<4x2x16x8xf32> {nuri.name = "present_0.value", nuri.state = "past_0.value"})
// CHECK: %[[WK:.*]] = nuri.cache_write %[[KC]]
// CHECK: %[[WV:.*]] = nuri.cache_write %[[VC]]
// CHECK: %[[O:.*]] = nuri.cache_attention %{{.*}}, %[[WK]], %[[WV]], %{{.*}} {causal, context_length = 4 : i64
// CHECK-NOT: nuri.slice
// CHECK: return %[[O]], %[[WK]], %[[WV]]
func.func @main(%q: tensor<1x2x1x8xf32> {nuri.name = "q"},
                %past: tensor<2x1x2x3x8xf32> {nuri.name = "past_0"},
                %k: tensor<1x2x1x8xf32> {nuri.name = "k"},
                %v: tensor<1x2x1x8xf32> {nuri.name = "v"})
    -> (tensor<1x2x1x8xf32> {nuri.name = "out"},
        tensor<2x1x2x4x8xf32> {nuri.name = "present_0"}) {
  %s0 = nuri.slice %past {limits = array<i64: 1, 1, 2, 3, 8>, starts = array<i64: 0, 0, 0, 0, 0>, steps = array<i64: 1, 1, 1, 1, 1>} : tensor<2x1x2x3x8xf32> -> tensor<1x1x2x3x8xf32>
  %pk = nuri.reshape %s0 : tensor<1x1x2x3x8xf32> -> tensor<1x2x3x8xf32>
  %s1 = nuri.slice %past {limits = array<i64: 2, 1, 2, 3, 8>, starts = array<i64: 1, 0, 0, 0, 0>, steps = array<i64: 1, 1, 1, 1, 1>} : tensor<2x1x2x3x8xf32> -> tensor<1x1x2x3x8xf32>
  %pv = nuri.reshape %s1 : tensor<1x1x2x3x8xf32> -> tensor<1x2x3x8xf32>
  %ck = nuri.concat %pk, %k {axis = 2 : i64} : (tensor<1x2x3x8xf32>, tensor<1x2x1x8xf32>) -> tensor<1x2x4x8xf32>
  %cv = nuri.concat %pv, %v {axis = 2 : i64} : (tensor<1x2x3x8xf32>, tensor<1x2x1x8xf32>) -> tensor<1x2x4x8xf32>
  %o = nuri.attention %q, %ck, %cv {causal, scale = 0.25 : f32} : (tensor<1x2x1x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x1x8xf32>
  %k5 = nuri.reshape %ck : tensor<1x2x4x8xf32> -> tensor<1x1x2x4x8xf32>
  %v5 = nuri.reshape %cv : tensor<1x2x4x8xf32> -> tensor<1x1x2x4x8xf32>
  %present = nuri.concat %k5, %v5 {axis = 0 : i64} : (tensor<1x1x2x4x8xf32>, tensor<1x1x2x4x8xf32>) -> tensor<2x1x2x4x8xf32>
  return %o, %present : tensor<1x2x1x8xf32>, tensor<2x1x2x4x8xf32>
}

// -----

// Megatron (torch 1.9) reads the stacked past with Split and Squeeze: the
// same two states, the split and the stacked input gone.
// CHECK-LABEL: func.func @main
// CHECK-NOT: tensor<2x1x2x3x8xf32>
// CHECK-SAME: %[[KC:[a-z0-9]+]]: tensor<4x2x16x8xf32> {nuri.name = "past_0.key", nuri.state = "past_0.key"}
// CHECK-SAME: %[[VC:[a-z0-9]+]]: tensor<4x2x16x8xf32> {nuri.name = "past_0.value", nuri.state = "past_0.value"}
// CHECK-NOT: nuri.split
// CHECK: %[[WK:.*]] = nuri.cache_write %[[KC]]
// CHECK: %[[WV:.*]] = nuri.cache_write %[[VC]]
// CHECK: %[[O:.*]] = nuri.cache_attention %{{.*}}, %[[WK]], %[[WV]], %{{.*}} {context_length = 4 : i64
// CHECK: return %[[O]], %[[WK]], %[[WV]]
func.func @main(%q: tensor<1x2x1x8xf32> {nuri.name = "q"},
                %past: tensor<2x1x2x3x8xf32> {nuri.name = "past_0"},
                %k: tensor<1x2x1x8xf32> {nuri.name = "k"},
                %v: tensor<1x2x1x8xf32> {nuri.name = "v"})
    -> (tensor<1x2x1x8xf32> {nuri.name = "out"},
        tensor<2x1x2x4x8xf32> {nuri.name = "present_0"}) {
  %s:2 = nuri.split %past {axis = 0 : i64, sizes = array<i64: 1, 1>} : tensor<2x1x2x3x8xf32> -> tensor<1x1x2x3x8xf32>, tensor<1x1x2x3x8xf32>
  %pk = nuri.reshape %s#0 : tensor<1x1x2x3x8xf32> -> tensor<1x2x3x8xf32>
  %pv = nuri.reshape %s#1 : tensor<1x1x2x3x8xf32> -> tensor<1x2x3x8xf32>
  %ck = nuri.concat %pk, %k {axis = 2 : i64} : (tensor<1x2x3x8xf32>, tensor<1x2x1x8xf32>) -> tensor<1x2x4x8xf32>
  %cv = nuri.concat %pv, %v {axis = 2 : i64} : (tensor<1x2x3x8xf32>, tensor<1x2x1x8xf32>) -> tensor<1x2x4x8xf32>
  %o = nuri.attention %q, %ck, %cv {scale = 0.25 : f32} : (tensor<1x2x1x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x1x8xf32>
  %k5 = nuri.reshape %ck : tensor<1x2x4x8xf32> -> tensor<1x1x2x4x8xf32>
  %v5 = nuri.reshape %cv : tensor<1x2x4x8xf32> -> tensor<1x1x2x4x8xf32>
  %present = nuri.concat %k5, %v5 {axis = 0 : i64} : (tensor<1x1x2x4x8xf32>, tensor<1x1x2x4x8xf32>) -> tensor<2x1x2x4x8xf32>
  return %o, %present : tensor<1x2x1x8xf32>, tensor<2x1x2x4x8xf32>
}

// -----

// torch 1.6's GPT-2 reads the halves as past[0] and past[1] (Gather of a
// scalar) and keeps keys transposed: concat(past_k^T, new_k^T, axis 3),
// transposed back for attention and the present. The rewrite sees
// concat(past_k, new_k, axis 2) and caches keys untransposed.
// CHECK-LABEL: func.func @main
// CHECK-NOT: tensor<2x1x2x3x8xf32>
// CHECK-SAME: %[[KC:[a-z0-9]+]]: tensor<4x2x16x8xf32> {nuri.name = "past_0.key", nuri.state = "past_0.key"}
// CHECK-SAME: %[[VC:[a-z0-9]+]]: tensor<4x2x16x8xf32> {nuri.name = "past_0.value", nuri.state = "past_0.value"}
// CHECK-NOT: nuri.gather
// CHECK: %[[KT:.*]] = nuri.transpose %{{.*}} {permutation = array<i64: 0, 1, 3, 2>} : tensor<1x2x8x1xf32> -> tensor<1x2x1x8xf32>
// CHECK: %[[WK:.*]] = nuri.cache_write %[[KC]], %[[KT]]
// CHECK: %[[WV:.*]] = nuri.cache_write %[[VC]]
// CHECK: %[[O:.*]] = nuri.cache_attention %{{.*}}, %[[WK]], %[[WV]], %{{.*}} {context_length = 4 : i64
// CHECK: return %[[O]], %[[WK]], %[[WV]]
func.func @main(%q: tensor<1x2x1x8xf32> {nuri.name = "q"},
                %past: tensor<2x1x2x3x8xf32> {nuri.name = "past_0"},
                %kt: tensor<1x2x8x1xf32> {nuri.name = "k_transposed"},
                %v: tensor<1x2x1x8xf32> {nuri.name = "v"})
    -> (tensor<1x2x1x8xf32> {nuri.name = "out"},
        tensor<2x1x2x4x8xf32> {nuri.name = "present_0"}) {
  %zero = nuri.constant dense<0> : tensor<i64>
  %one = nuri.constant dense<1> : tensor<i64>
  %pk = nuri.gather %past, %zero {axis = 0 : i64} : tensor<2x1x2x3x8xf32>, tensor<i64> -> tensor<1x2x3x8xf32>
  %pv = nuri.gather %past, %one {axis = 0 : i64} : tensor<2x1x2x3x8xf32>, tensor<i64> -> tensor<1x2x3x8xf32>
  %pkt = nuri.transpose %pk {permutation = array<i64: 0, 1, 3, 2>} : tensor<1x2x3x8xf32> -> tensor<1x2x8x3xf32>
  %ckt = nuri.concat %pkt, %kt {axis = 3 : i64} : (tensor<1x2x8x3xf32>, tensor<1x2x8x1xf32>) -> tensor<1x2x8x4xf32>
  %ck = nuri.transpose %ckt {permutation = array<i64: 0, 1, 3, 2>} : tensor<1x2x8x4xf32> -> tensor<1x2x4x8xf32>
  %cv = nuri.concat %pv, %v {axis = 2 : i64} : (tensor<1x2x3x8xf32>, tensor<1x2x1x8xf32>) -> tensor<1x2x4x8xf32>
  %o = nuri.attention %q, %ck, %cv {scale = 0.25 : f32} : (tensor<1x2x1x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x1x8xf32>
  %k5 = nuri.reshape %ck : tensor<1x2x4x8xf32> -> tensor<1x1x2x4x8xf32>
  %v5 = nuri.reshape %cv : tensor<1x2x4x8xf32> -> tensor<1x1x2x4x8xf32>
  %present = nuri.concat %k5, %v5 {axis = 0 : i64} : (tensor<1x1x2x4x8xf32>, tensor<1x1x2x4x8xf32>) -> tensor<2x1x2x4x8xf32>
  return %o, %present : tensor<1x2x1x8xf32>, tensor<2x1x2x4x8xf32>
}
