// RUN: nuri-opt %s --npu-fuse-epilogues --split-input-file | FileCheck %s

// Bias, activation and residual add join the GEMM's read-out; the constant
// bias is converted to f32 at compile time.
// CHECK-LABEL: func.func @linear_bias_gelu_residual
// CHECK: %[[B32:.*]] = nuri.cast %{{.*}} : tensor<8xbf16> -> tensor<8xf32>
// CHECK: %[[Y:.*]] = npu.gemm %arg0, %{{.*}} bias %[[B32]] residual %arg1 {act = "gelu"}
// CHECK-NOT: nuri.gelu
// CHECK-NOT: nuri.add
// CHECK: return %[[Y]]
func.func @linear_bias_gelu_residual(%x: tensor<4x16xbf16>, %r: tensor<4x8xbf16>) -> tensor<4x8xbf16> {
  %w = nuri.constant dense<0.5> : tensor<16x8xbf16>
  %b = nuri.constant dense<1.0> : tensor<8xbf16>
  %y = nuri.linear %x, %w, %b : (tensor<4x16xbf16>, tensor<16x8xbf16>, tensor<8xbf16>) -> tensor<4x8xbf16>
  %g = nuri.gelu %y : tensor<4x8xbf16>
  %s = nuri.add %g, %r : tensor<4x8xbf16>, tensor<4x8xbf16> -> tensor<4x8xbf16>
  return %s : tensor<4x8xbf16>
}

// -----

// An activation with a second user stays an op of its own; so does a
// residual computed after the GEMM would run. The tanh form of GELU is an
// activation of the read-out too.
// CHECK-LABEL: func.func @not_fused
// CHECK: %[[Y:.*]] = npu.gemm %arg0, %{{[^ ]*}} :
// CHECK-NEXT: nuri.relu %[[Y]]
// CHECK: npu.gemm %arg0, %{{[^ ]*}} {act = "gelu_tanh"} :
// CHECK-NOT: nuri.gelu
// CHECK: %[[V:.*]] = npu.gemm %arg0, %{{[^ ]*}} :
// CHECK-NEXT: %[[L:.*]] = nuri.exp %arg1
// CHECK-NEXT: nuri.add %[[V]], %[[L]]
func.func @not_fused(%x: tensor<4x16xbf16>, %r: tensor<4x8xbf16>) -> (tensor<4x8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>) {
  %w = nuri.constant dense<0.5> : tensor<16x8xbf16>
  %y = nuri.linear %x, %w : (tensor<4x16xbf16>, tensor<16x8xbf16>) -> tensor<4x8xbf16>
  %a = nuri.relu %y : tensor<4x8xbf16>
  %z = nuri.linear %x, %w : (tensor<4x16xbf16>, tensor<16x8xbf16>) -> tensor<4x8xbf16>
  %t = nuri.gelu %z {approximate = #nuri<gelu tanh>} : tensor<4x8xbf16>
  %v = nuri.linear %x, %w : (tensor<4x16xbf16>, tensor<16x8xbf16>) -> tensor<4x8xbf16>
  %l = nuri.exp %r : tensor<4x8xbf16>
  %s = nuri.add %v, %l : tensor<4x8xbf16>, tensor<4x8xbf16> -> tensor<4x8xbf16>
  return %y, %a, %t, %s : tensor<4x8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>
}

// -----

// A constant rhs read transposed is laid out transposed at compile time;
// a batched matmul is a batched GEMM without epilogue.
// CHECK-LABEL: func.func @matmuls
// CHECK: %[[WT:.*]] = nuri.transpose %{{.*}} {permutation = array<i64: 1, 0>} : tensor<8x16xbf16> -> tensor<16x8xbf16>
// CHECK: npu.gemm %arg0, %[[WT]] {act = "relu"}
// CHECK: %[[P:.*]] = npu.gemm %arg1, %arg2 : (tensor<2x4x16xbf16>, tensor<2x16x8xbf16>) -> tensor<2x4x8xbf16>
// CHECK: nuri.relu %[[P]]
func.func @matmuls(%x: tensor<4x16xbf16>, %a: tensor<2x4x16xbf16>, %b: tensor<2x16x8xbf16>) -> (tensor<4x8xbf16>, tensor<2x4x8xbf16>) {
  %w = nuri.constant dense<0.5> : tensor<8x16xbf16>
  %y = nuri.matmul %x, %w {transpose_rhs} : tensor<4x16xbf16>, tensor<8x16xbf16> -> tensor<4x8xbf16>
  %r = nuri.relu %y : tensor<4x8xbf16>
  %p = nuri.matmul %a, %b : tensor<2x4x16xbf16>, tensor<2x16x8xbf16> -> tensor<2x4x8xbf16>
  %q = nuri.relu %p : tensor<2x4x8xbf16>
  return %r, %q : tensor<4x8xbf16>, tensor<2x4x8xbf16>
}

// -----

// What the GEMM kernel cannot take stays a nuri op (the lowering names the
// reason): a transposed lhs, a transposed rhs computed at run time.
// CHECK-LABEL: func.func @no_gemm_form
// CHECK-NOT: npu.gemm
// CHECK: nuri.matmul %arg0, %arg1 {transpose_lhs}
// CHECK: nuri.matmul %arg0, %arg1 {transpose_rhs}
func.func @no_gemm_form(%a: tensor<4x4xbf16>, %b: tensor<4x4xbf16>) -> (tensor<4x4xbf16>, tensor<4x4xbf16>) {
  %p = nuri.matmul %a, %b {transpose_lhs} : tensor<4x4xbf16>, tensor<4x4xbf16> -> tensor<4x4xbf16>
  %q = nuri.matmul %a, %b {transpose_rhs} : tensor<4x4xbf16>, tensor<4x4xbf16> -> tensor<4x4xbf16>
  return %p, %q : tensor<4x4xbf16>, tensor<4x4xbf16>
}

// -----

// Q, K and V of one input, each read by the attention through a head
// split, become one GEMM over the concatenated weights and biases; each
// projection is the slice of its columns.
// CHECK-LABEL: func.func @qkv
// CHECK-DAG: %[[W:.*]] = nuri.concat %{{.*}}, %{{.*}}, %{{.*}} {axis = 1 : i64} : (tensor<8x8xbf16>, tensor<8x8xbf16>, tensor<8x8xbf16>) -> tensor<8x24xbf16>
// CHECK-DAG: %[[B:.*]] = nuri.concat %{{.*}}, %{{.*}}, %{{.*}} {axis = 0 : i64} : (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<24xf32>
// CHECK: %[[QKV:.*]] = npu.gemm %arg0, %[[W]] bias %[[B]] : (tensor<1x4x8xbf16>, tensor<8x24xbf16>, tensor<24xf32>) -> tensor<1x4x24xbf16>
// CHECK: nuri.slice %[[QKV]] {limits = array<i64: 1, 4, 8>, starts = array<i64: 0, 0, 0>, steps = array<i64: 1, 1, 1>}
// CHECK: nuri.slice %[[QKV]] {limits = array<i64: 1, 4, 16>, starts = array<i64: 0, 0, 8>, steps = array<i64: 1, 1, 1>}
// CHECK: nuri.slice %[[QKV]] {limits = array<i64: 1, 4, 24>, starts = array<i64: 0, 0, 16>, steps = array<i64: 1, 1, 1>}
// CHECK-NOT: nuri.linear
func.func @qkv(%x: tensor<1x4x8xbf16>) -> tensor<1x2x4x4xbf16> {
  %wq = nuri.constant dense<0.5> : tensor<8x8xbf16>
  %wk = nuri.constant dense<0.25> : tensor<8x8xbf16>
  %wv = nuri.constant dense<0.125> : tensor<8x8xbf16>
  %bq = nuri.constant dense<1.0> : tensor<8xbf16>
  %bk = nuri.constant dense<2.0> : tensor<8xbf16>
  %bv = nuri.constant dense<3.0> : tensor<8xbf16>
  %q = nuri.linear %x, %wq, %bq : (tensor<1x4x8xbf16>, tensor<8x8xbf16>, tensor<8xbf16>) -> tensor<1x4x8xbf16>
  %q4 = nuri.reshape %q : tensor<1x4x8xbf16> -> tensor<1x4x2x4xbf16>
  %qt = nuri.transpose %q4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x4x2x4xbf16> -> tensor<1x2x4x4xbf16>
  %k = nuri.linear %x, %wk, %bk : (tensor<1x4x8xbf16>, tensor<8x8xbf16>, tensor<8xbf16>) -> tensor<1x4x8xbf16>
  %k4 = nuri.reshape %k : tensor<1x4x8xbf16> -> tensor<1x4x2x4xbf16>
  %kt = nuri.transpose %k4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x4x2x4xbf16> -> tensor<1x2x4x4xbf16>
  %v = nuri.linear %x, %wv, %bv : (tensor<1x4x8xbf16>, tensor<8x8xbf16>, tensor<8xbf16>) -> tensor<1x4x8xbf16>
  %v4 = nuri.reshape %v : tensor<1x4x8xbf16> -> tensor<1x4x2x4xbf16>
  %vt = nuri.transpose %v4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x4x2x4xbf16> -> tensor<1x2x4x4xbf16>
  %o = nuri.attention %qt, %kt, %vt {scale = 0.5 : f32} : (tensor<1x2x4x4xbf16>, tensor<1x2x4x4xbf16>, tensor<1x2x4x4xbf16>) -> tensor<1x2x4x4xbf16>
  return %o : tensor<1x2x4x4xbf16>
}

// -----

// A projection whose result is also read elsewhere is not merged.
// CHECK-LABEL: func.func @qk_not_merged
// CHECK-NOT: nuri.concat
// CHECK-COUNT-2: npu.gemm
func.func @qk_not_merged(%x: tensor<1x4x8xbf16>) -> (tensor<1x2x4x4xbf16>, tensor<1x4x8xbf16>) {
  %wq = nuri.constant dense<0.5> : tensor<8x8xbf16>
  %wk = nuri.constant dense<0.25> : tensor<8x8xbf16>
  %q = nuri.linear %x, %wq : (tensor<1x4x8xbf16>, tensor<8x8xbf16>) -> tensor<1x4x8xbf16>
  %q4 = nuri.reshape %q : tensor<1x4x8xbf16> -> tensor<1x4x2x4xbf16>
  %qt = nuri.transpose %q4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x4x2x4xbf16> -> tensor<1x2x4x4xbf16>
  %k = nuri.linear %x, %wk : (tensor<1x4x8xbf16>, tensor<8x8xbf16>) -> tensor<1x4x8xbf16>
  %k4 = nuri.reshape %k : tensor<1x4x8xbf16> -> tensor<1x4x2x4xbf16>
  %kt = nuri.transpose %k4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x4x2x4xbf16> -> tensor<1x2x4x4xbf16>
  %o = nuri.attention %qt, %kt, %kt {scale = 0.5 : f32} : (tensor<1x2x4x4xbf16>, tensor<1x2x4x4xbf16>, tensor<1x2x4x4xbf16>) -> tensor<1x2x4x4xbf16>
  return %o, %k : tensor<1x2x4x4xbf16>, tensor<1x4x8xbf16>
}

// -----

// GPT-2 reshapes the projection back to [B, S, H] before the residual add:
// the add still joins the read-out, the residual read through the inverse
// reshape and the sum reshaped after (reshapes move no bytes).
// CHECK-LABEL: func.func @residual_behind_reshape
// CHECK: %[[R:.*]] = nuri.reshape %arg1 : tensor<1x8x16xbf16> -> tensor<8x16xbf16>
// CHECK-NEXT: %[[G:.*]] = npu.gemm %arg0, %{{.*}} residual %[[R]] :
// CHECK-NEXT: %[[O:.*]] = nuri.reshape %[[G]] : tensor<8x16xbf16> -> tensor<1x8x16xbf16>
// CHECK-NOT: nuri.add
// CHECK: return %[[O]]
func.func @residual_behind_reshape(%x: tensor<8x32xbf16>, %res: tensor<1x8x16xbf16>) -> tensor<1x8x16xbf16> {
  %w = nuri.constant dense<0.5> : tensor<32x16xbf16>
  %y = nuri.linear %x, %w : (tensor<8x32xbf16>, tensor<32x16xbf16>) -> tensor<8x16xbf16>
  %v = nuri.reshape %y : tensor<8x16xbf16> -> tensor<1x8x16xbf16>
  %s = nuri.add %v, %res : tensor<1x8x16xbf16>, tensor<1x8x16xbf16> -> tensor<1x8x16xbf16>
  return %s : tensor<1x8x16xbf16>
}

// -----

// int8: the graph's quantize (past its widening cast) becomes one
// npu.quantize shared by both products of its input (offset 64 - 128:
// uint8 minus 128); each product takes its bias add, cast and relu into
// the read-out, with the i32 correction -(64 - 128) * sum_k W[k, n] = 64 * 6
// and the scale 0.5 * 0.25 taken at compile time.
// CHECK-LABEL: func.func @int8
// CHECK: %[[Q:.*]] = npu.quantize %arg0 {offset = -64 : i64, scale = 5.000000e-01 : f32} : tensor<2x3xbf16> -> tensor<2x3xi8>
// CHECK-NOT: npu.quantize
// CHECK-DAG: %[[ZB:.*]] = nuri.constant dense<384> : tensor<4xi32>
// CHECK-DAG: %[[S:.*]] = nuri.constant dense<1.250000e-01> : tensor<4xf32>
// CHECK: npu.quantized_gemm %[[Q]], %{{.*}}, %[[ZB]], %[[S]] bias %{{.*}} {act = "relu"} : (tensor<2x3xi8>, tensor<3x4xi8>, tensor<4xi32>, tensor<4xf32>, tensor<4xf32>) -> tensor<2x4xbf16>
// CHECK: npu.quantized_gemm %[[Q]], %{{.*}} : (tensor<2x3xi8>, tensor<3x4xi8>, tensor<4xi32>, tensor<4xf32>) -> tensor<2x4xf32>
// CHECK-NOT: nuri.quantize
// CHECK-NOT: nuri.quantized_matmul
func.func @int8(%x: tensor<2x3xbf16>) -> (tensor<2x4xbf16>, tensor<2x4xf32>) {
  %s = nuri.constant dense<0.5> : tensor<f32>
  %z = nuri.constant dense<64> : tensor<ui8>
  %w = nuri.constant dense<2> : tensor<3x4xi8>
  %wz = nuri.constant dense<0> : tensor<i8>
  %ws = nuri.constant dense<0.25> : tensor<4xf32>
  %b = nuri.constant dense<1.0> : tensor<4xf32>
  %xf = nuri.cast %x : tensor<2x3xbf16> -> tensor<2x3xf32>
  %q1 = nuri.quantize %xf, %s, %z : (tensor<2x3xf32>, tensor<f32>, tensor<ui8>) -> tensor<2x3xui8>
  %y = nuri.quantized_matmul %q1, %w zero_points(%z, %wz) scales(%s, %ws) : (tensor<2x3xui8>, tensor<3x4xi8>, tensor<ui8>, tensor<i8>, tensor<f32>, tensor<4xf32>) -> tensor<2x4xf32>
  %yb = nuri.add %y, %b : tensor<2x4xf32>, tensor<4xf32> -> tensor<2x4xf32>
  %c = nuri.cast %yb : tensor<2x4xf32> -> tensor<2x4xbf16>
  %r = nuri.relu %c : tensor<2x4xbf16>
  %q2 = nuri.quantize %xf, %s, %z : (tensor<2x3xf32>, tensor<f32>, tensor<ui8>) -> tensor<2x3xui8>
  %y2 = nuri.quantized_matmul %q2, %w zero_points(%z, %wz) scales(%s, %ws) : (tensor<2x3xui8>, tensor<3x4xi8>, tensor<ui8>, tensor<i8>, tensor<f32>, tensor<4xf32>) -> tensor<2x4xf32>
  return %r, %y2 : tensor<2x4xbf16>, tensor<2x4xf32>
}

// -----

// A weight with a zero point is not the NPU's form: left as it is (the
// partitioner keeps it on the CPU, quantizedMatmulFormProblem).
// CHECK-LABEL: func.func @asymmetric_weight
// CHECK: nuri.quantized_matmul
// CHECK-NOT: npu.quantized_gemm
func.func @asymmetric_weight(%x: tensor<2x3xf32>) -> tensor<2x4xf32> {
  %s = nuri.constant dense<0.5> : tensor<f32>
  %z = nuri.constant dense<64> : tensor<ui8>
  %w = nuri.constant dense<2> : tensor<3x4xi8>
  %wz = nuri.constant dense<1> : tensor<i8>
  %ws = nuri.constant dense<0.25> : tensor<4xf32>
  %q = nuri.quantize %x, %s, %z : (tensor<2x3xf32>, tensor<f32>, tensor<ui8>) -> tensor<2x3xui8>
  %y = nuri.quantized_matmul %q, %w zero_points(%z, %wz) scales(%s, %ws) : (tensor<2x3xui8>, tensor<3x4xi8>, tensor<ui8>, tensor<i8>, tensor<f32>, tensor<4xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// A GELU only the quantize reads runs in the quantize's kernel.
// CHECK-LABEL: func.func @gelu_quantize
// CHECK: npu.quantize %arg0 {act = "gelu", offset = -128 : i64, scale = 2.500000e-01 : f32} : tensor<2x3xbf16> -> tensor<2x3xi8>
// CHECK-NOT: nuri.gelu
func.func @gelu_quantize(%x: tensor<2x3xbf16>) -> tensor<2x4xf32> {
  %s = nuri.constant dense<0.25> : tensor<f32>
  %z = nuri.constant dense<0> : tensor<ui8>
  %w = nuri.constant dense<2> : tensor<3x4xi8>
  %wz = nuri.constant dense<0> : tensor<i8>
  %ws = nuri.constant dense<0.25> : tensor<4xf32>
  %g = nuri.gelu %x : tensor<2x3xbf16>
  %xf = nuri.cast %g : tensor<2x3xbf16> -> tensor<2x3xf32>
  %q = nuri.quantize %xf, %s, %z : (tensor<2x3xf32>, tensor<f32>, tensor<ui8>) -> tensor<2x3xui8>
  %y = nuri.quantized_matmul %q, %w zero_points(%z, %wz) scales(%s, %ws) : (tensor<2x3xui8>, tensor<3x4xi8>, tensor<ui8>, tensor<i8>, tensor<f32>, tensor<4xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// Weight-only weights stay compressed: the int8 weight itself with its
// scales as a row, the 4-bit blocks repacked into rows of K (two columns a
// byte, each u ^ 8: q [[192, 134, ...], [192, 138, ...]] holds column 0
// (0, 12, 6) and column 1 (0, 12, 10) -> rows (8, 8), (4, 4), (14, 2), as
// bytes 0x88 = -120, 0x44 = 68, 0x2e = 46) with the scales transposed.
// CHECK-LABEL: func.func @weight_only
// CHECK-DAG: %[[Q8:.*]] = nuri.constant dense<{{\[}}[2, -4], [6, 8]]> : tensor<2x2xi8>
// CHECK-DAG: %[[S8:.*]] = nuri.reshape %{{.*}} : tensor<2xf32> -> tensor<1x2xf32>
// CHECK: npu.gemm %arg0, %[[Q8]] scales %[[S8]] {b_bits = 8 : i64, b_group = 2 : i64}
// CHECK-DAG: %[[Q4:.*]] = nuri.constant dense<{{\[}}[-120], [68], [46]]> : tensor<3x1xi8>
// CHECK-DAG: %[[S4:.*]] = nuri.transpose %{{.*}} {permutation = array<i64: 1, 0>} : tensor<2x1xf32> -> tensor<1x2xf32>
// CHECK: npu.gemm %arg1, %[[Q4]] scales %[[S4]] {b_bits = 4 : i64, b_group = 16 : i64}
func.func @weight_only(%x: tensor<1x2xbf16>, %x3: tensor<1x3xbf16>) -> (tensor<1x2xbf16>, tensor<1x2xbf16>) {
  %q = nuri.constant dense<[[2, -4], [6, 8]]> : tensor<2x2xi8>
  %s = nuri.constant dense<[0.5, 0.25]> : tensor<2xf32>
  %w = nuri.dequantize %q, %s : (tensor<2x2xi8>, tensor<2xf32>) -> tensor<2x2xf32>
  %wb = nuri.cast %w : tensor<2x2xf32> -> tensor<2x2xbf16>
  %y = nuri.linear %x, %wb : (tensor<1x2xbf16>, tensor<2x2xbf16>) -> tensor<1x2xbf16>
  %q4 = nuri.constant dense<[[[192, 134, 136, 136, 136, 136, 136, 136]], [[192, 138, 136, 136, 136, 136, 136, 136]]]> : tensor<2x1x8xui8>
  %s4 = nuri.constant dense<[[-0.5], [0.125]]> : tensor<2x1xf32>
  %w4 = nuri.dequantize_blocked %q4, %s4 {bits = 4 : i64, block_size = 16 : i64} : (tensor<2x1x8xui8>, tensor<2x1xf32>) -> tensor<3x2xf32>
  %w4b = nuri.cast %w4 : tensor<3x2xf32> -> tensor<3x2xbf16>
  %y4 = nuri.linear %x3, %w4b : (tensor<1x3xbf16>, tensor<3x2xbf16>) -> tensor<1x2xbf16>
  return %y, %y4 : tensor<1x2xbf16>, tensor<1x2xbf16>
}
