// RUN: nuri-opt %s -split-input-file -verify-diagnostics
// One case per verifier and shape-inference error of the nuri dialect. Ops
// that infer their result types report the reason, then MLIR's verifier
// reports which op failed to infer.

func.func @add_element_types(%a: tensor<2xf32>, %b: tensor<2xi32>) {
  // expected-error @+2 {{expects operands of one element type, got f32 and i32}}
  // expected-error @+1 {{'nuri.add' op failed to infer returned types}}
  %0 = nuri.add %a, %b : tensor<2xf32>, tensor<2xi32> -> tensor<2xf32>
  return
}

// -----

func.func @compare_element_types(%a: tensor<2xf32>, %b: tensor<2xi32>) {
  // expected-error @+2 {{compares operands of different element types f32 and i32}}
  // expected-error @+1 {{'nuri.compare' op failed to infer returned types}}
  %0 = nuri.compare eq, %a, %b : tensor<2xf32>, tensor<2xi32> -> tensor<2xi1>
  return
}

// -----

func.func @add_shapes(%a: tensor<2x3xf32>, %b: tensor<4xf32>) {
  // expected-error @+2 {{operand shapes [2x3] and [4] do not broadcast}}
  // expected-error @+1 {{'nuri.add' op failed to infer returned types}}
  %0 = nuri.add %a, %b : tensor<2x3xf32>, tensor<4xf32> -> tensor<2x3xf32>
  return
}

// -----

// A declared result type that differs from the inferred one.
func.func @add_result_type(%a: tensor<2x3xf32>, %b: tensor<3xf32>) {
  // expected-error @+2 {{'nuri.add' op inferred type(s) 'tensor<2x3xf32>' are incompatible with return type(s) of operation 'tensor<3xf32>'}}
  // expected-error @+1 {{'nuri.add' op failed to infer returned types}}
  %0 = nuri.add %a, %b : tensor<2x3xf32>, tensor<3xf32> -> tensor<3xf32>
  return
}

// -----

func.func @where_branch_types(%c: tensor<2xi1>, %a: tensor<2xf32>, %b: tensor<2xi32>) {
  // expected-error @+2 {{expects both branches of one element type, got f32 and i32}}
  // expected-error @+1 {{'nuri.where' op failed to infer returned types}}
  %0 = nuri.where %c, %a, %b : tensor<2xi1>, tensor<2xf32>, tensor<2xi32> -> tensor<2xf32>
  return
}

// -----

func.func @where_shapes(%c: tensor<3xi1>, %a: tensor<2xf32>, %b: tensor<2xf32>) {
  // expected-error @+2 {{condition [3] and branches [2], [2] do not broadcast}}
  // expected-error @+1 {{'nuri.where' op failed to infer returned types}}
  %0 = nuri.where %c, %a, %b : tensor<3xi1>, tensor<2xf32>, tensor<2xf32> -> tensor<2xf32>
  return
}

// -----

func.func @matmul_rank(%a: tensor<4xf32>, %b: tensor<4x4xf32>) {
  // expected-error @+2 {{expects operands of rank >= 2, got 1 and 2}}
  // expected-error @+1 {{'nuri.matmul' op failed to infer returned types}}
  %0 = nuri.matmul %a, %b : tensor<4xf32>, tensor<4x4xf32> -> tensor<4xf32>
  return
}

// -----

func.func @matmul_element_types(%a: tensor<4x4xf32>, %b: tensor<4x4xf16>) {
  // expected-error @+2 {{expects operands of one element type, got f32 and f16}}
  // expected-error @+1 {{'nuri.matmul' op failed to infer returned types}}
  %0 = nuri.matmul %a, %b : tensor<4x4xf32>, tensor<4x4xf16> -> tensor<4x4xf32>
  return
}

// -----

func.func @matmul_contracting(%a: tensor<4x3xf32>, %b: tensor<4x4xf32>) {
  // expected-error @+2 {{contracting dimensions differ: 3 vs 4}}
  // expected-error @+1 {{'nuri.matmul' op failed to infer returned types}}
  %0 = nuri.matmul %a, %b : tensor<4x3xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
  return
}

// -----

func.func @matmul_batch(%a: tensor<2x4x4xf32>, %b: tensor<3x4x4xf32>) {
  // expected-error @+2 {{batch dimensions [2] and [3] do not broadcast}}
  // expected-error @+1 {{'nuri.matmul' op failed to infer returned types}}
  %0 = nuri.matmul %a, %b : tensor<2x4x4xf32>, tensor<3x4x4xf32> -> tensor<2x4x4xf32>
  return
}

// -----

func.func @linear_weight_rank(%x: tensor<2x4xf32>, %w: tensor<4xf32>) {
  // expected-error @+2 {{expects a 2-D [in, out] weight, got rank 1}}
  // expected-error @+1 {{'nuri.linear' op failed to infer returned types}}
  %0 = nuri.linear %x, %w : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @linear_features(%x: tensor<2x4xf32>, %w: tensor<3x5xf32>) {
  // expected-error @+2 {{input features 4 do not match weight rows 3}}
  // expected-error @+1 {{'nuri.linear' op failed to infer returned types}}
  %0 = nuri.linear %x, %w : (tensor<2x4xf32>, tensor<3x5xf32>) -> tensor<2x5xf32>
  return
}

// -----

func.func @linear_element_types(%x: tensor<2x4xf32>, %w: tensor<4x5xf16>) {
  // expected-error @+2 {{expects input and weight of one element type, got f32 and f16}}
  // expected-error @+1 {{'nuri.linear' op failed to infer returned types}}
  %0 = nuri.linear %x, %w : (tensor<2x4xf32>, tensor<4x5xf16>) -> tensor<2x5xf32>
  return
}

// -----

func.func @linear_bias_type(%x: tensor<2x4xf32>, %w: tensor<4x5xf32>, %b: tensor<5xf16>) {
  // expected-error @+2 {{expects a bias of element type f32, got f16}}
  // expected-error @+1 {{'nuri.linear' op failed to infer returned types}}
  %0 = nuri.linear %x, %w, %b : (tensor<2x4xf32>, tensor<4x5xf32>, tensor<5xf16>) -> tensor<2x5xf32>
  return
}

// -----

func.func @linear_bias_shape(%x: tensor<2x4xf32>, %w: tensor<4x5xf32>, %b: tensor<4xf32>) {
  // expected-error @+2 {{expects a bias of shape [5], got [4]}}
  // expected-error @+1 {{'nuri.linear' op failed to infer returned types}}
  %0 = nuri.linear %x, %w, %b : (tensor<2x4xf32>, tensor<4x5xf32>, tensor<4xf32>) -> tensor<2x5xf32>
  return
}

// -----

func.func @conv_rank(%x: tensor<1x3x4x4x4xf32>, %w: tensor<8x3x1x1x1xf32>) {
  // expected-error @+2 {{supports 1-D and 2-D convolution (input rank 3 or 4), got rank 5}}
  // expected-error @+1 {{'nuri.conv' op failed to infer returned types}}
  %0 = nuri.conv %x, %w {strides = array<i64: 1, 1, 1>, pads = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>, group = 1 : i64} : (tensor<1x3x4x4x4xf32>, tensor<8x3x1x1x1xf32>) -> tensor<1x8x4x4x4xf32>
  return
}

// -----

func.func @conv_weight_rank(%x: tensor<1x3x8xf32>, %w: tensor<8x3x1x1xf32>) {
  // expected-error @+2 {{expects a weight of rank 3, got 4}}
  // expected-error @+1 {{'nuri.conv' op failed to infer returned types}}
  %0 = nuri.conv %x, %w {strides = array<i64: 1>, pads = array<i64: 0, 0>, dilations = array<i64: 1>, group = 1 : i64} : (tensor<1x3x8xf32>, tensor<8x3x1x1xf32>) -> tensor<1x8x8xf32>
  return
}

// -----

func.func @conv_attribute_sizes(%x: tensor<1x3x8xf32>, %w: tensor<8x3x3xf32>) {
  // expected-error @+2 {{expects 1 strides, 1 dilations and 2 pads, got 2, 1 and 2}}
  // expected-error @+1 {{'nuri.conv' op failed to infer returned types}}
  %0 = nuri.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0>, dilations = array<i64: 1>, group = 1 : i64} : (tensor<1x3x8xf32>, tensor<8x3x3xf32>) -> tensor<1x8x6xf32>
  return
}

// -----

func.func @conv_channels(%x: tensor<1x3x8xf32>, %w: tensor<8x2x3xf32>) {
  // expected-error @+2 {{input channels 3 do not match weight channels 2 x group 1}}
  // expected-error @+1 {{'nuri.conv' op failed to infer returned types}}
  %0 = nuri.conv %x, %w {strides = array<i64: 1>, pads = array<i64: 0, 0>, dilations = array<i64: 1>, group = 1 : i64} : (tensor<1x3x8xf32>, tensor<8x2x3xf32>) -> tensor<1x8x6xf32>
  return
}

// -----

func.func @conv_bias(%x: tensor<1x3x8xf32>, %w: tensor<8x3x3xf32>, %b: tensor<3xf32>) {
  // expected-error @+2 {{expects a bias of shape [8], got [3]}}
  // expected-error @+1 {{'nuri.conv' op failed to infer returned types}}
  %0 = nuri.conv %x, %w, %b {strides = array<i64: 1>, pads = array<i64: 0, 0>, dilations = array<i64: 1>, group = 1 : i64} : (tensor<1x3x8xf32>, tensor<8x3x3xf32>, tensor<3xf32>) -> tensor<1x8x6xf32>
  return
}

// -----

func.func @conv_spatial(%x: tensor<1x3x2xf32>, %w: tensor<8x3x3xf32>) {
  // expected-error @+2 {{spatial dimension 0 is too small for the kernel, or stride/dilation < 1}}
  // expected-error @+1 {{'nuri.conv' op failed to infer returned types}}
  %0 = nuri.conv %x, %w {strides = array<i64: 1>, pads = array<i64: 0, 0>, dilations = array<i64: 1>, group = 1 : i64} : (tensor<1x3x2xf32>, tensor<8x3x3xf32>) -> tensor<1x8x1xf32>
  return
}

// -----

func.func @softmax_axis(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %0 = nuri.softmax %x {axis = 2 : i64} : tensor<2x3xf32>
  return
}

// -----

func.func @layer_norm_axis(%x: tensor<2x3xf32>, %g: tensor<3xf32>) {
  // expected-error @+2 {{axis 2 is out of range for rank 2}}
  // expected-error @+1 {{'nuri.layer_norm' op failed to infer returned types}}
  %0 = nuri.layer_norm %x, %g {axis = 2 : i64, epsilon = 1.0e-5 : f32} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @layer_norm_param_type(%x: tensor<2x3xf32>, %g: tensor<3xf16>) {
  // expected-error @+2 {{expects parameters of element type f32, got f16}}
  // expected-error @+1 {{'nuri.layer_norm' op failed to infer returned types}}
  %0 = nuri.layer_norm %x, %g {axis = 1 : i64, epsilon = 1.0e-5 : f32} : (tensor<2x3xf32>, tensor<3xf16>) -> tensor<2x3xf32>
  return
}

// -----

func.func @rms_norm_param_shape(%x: tensor<2x3xf32>, %g: tensor<2x3xf32>) {
  // expected-error @+2 {{parameter of shape [2x3] does not broadcast to the normalized shape [3]}}
  // expected-error @+1 {{'nuri.rms_norm' op failed to infer returned types}}
  %0 = nuri.rms_norm %x, %g {axis = 1 : i64, epsilon = 1.0e-5 : f32} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @reduce_axes(%x: tensor<2x3xf32>) {
  // expected-error @+2 {{expects sorted, distinct axes in [0, 2), got [1, 0]}}
  // expected-error @+1 {{'nuri.reduce_sum' op failed to infer returned types}}
  %0 = nuri.reduce_sum %x {axes = array<i64: 1, 0>} : tensor<2x3xf32> -> tensor<f32>
  return
}

// -----

func.func @transpose_size(%x: tensor<2x3xf32>) {
  // expected-error @+2 {{permutation of size 1 does not match rank 2}}
  // expected-error @+1 {{'nuri.transpose' op failed to infer returned types}}
  %0 = nuri.transpose %x {permutation = array<i64: 0>} : tensor<2x3xf32> -> tensor<2xf32>
  return
}

// -----

func.func @transpose_not_permutation(%x: tensor<2x3xf32>) {
  // expected-error @+2 {{expects a permutation of [0, 2), got [1, 1]}}
  // expected-error @+1 {{'nuri.transpose' op failed to infer returned types}}
  %0 = nuri.transpose %x {permutation = array<i64: 1, 1>} : tensor<2x3xf32> -> tensor<3x3xf32>
  return
}

// -----

func.func @concat_empty() {
  // expected-error @+2 {{expects at least one input}}
  // expected-error @+1 {{'nuri.concat' op failed to infer returned types}}
  %0 = nuri.concat {axis = 0 : i64} : () -> tensor<0xf32>
  return
}

// -----

func.func @concat_axis(%a: tensor<2xf32>) {
  // expected-error @+2 {{axis 1 is out of range for rank 1}}
  // expected-error @+1 {{'nuri.concat' op failed to infer returned types}}
  %0 = nuri.concat %a, %a {axis = 1 : i64} : (tensor<2xf32>, tensor<2xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @concat_rank(%a: tensor<2xf32>, %b: tensor<2x1xf32>) {
  // expected-error @+2 {{expects inputs of one rank and element type, got tensor<2xf32> and tensor<2x1xf32>}}
  // expected-error @+1 {{'nuri.concat' op failed to infer returned types}}
  %0 = nuri.concat %a, %b {axis = 0 : i64} : (tensor<2xf32>, tensor<2x1xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @concat_shapes(%a: tensor<2x3xf32>, %b: tensor<2x4xf32>) {
  // expected-error @+2 {{input shapes [2x3] and [2x4] differ off axis 0}}
  // expected-error @+1 {{'nuri.concat' op failed to infer returned types}}
  %0 = nuri.concat %a, %b {axis = 0 : i64} : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<4x3xf32>
  return
}

// -----

func.func @slice_counts(%x: tensor<4x4xf32>) {
  // expected-error @+2 {{expects one start, limit and step per dimension (2), got 1, 2 and 2}}
  // expected-error @+1 {{'nuri.slice' op failed to infer returned types}}
  %0 = nuri.slice %x {starts = array<i64: 0>, limits = array<i64: 2, 2>, steps = array<i64: 1, 1>} : tensor<4x4xf32> -> tensor<2x2xf32>
  return
}

// -----

func.func @slice_zero_step(%x: tensor<4xf32>) {
  // expected-error @+2 {{step of dimension 0 is zero}}
  // expected-error @+1 {{'nuri.slice' op failed to infer returned types}}
  %0 = nuri.slice %x {starts = array<i64: 0>, limits = array<i64: 2>, steps = array<i64: 0>} : tensor<4xf32> -> tensor<2xf32>
  return
}

// -----

func.func @slice_range(%x: tensor<4xf32>) {
  // expected-error @+2 {{start 0 or limit 5 of dimension 0 is out of range for size 4}}
  // expected-error @+1 {{'nuri.slice' op failed to infer returned types}}
  %0 = nuri.slice %x {starts = array<i64: 0>, limits = array<i64: 5>, steps = array<i64: 1>} : tensor<4xf32> -> tensor<5xf32>
  return
}

// -----

func.func @split_axis(%x: tensor<4xf32>) {
  // expected-error @+2 {{axis 1 is out of range for rank 1}}
  // expected-error @+1 {{'nuri.split' op failed to infer returned types}}
  %0, %1 = nuri.split %x {axis = 1 : i64, sizes = array<i64: 2, 2>} : tensor<4xf32> -> tensor<2xf32>, tensor<2xf32>
  return
}

// -----

func.func @split_negative(%x: tensor<4xf32>) {
  // expected-error @+2 {{split sizes must not be negative}}
  // expected-error @+1 {{'nuri.split' op failed to infer returned types}}
  %0, %1 = nuri.split %x {axis = 0 : i64, sizes = array<i64: 6, -2>} : tensor<4xf32> -> tensor<6xf32>, tensor<2xf32>
  return
}

// -----

func.func @split_sum(%x: tensor<4xf32>) {
  // expected-error @+2 {{split sizes add up to 3, dimension 0 has 4}}
  // expected-error @+1 {{'nuri.split' op failed to infer returned types}}
  %0, %1 = nuri.split %x {axis = 0 : i64, sizes = array<i64: 2, 1>} : tensor<4xf32> -> tensor<2xf32>, tensor<1xf32>
  return
}

// -----

func.func @gather_axis(%x: tensor<4xf32>, %i: tensor<2xi64>) {
  // expected-error @+2 {{axis 1 is out of range for rank 1}}
  // expected-error @+1 {{'nuri.gather' op failed to infer returned types}}
  %0 = nuri.gather %x, %i {axis = 1 : i64} : tensor<4xf32>, tensor<2xi64> -> tensor<2xf32>
  return
}

// -----

func.func @rope_odd(%x: tensor<1x2x4x7xf32>, %t: tensor<4x7xf32>) {
  // expected-error @+2 {{expects an even last dimension, got [1x2x4x7]}}
  // expected-error @+1 {{'nuri.rope' op failed to infer returned types}}
  %0 = nuri.rope %x, %t, %t : (tensor<1x2x4x7xf32>, tensor<4x7xf32>, tensor<4x7xf32>) -> tensor<1x2x4x7xf32>
  return
}

// -----

func.func @rope_table_type(%x: tensor<1x2x4x8xf32>, %t: tensor<4x8xf16>) {
  // expected-error @+2 {{expects tables of element type f32, got f16}}
  // expected-error @+1 {{'nuri.rope' op failed to infer returned types}}
  %0 = nuri.rope %x, %t, %t : (tensor<1x2x4x8xf32>, tensor<4x8xf16>, tensor<4x8xf16>) -> tensor<1x2x4x8xf32>
  return
}

// -----

func.func @rope_table_shape(%x: tensor<1x2x4x8xf32>, %t: tensor<5x8xf32>) {
  // expected-error @+2 {{table of shape [5x8] does not broadcast to the input [1x2x4x8]}}
  // expected-error @+1 {{'nuri.rope' op failed to infer returned types}}
  %0 = nuri.rope %x, %t, %t : (tensor<1x2x4x8xf32>, tensor<5x8xf32>, tensor<5x8xf32>) -> tensor<1x2x4x8xf32>
  return
}

// -----

func.func @attention_rank(%q: tensor<2x4x8xf32>) {
  // expected-error @+2 {{expects rank-4 [batch, heads, seq, dim] query, key and value, got [2x4x8], [2x4x8] and [2x4x8]}}
  // expected-error @+1 {{'nuri.attention' op failed to infer returned types}}
  %0 = nuri.attention %q, %q, %q {scale = 1.0 : f32} : (tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
  return
}

// -----

func.func @attention_batch(%q: tensor<1x2x4x8xf32>, %k: tensor<2x2x4x8xf32>) {
  // expected-error @+2 {{batch sizes of query, key and value differ: 1, 2, 2}}
  // expected-error @+1 {{'nuri.attention' op failed to infer returned types}}
  %0 = nuri.attention %q, %k, %k {scale = 1.0 : f32} : (tensor<1x2x4x8xf32>, tensor<2x2x4x8xf32>, tensor<2x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return
}

// -----

func.func @attention_element_types(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf16>) {
  // expected-error @+2 {{expects query, key and value of one element type, got f32, f16 and f16}}
  // expected-error @+1 {{'nuri.attention' op failed to infer returned types}}
  %0 = nuri.attention %q, %k, %k {scale = 1.0 : f32} : (tensor<1x2x4x8xf32>, tensor<1x2x4x8xf16>, tensor<1x2x4x8xf16>) -> tensor<1x2x4x8xf32>
  return
}

// -----

func.func @attention_key_value(%q: tensor<1x2x4x8xf32>, %v: tensor<1x2x5x8xf32>) {
  // expected-error @+2 {{key [1x2x4x8] and value [1x2x5x8] disagree on heads or length}}
  // expected-error @+1 {{'nuri.attention' op failed to infer returned types}}
  %0 = nuri.attention %q, %q, %v {scale = 1.0 : f32} : (tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x5x8xf32>) -> tensor<1x2x4x8xf32>
  return
}

// -----

func.func @attention_heads(%q: tensor<1x3x4x8xf32>, %k: tensor<1x2x4x8xf32>) {
  // expected-error @+2 {{query heads 3 are not a multiple of key/value heads 2}}
  // expected-error @+1 {{'nuri.attention' op failed to infer returned types}}
  %0 = nuri.attention %q, %k, %k {scale = 1.0 : f32} : (tensor<1x3x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>) -> tensor<1x3x4x8xf32>
  return
}

// -----

func.func @attention_head_size(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x4xf32>) {
  // expected-error @+2 {{query and key head sizes differ: 8 vs 4}}
  // expected-error @+1 {{'nuri.attention' op failed to infer returned types}}
  %0 = nuri.attention %q, %k, %k {scale = 1.0 : f32} : (tensor<1x2x4x8xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  return
}

// -----

func.func @attention_mask_type(%q: tensor<1x2x4x8xf32>, %m: tensor<1x1x4x4xi32>) {
  // expected-error @+2 {{expects an i1 mask or one of the query's element type, got i32}}
  // expected-error @+1 {{'nuri.attention' op failed to infer returned types}}
  %0 = nuri.attention %q, %q, %q, %m {scale = 1.0 : f32} : (tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x1x4x4xi32>) -> tensor<1x2x4x8xf32>
  return
}

// -----

func.func @attention_mask_shape(%q: tensor<1x2x4x8xf32>, %m: tensor<1x1x4x5xi1>) {
  // expected-error @+2 {{mask of shape [1x1x4x5] does not broadcast to the scores [1x2x4x4]}}
  // expected-error @+1 {{'nuri.attention' op failed to infer returned types}}
  %0 = nuri.attention %q, %q, %q, %m {scale = 1.0 : f32} : (tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x1x4x5xi1>) -> tensor<1x2x4x8xf32>
  return
}

// -----

func.func @reshape_element_type(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{'nuri.reshape' op changes the element type from 'f32' to 'f16'}}
  %0 = nuri.reshape %x : tensor<2x3xf32> -> tensor<6xf16>
  return
}

// -----

func.func @reshape_count(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{'nuri.reshape' op changes the element count from 6 to 5}}
  %0 = nuri.reshape %x : tensor<2x3xf32> -> tensor<5xf32>
  return
}

// -----

func.func @broadcast_element_type(%x: tensor<3xf32>) {
  // expected-error @+1 {{'nuri.broadcast_to' op changes the element type from 'f32' to 'f16'}}
  %0 = nuri.broadcast_to %x : tensor<3xf32> -> tensor<2x3xf16>
  return
}

// -----

func.func @broadcast_shape(%x: tensor<3xf32>) {
  // expected-error @+1 {{'nuri.broadcast_to' op cannot broadcast [3] to [2x4]}}
  %0 = nuri.broadcast_to %x : tensor<3xf32> -> tensor<2x4xf32>
  return
}

// -----

func.func @cast_shape(%x: tensor<3xf32>) {
  // expected-error @+1 {{'nuri.cast' op changes the shape from [3] to [4]}}
  %0 = nuri.cast %x : tensor<3xf32> -> tensor<4xi32>
  return
}

// -----

func.func @quantize_scale_rank(%x: tensor<4x8xf32>, %s: tensor<2x8xf32>) {
  // expected-error @+1 {{'nuri.quantize' op expects a scalar or 1-D scale, got rank 2}}
  %0 = nuri.quantize %x, %s : (tensor<4x8xf32>, tensor<2x8xf32>) -> tensor<4x8xi8>
  return
}

// -----

func.func @quantize_channels(%x: tensor<4x8xf32>, %s: tensor<4xf32>) {
  // expected-error @+1 {{'nuri.quantize' op per-channel scale of size 4 does not match axis 1 of [4x8]}}
  %0 = nuri.quantize %x, %s {axis = 1 : i64} : (tensor<4x8xf32>, tensor<4xf32>) -> tensor<4x8xi8>
  return
}

// -----

func.func @quantize_zero_point_shape(%x: tensor<4x8xf32>, %s: tensor<8xf32>, %z: tensor<i8>) {
  // expected-error @+1 {{'nuri.quantize' op zero point shape [] differs from the scale's [8]}}
  %0 = nuri.quantize %x, %s, %z : (tensor<4x8xf32>, tensor<8xf32>, tensor<i8>) -> tensor<4x8xi8>
  return
}

// -----

func.func @quantize_shape(%x: tensor<4x8xf32>, %s: tensor<f32>) {
  // expected-error @+1 {{'nuri.quantize' op changes the shape from [4x8] to [8x4]}}
  %0 = nuri.quantize %x, %s : (tensor<4x8xf32>, tensor<f32>) -> tensor<8x4xi8>
  return
}

// -----

func.func @quantize_zero_point_type(%x: tensor<4x8xf32>, %s: tensor<f32>, %z: tensor<ui8>) {
  // expected-error @+1 {{'nuri.quantize' op zero point type 'ui8' differs from the result's 'i8'}}
  %0 = nuri.quantize %x, %s, %z : (tensor<4x8xf32>, tensor<f32>, tensor<ui8>) -> tensor<4x8xi8>
  return
}

// -----

func.func @dequantize_shape(%x: tensor<4x8xi8>, %s: tensor<f32>) {
  // expected-error @+1 {{'nuri.dequantize' op changes the shape from [4x8] to [4x4]}}
  %0 = nuri.dequantize %x, %s : (tensor<4x8xi8>, tensor<f32>) -> tensor<4x4xf32>
  return
}

// -----

func.func @dequantize_zero_point_type(%x: tensor<4x8xi8>, %s: tensor<f32>, %z: tensor<ui8>) {
  // expected-error @+1 {{'nuri.dequantize' op zero point type 'ui8' differs from the input's 'i8'}}
  %0 = nuri.dequantize %x, %s, %z : (tensor<4x8xi8>, tensor<f32>, tensor<ui8>) -> tensor<4x8xf32>
  return
}

// -----

func.func @quantize_fp8_zero_point(%x: tensor<4x8xf32>, %s: tensor<f32>, %z: tensor<f8E4M3FN>) {
  // expected-error @+1 {{'nuri.quantize' op takes no zero point for the float type 'f8E4M3FN'}}
  %0 = nuri.quantize %x, %s, %z : (tensor<4x8xf32>, tensor<f32>, tensor<f8E4M3FN>) -> tensor<4x8xf8E4M3FN>
  return
}

// -----

func.func @dequantize_blocked_bits(%q: tensor<4x2x24xui8>, %s: tensor<4x2xf32>) {
  // expected-error @+1 {{'nuri.dequantize_blocked' op has 3 bits per value (expected 4 or 8)}}
  %0 = nuri.dequantize_blocked %q, %s {bits = 3 : i64, block_size = 64 : i64} : (tensor<4x2x24xui8>, tensor<4x2xf32>) -> tensor<128x4xf32>
  return
}

// -----

func.func @dequantize_blocked_block_size(%q: tensor<4x2x12xui8>, %s: tensor<4x2xf32>) {
  // expected-error @+1 {{'nuri.dequantize_blocked' op has block_size 24 (expected a power of two, at least 16)}}
  %0 = nuri.dequantize_blocked %q, %s {bits = 4 : i64, block_size = 24 : i64} : (tensor<4x2x12xui8>, tensor<4x2xf32>) -> tensor<48x4xf32>
  return
}

// -----

func.func @dequantize_blocked_blob(%q: tensor<4x2x32xui8>, %s: tensor<4x2xf32>) {
  // expected-error @+1 {{'nuri.dequantize_blocked' op expects packed values ui8 [N, blocks, 16], got 'tensor<4x2x32xui8>'}}
  %0 = nuri.dequantize_blocked %q, %s {bits = 4 : i64, block_size = 32 : i64} : (tensor<4x2x32xui8>, tensor<4x2xf32>) -> tensor<64x4xf32>
  return
}

// -----

func.func @dequantize_blocked_scales(%q: tensor<4x2x16xui8>, %s: tensor<8xf32>) {
  // expected-error @+1 {{'nuri.dequantize_blocked' op expects scales [4, 2], got [8]}}
  %0 = nuri.dequantize_blocked %q, %s {bits = 4 : i64, block_size = 32 : i64} : (tensor<4x2x16xui8>, tensor<8xf32>) -> tensor<64x4xf32>
  return
}

// -----

func.func @dequantize_blocked_zero_points(%q: tensor<4x2x16xui8>, %s: tensor<4x2xf32>, %z: tensor<4x2xui8>) {
  // expected-error @+1 {{'nuri.dequantize_blocked' op expects zero points ui8 [4, 1], got 'tensor<4x2xui8>'}}
  %0 = nuri.dequantize_blocked %q, %s, %z {bits = 4 : i64, block_size = 32 : i64} : (tensor<4x2x16xui8>, tensor<4x2xf32>, tensor<4x2xui8>) -> tensor<64x4xf32>
  return
}

// -----

func.func @dequantize_blocked_result(%q: tensor<4x2x16xui8>, %s: tensor<4x2xf32>) {
  // expected-error @+1 {{'nuri.dequantize_blocked' op result [32x4] is not [K, 4] with K in (32, 64]}}
  %0 = nuri.dequantize_blocked %q, %s {bits = 4 : i64, block_size = 32 : i64} : (tensor<4x2x16xui8>, tensor<4x2xf32>) -> tensor<32x4xf32>
  return
}

// -----

func.func @quantized_matmul_rhs_scale_axis(%a: tensor<2x8xui8>, %b: tensor<8x4xi8>, %az: tensor<ui8>, %bz: tensor<i8>, %as: tensor<f32>, %bs: tensor<8xf32>) {
  // expected-error @+1 {{'nuri.quantized_matmul' op rhs scale of shape [8] is neither a scalar nor one value per output column (4 in [8x4])}}
  %0 = nuri.quantized_matmul %a, %b zero_points(%az, %bz) scales(%as, %bs) : (tensor<2x8xui8>, tensor<8x4xi8>, tensor<ui8>, tensor<i8>, tensor<f32>, tensor<8xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @quantized_matmul_rhs_zero_point_axis(%a: tensor<2x8xui8>, %b: tensor<8x4xi8>, %az: tensor<ui8>, %bz: tensor<8xi8>) {
  // expected-error @+1 {{'nuri.quantized_matmul' op rhs zero point of shape [8] is neither a scalar nor one value per output column (4 in [8x4])}}
  %0 = nuri.quantized_matmul %a, %b zero_points(%az, %bz) : (tensor<2x8xui8>, tensor<8x4xi8>, tensor<ui8>, tensor<8xi8>) -> tensor<2x4xi32>
  return
}

// -----

func.func @quantized_matmul_lhs_scale_axis(%a: tensor<2x8xui8>, %b: tensor<8x4xi8>, %az: tensor<ui8>, %bz: tensor<i8>, %as: tensor<4xf32>, %bs: tensor<f32>) {
  // expected-error @+1 {{'nuri.quantized_matmul' op lhs scale of shape [4] is neither a scalar nor one value per row (2 in [2x8])}}
  %0 = nuri.quantized_matmul %a, %b zero_points(%az, %bz) scales(%as, %bs) : (tensor<2x8xui8>, tensor<8x4xi8>, tensor<ui8>, tensor<i8>, tensor<4xf32>, tensor<f32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @quantized_matmul_lhs_zero_point_axis(%a: tensor<2x8xui8>, %b: tensor<8x4xi8>, %az: tensor<3xui8>, %bz: tensor<i8>) {
  // expected-error @+1 {{'nuri.quantized_matmul' op lhs zero point of shape [3] is neither a scalar nor one value per row (2 in [2x8])}}
  %0 = nuri.quantized_matmul %a, %b zero_points(%az, %bz) : (tensor<2x8xui8>, tensor<8x4xi8>, tensor<3xui8>, tensor<i8>) -> tensor<2x4xi32>
  return
}

// -----

func.func @quantized_matmul_zero_point_type(%a: tensor<2x8xui8>, %b: tensor<8x4xi8>, %az: tensor<i8>, %bz: tensor<i8>) {
  // expected-error @+1 {{'nuri.quantized_matmul' op zero point types 'i8' and 'i8' differ from the operands' 'ui8' and 'i8'}}
  %0 = nuri.quantized_matmul %a, %b zero_points(%az, %bz) : (tensor<2x8xui8>, tensor<8x4xi8>, tensor<i8>, tensor<i8>) -> tensor<2x4xi32>
  return
}

// -----

func.func @quantized_matmul_operand_type(%a: tensor<2x8xi32>, %b: tensor<8x4xi8>, %az: tensor<i32>, %bz: tensor<i8>) {
  // expected-error @+1 {{'nuri.quantized_matmul' op expects an 8-bit integer lhs, got 'i32'}}
  %0 = nuri.quantized_matmul %a, %b zero_points(%az, %bz) : (tensor<2x8xi32>, tensor<8x4xi8>, tensor<i32>, tensor<i8>) -> tensor<2x4xi32>
  return
}

// -----

func.func @quantized_matmul_fp8_mixed(%a: tensor<2x8xf8E4M3FN>, %b: tensor<8x4xi8>, %az: tensor<f8E4M3FN>, %bz: tensor<i8>, %as: tensor<f32>, %bs: tensor<4xf32>) {
  // expected-error @+1 {{'nuri.quantized_matmul' op expects an f8E4M3FN rhs, got 'i8'}}
  %0 = nuri.quantized_matmul %a, %b zero_points(%az, %bz) scales(%as, %bs) : (tensor<2x8xf8E4M3FN>, tensor<8x4xi8>, tensor<f8E4M3FN>, tensor<i8>, tensor<f32>, tensor<4xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @quantized_matmul_fp8_raw(%a: tensor<2x8xf8E4M3FN>, %b: tensor<8x4xf8E4M3FN>, %z: tensor<f8E4M3FN>) {
  // expected-error @+1 {{'nuri.quantized_matmul' op of f8E4M3FN operands has the float read-out only (scales, no requantize)}}
  %0 = nuri.quantized_matmul %a, %b zero_points(%z, %z) : (tensor<2x8xf8E4M3FN>, tensor<8x4xf8E4M3FN>, tensor<f8E4M3FN>, tensor<f8E4M3FN>) -> tensor<2x4xi32>
  return
}

// -----

func.func @quantized_matmul_shape(%a: tensor<2x8xi8>, %b: tensor<8x4xi8>, %z: tensor<i8>) {
  // expected-error @+1 {{'nuri.quantized_matmul' op result shape [2x5] differs from the product's [2x4]}}
  %0 = nuri.quantized_matmul %a, %b zero_points(%z, %z) : (tensor<2x8xi8>, tensor<8x4xi8>, tensor<i8>, tensor<i8>) -> tensor<2x5xi32>
  return
}

// -----

func.func @quantized_matmul_contracting(%a: tensor<2x8xi8>, %b: tensor<6x4xi8>, %z: tensor<i8>) {
  // expected-error @+1 {{contracting dimensions differ: 8 vs 6}}
  %0 = nuri.quantized_matmul %a, %b zero_points(%z, %z) : (tensor<2x8xi8>, tensor<6x4xi8>, tensor<i8>, tensor<i8>) -> tensor<2x4xi32>
  return
}

// -----

func.func @quantized_matmul_accumulator_type(%a: tensor<2x8xi8>, %b: tensor<8x4xi8>, %z: tensor<i8>) {
  // expected-error @+1 {{'nuri.quantized_matmul' op without scales yields the i32 accumulators, got 'f32'}}
  %0 = nuri.quantized_matmul %a, %b zero_points(%z, %z) : (tensor<2x8xi8>, tensor<8x4xi8>, tensor<i8>, tensor<i8>) -> tensor<2x4xf32>
  return
}

// -----

func.func @quantized_matmul_float_type(%a: tensor<2x8xi8>, %b: tensor<8x4xi8>, %z: tensor<i8>, %s: tensor<f32>) {
  // expected-error @+1 {{'nuri.quantized_matmul' op with scales yields floats, got 'i32'}}
  %0 = nuri.quantized_matmul %a, %b zero_points(%z, %z) scales(%s, %s) : (tensor<2x8xi8>, tensor<8x4xi8>, tensor<i8>, tensor<i8>, tensor<f32>, tensor<f32>) -> tensor<2x4xi32>
  return
}

// -----

func.func @quantized_matmul_output_scale(%a: tensor<2x8xi8>, %b: tensor<8x4xi8>, %z: tensor<i8>, %s: tensor<f32>, %ys: tensor<4xf32>, %yz: tensor<4xi8>) {
  // expected-error @+1 {{'nuri.quantized_matmul' op expects a scalar output scale and zero point}}
  %0 = nuri.quantized_matmul %a, %b zero_points(%z, %z) scales(%s, %s) requantize(%ys, %yz) : (tensor<2x8xi8>, tensor<8x4xi8>, tensor<i8>, tensor<i8>, tensor<f32>, tensor<f32>, tensor<4xf32>, tensor<4xi8>) -> tensor<2x4xi8>
  return
}

// -----

func.func @quantized_matmul_requantize_type(%a: tensor<2x8xi8>, %b: tensor<8x4xi8>, %z: tensor<i8>, %s: tensor<f32>, %yz: tensor<ui8>) {
  // expected-error @+1 {{'nuri.quantized_matmul' op requantizes to an 8-bit result of its zero point's type, got 'i8' and 'ui8'}}
  %0 = nuri.quantized_matmul %a, %b zero_points(%z, %z) scales(%s, %s) requantize(%s, %yz) : (tensor<2x8xi8>, tensor<8x4xi8>, tensor<i8>, tensor<i8>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<ui8>) -> tensor<2x4xi8>
  return
}

// -----

func.func @dynamic_quantize_type(%x: tensor<4xf32>) {
  // expected-error @+1 {{'nuri.dynamic_quantize' op quantizes to ui8 only, got 'i8'}}
  %0:3 = nuri.dynamic_quantize %x : (tensor<4xf32>) -> (tensor<4xi8>, tensor<f32>, tensor<i8>)
  return
}

// -----

func.func @dynamic_quantize_scale(%x: tensor<4xf32>) {
  // expected-error @+1 {{'nuri.dynamic_quantize' op expects a scalar scale and zero point, got [4] and []}}
  %0:3 = nuri.dynamic_quantize %x : (tensor<4xf32>) -> (tensor<4xui8>, tensor<4xf32>, tensor<ui8>)
  return
}

// -----

func.func @dynamic_quantize_shape(%x: tensor<4xf32>) {
  // expected-error @+1 {{'nuri.dynamic_quantize' op changes the shape from [4] to [2]}}
  %0:3 = nuri.dynamic_quantize %x : (tensor<4xf32>) -> (tensor<2xui8>, tensor<f32>, tensor<ui8>)
  return
}

// -----

func.func @cache_write_heads(%c: tensor<8x4x256x32xf32>, %k: tensor<2x2x1x32xf32>, %s: tensor<2xi64>) {
  // expected-error @+2 {{update [2x2x1x32] does not fit the cache [8x4x256x32] (heads and dim must agree, tokens at most max_seq)}}
  // expected-error @+1 {{'nuri.cache_write' op failed to infer returned types}}
  %0 = nuri.cache_write %c, %k, %s, %s : (tensor<8x4x256x32xf32>, tensor<2x2x1x32xf32>, tensor<2xi64>, tensor<2xi64>) -> tensor<8x4x256x32xf32>
  return
}

// -----

func.func @cache_write_slots(%c: tensor<8x4x256x32xf32>, %k: tensor<2x4x1x32xf32>, %s: tensor<3xi64>, %p: tensor<2xi64>) {
  // expected-error @+2 {{expects slots of shape [2] (one per batch row), got [3]}}
  // expected-error @+1 {{'nuri.cache_write' op failed to infer returned types}}
  %0 = nuri.cache_write %c, %k, %s, %p : (tensor<8x4x256x32xf32>, tensor<2x4x1x32xf32>, tensor<3xi64>, tensor<2xi64>) -> tensor<8x4x256x32xf32>
  return
}

// -----

func.func @cache_attention_context(%q: tensor<2x4x1x32xf32>, %c: tensor<8x4x256x32xf32>, %s: tensor<2xi64>) {
  // expected-error @+2 {{context 300 is outside the cache's length 1..256}}
  // expected-error @+1 {{'nuri.cache_attention' op failed to infer returned types}}
  %0 = nuri.cache_attention %q, %c, %c, %s {context_length = 300 : i64, scale = 1.0 : f32} : (tensor<2x4x1x32xf32>, tensor<8x4x256x32xf32>, tensor<8x4x256x32xf32>, tensor<2xi64>) -> tensor<2x4x1x32xf32>
  return
}

// -----

func.func @cache_attention_mask(%q: tensor<2x4x1x32xf32>, %c: tensor<8x4x256x32xf32>, %s: tensor<2xi64>, %m: tensor<2x1x1x65xf32>) {
  // expected-error @+2 {{mask of shape [2x1x1x65] does not broadcast to the scores [2x4x1x64]}}
  // expected-error @+1 {{'nuri.cache_attention' op failed to infer returned types}}
  %0 = nuri.cache_attention %q, %c, %c, %s, %m {context_length = 64 : i64, scale = 1.0 : f32} : (tensor<2x4x1x32xf32>, tensor<8x4x256x32xf32>, tensor<8x4x256x32xf32>, tensor<2xi64>, tensor<2x1x1x65xf32>) -> tensor<2x4x1x32xf32>
  return
}
