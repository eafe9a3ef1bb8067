// RUN: nuri-opt %s --nuri-fuse-quantized-matmul --split-input-file | FileCheck %s

// ONNX Runtime's dynamic quantization: DynamicQuantizeLinear, MatMulInteger,
// Cast, and the scale product of the activation's and the weight's
// per-channel scales.
// CHECK-LABEL: func @ort_dynamic
// CHECK: %[[Q:.*]], %[[S:.*]], %[[Z:.*]] = nuri.dynamic_quantize %arg0
// CHECK-NEXT: %[[Y:.*]] = nuri.quantized_matmul %[[Q]], %arg1 zero_points(%[[Z]], %arg2) scales(%[[S]], %arg3) : (tensor<2x3x8xui8>, tensor<8x4xi8>, tensor<ui8>, tensor<4xi8>, tensor<f32>, tensor<4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT: return %[[Y]]
func.func @ort_dynamic(%x: tensor<2x3x8xf32>, %w: tensor<8x4xi8>, %wzp: tensor<4xi8>, %ws: tensor<4xf32>) -> tensor<2x3x4xf32> {
  %q, %s, %zp = nuri.dynamic_quantize %x : (tensor<2x3x8xf32>) -> (tensor<2x3x8xui8>, tensor<f32>, tensor<ui8>)
  %acc = nuri.quantized_matmul %q, %w zero_points(%zp, %wzp) : (tensor<2x3x8xui8>, tensor<8x4xi8>, tensor<ui8>, tensor<4xi8>) -> tensor<2x3x4xi32>
  %f = nuri.cast %acc : tensor<2x3x4xi32> -> tensor<2x3x4xf32>
  %sc = nuri.mul %s, %ws : tensor<f32>, tensor<4xf32> -> tensor<4xf32>
  %y = nuri.mul %f, %sc : tensor<2x3x4xf32>, tensor<4xf32> -> tensor<2x3x4xf32>
  return %y : tensor<2x3x4xf32>
}

// -----

// Either operand order of both muls; both scales are per tensor, so they
// stay in the order written (fp32 multiplication commutes).
// CHECK-LABEL: func @ort_dynamic_commuted
// CHECK: nuri.quantized_matmul %arg0, %arg1 zero_points(%arg2, %arg3) scales(%arg5, %arg4) : (tensor<3x8xui8>, tensor<8x4xui8>, tensor<ui8>, tensor<ui8>, tensor<f32>, tensor<f32>) -> tensor<3x4xf32>
// CHECK-NOT: nuri.mul
func.func @ort_dynamic_commuted(%q: tensor<3x8xui8>, %w: tensor<8x4xui8>, %zp: tensor<ui8>, %wzp: tensor<ui8>, %s: tensor<f32>, %ws: tensor<f32>) -> tensor<3x4xf32> {
  %acc = nuri.quantized_matmul %q, %w zero_points(%zp, %wzp) : (tensor<3x8xui8>, tensor<8x4xui8>, tensor<ui8>, tensor<ui8>) -> tensor<3x4xi32>
  %f = nuri.cast %acc : tensor<3x4xi32> -> tensor<3x4xf32>
  %sc = nuri.mul %ws, %s : tensor<f32>, tensor<f32> -> tensor<f32>
  %y = nuri.mul %sc, %f : tensor<f32>, tensor<3x4xf32> -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

// A scale the exporter multiplied out already: times 1.0 in the read-out.
// CHECK-LABEL: func @premultiplied_scale
// CHECK: %[[ONE:.*]] = nuri.constant dense<1.000000e+00> : tensor<f32>
// CHECK: nuri.quantized_matmul %arg0, %arg1 zero_points(%arg2, %arg3) scales(%[[ONE]], %arg4)
func.func @premultiplied_scale(%q: tensor<3x8xi8>, %w: tensor<8x4xi8>, %zp: tensor<i8>, %wzp: tensor<i8>, %s: tensor<4xf32>) -> tensor<3x4xf32> {
  %acc = nuri.quantized_matmul %q, %w zero_points(%zp, %wzp) : (tensor<3x8xi8>, tensor<8x4xi8>, tensor<i8>, tensor<i8>) -> tensor<3x4xi32>
  %f = nuri.cast %acc : tensor<3x4xi32> -> tensor<3x4xf32>
  %y = nuri.mul %f, %s : tensor<3x4xf32>, tensor<4xf32> -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

// A scale that varies along rows is not a read-out scale: no fold.
// CHECK-LABEL: func @row_scale_stays
// CHECK: nuri.cast
// CHECK: nuri.mul
func.func @row_scale_stays(%q: tensor<3x8xi8>, %w: tensor<8x4xi8>, %zp: tensor<i8>, %s: tensor<3x1xf32>) -> tensor<3x4xf32> {
  %acc = nuri.quantized_matmul %q, %w zero_points(%zp, %zp) : (tensor<3x8xi8>, tensor<8x4xi8>, tensor<i8>, tensor<i8>) -> tensor<3x4xi32>
  %f = nuri.cast %acc : tensor<3x4xi32> -> tensor<3x4xf32>
  %y = nuri.mul %f, %s : tensor<3x4xf32>, tensor<3x1xf32> -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

// QDQ: a per-tensor activation and a per-output-channel int8 weight.
// CHECK-LABEL: func @qdq_per_channel
// CHECK: %[[Z:.*]] = nuri.constant dense<0> : tensor<i8>
// CHECK: %[[Y:.*]] = nuri.quantized_matmul %arg0, %[[W:.*]] zero_points(%arg2, %[[Z]]) scales(%arg1, %[[S:.*]]) : (tensor<1x2x8xui8>, tensor<8x4xi8>, tensor<ui8>, tensor<i8>, tensor<f32>, tensor<4xf32>) -> tensor<1x2x4xf32>
// CHECK-NEXT: return %[[Y]]
func.func @qdq_per_channel(%x: tensor<1x2x8xui8>, %xs: tensor<f32>, %xz: tensor<ui8>) -> tensor<1x2x4xf32> {
  %w = nuri.constant dense<3> : tensor<8x4xi8>
  %ws = nuri.constant dense<[0.5, 0.25, 0.125, 1.0]> : tensor<4xf32>
  %a = nuri.dequantize %x, %xs, %xz : (tensor<1x2x8xui8>, tensor<f32>, tensor<ui8>) -> tensor<1x2x8xf32>
  %b = nuri.dequantize %w, %ws {axis = 1 : i64} : (tensor<8x4xi8>, tensor<4xf32>) -> tensor<8x4xf32>
  %y = nuri.matmul %a, %b : tensor<1x2x8xf32>, tensor<8x4xf32> -> tensor<1x2x4xf32>
  return %y : tensor<1x2x4xf32>
}

// -----

// Opset 19's float8 QDQ: both operands e4m3 (no zero points), the product
// e4m3 x e4m3 with the scales in the read-out.
// CHECK-LABEL: func @qdq_fp8
// CHECK-DAG: %[[Z:.*]] = nuri.constant dense<0.000000e+00> : tensor<f8E4M3FN>
// CHECK-DAG: %[[W:.*]] = nuri.constant dense<2.000000e+00> : tensor<8x4xf8E4M3FN>
// CHECK: %[[Y:.*]] = nuri.quantized_matmul %arg0, %[[W]] zero_points(%[[Z]], %[[Z]]) scales(%arg1, %{{.*}}) : (tensor<2x8xf8E4M3FN>, tensor<8x4xf8E4M3FN>, tensor<f8E4M3FN>, tensor<f8E4M3FN>, tensor<f32>, tensor<4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: return %[[Y]]
func.func @qdq_fp8(%x: tensor<2x8xf8E4M3FN>, %xs: tensor<f32>) -> tensor<2x4xf32> {
  %w = nuri.constant dense<2.0> : tensor<8x4xf8E4M3FN>
  %ws = nuri.constant dense<[0.5, 0.25, 0.125, 1.0]> : tensor<4xf32>
  %a = nuri.dequantize %x, %xs : (tensor<2x8xf8E4M3FN>, tensor<f32>) -> tensor<2x8xf32>
  %b = nuri.dequantize %w, %ws {axis = 1 : i64} : (tensor<8x4xf8E4M3FN>, tensor<4xf32>) -> tensor<8x4xf32>
  %y = nuri.matmul %a, %b : tensor<2x8xf32>, tensor<8x4xf32> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// An e4m3 activation against an int8 weight is no 8-bit product: it stays.
// CHECK-LABEL: func @qdq_fp8_mixed
// CHECK-NOT: nuri.quantized_matmul
// CHECK: nuri.matmul
func.func @qdq_fp8_mixed(%x: tensor<2x8xf8E4M3FN>, %xs: tensor<f32>, %w: tensor<8x4xi8>, %ws: tensor<4xf32>) -> tensor<2x4xf32> {
  %a = nuri.dequantize %x, %xs : (tensor<2x8xf8E4M3FN>, tensor<f32>) -> tensor<2x8xf32>
  %b = nuri.dequantize %w, %ws {axis = 1 : i64} : (tensor<8x4xi8>, tensor<4xf32>) -> tensor<8x4xf32>
  %y = nuri.matmul %a, %b : tensor<2x8xf32>, tensor<8x4xf32> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// Gemm's transB: the weight is [N, K] quantized along axis 0; the int8
// weight is transposed instead.
// CHECK-LABEL: func @qdq_transposed
// CHECK: %[[T:.*]] = nuri.transpose %arg2 {permutation = array<i64: 1, 0>} : tensor<4x8xi8> -> tensor<8x4xi8>
// CHECK: nuri.quantized_matmul %arg0, %[[T]] zero_points({{.*}}) scales(%arg1, %arg3)
// CHECK-NOT: nuri.matmul
func.func @qdq_transposed(%x: tensor<2x8xi8>, %xs: tensor<f32>, %w: tensor<4x8xi8>, %ws: tensor<4xf32>) -> tensor<2x4xf32> {
  %a = nuri.dequantize %x, %xs : (tensor<2x8xi8>, tensor<f32>) -> tensor<2x8xf32>
  %b = nuri.dequantize %w, %ws {axis = 0 : i64} : (tensor<4x8xi8>, tensor<4xf32>) -> tensor<4x8xf32>
  %y = nuri.matmul %a, %b {transpose_rhs} : tensor<2x8xf32>, tensor<4x8xf32> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// torch.onnx.export's Linear on a 3-D activation: MatMul(x,
// Transpose(DequantizeLinear(W, axis 0))). The transpose moves onto the int8
// weight, the channel axis with it (0 -> 1), and the product folds.
// CHECK-LABEL: func @qdq_transpose_of_dequantize
// CHECK: %[[T:.*]] = nuri.transpose %arg2 {permutation = array<i64: 1, 0>} : tensor<4x8xi8> -> tensor<8x4xi8>
// CHECK: nuri.quantized_matmul %arg0, %[[T]] zero_points(%arg4, %arg5) scales(%arg1, %arg3) : (tensor<2x3x8xui8>, tensor<8x4xi8>, tensor<ui8>, tensor<4xi8>, tensor<f32>, tensor<4xf32>) -> tensor<2x3x4xf32>
// CHECK-NOT: nuri.dequantize
func.func @qdq_transpose_of_dequantize(%x: tensor<2x3x8xui8>, %xs: tensor<f32>, %w: tensor<4x8xi8>, %ws: tensor<4xf32>, %xz: tensor<ui8>, %wz: tensor<4xi8>) -> tensor<2x3x4xf32> {
  %a = nuri.dequantize %x, %xs, %xz : (tensor<2x3x8xui8>, tensor<f32>, tensor<ui8>) -> tensor<2x3x8xf32>
  %b = nuri.dequantize %w, %ws, %wz {axis = 0 : i64} : (tensor<4x8xi8>, tensor<4xf32>, tensor<4xi8>) -> tensor<4x8xf32>
  %t = nuri.transpose %b {permutation = array<i64: 1, 0>} : tensor<4x8xf32> -> tensor<8x4xf32>
  %y = nuri.matmul %a, %t : tensor<2x3x8xf32>, tensor<8x4xf32> -> tensor<2x3x4xf32>
  return %y : tensor<2x3x4xf32>
}

// -----

// A dequantize with another use keeps its transpose (swapping would
// dequantize twice).
// CHECK-LABEL: func @shared_dequantize_keeps_transpose
// CHECK: %[[D:.*]] = nuri.dequantize %arg0, %arg1
// CHECK: nuri.transpose %[[D]]
func.func @shared_dequantize_keeps_transpose(%w: tensor<4x8xi8>, %ws: tensor<4xf32>) -> (tensor<8x4xf32>, tensor<4x8xf32>) {
  %b = nuri.dequantize %w, %ws {axis = 0 : i64} : (tensor<4x8xi8>, tensor<4xf32>) -> tensor<4x8xf32>
  %t = nuri.transpose %b {permutation = array<i64: 1, 0>} : tensor<4x8xf32> -> tensor<8x4xf32>
  return %t, %b : tensor<8x4xf32>, tensor<4x8xf32>
}

// -----

// A weight quantized along the contracting axis: its scales cannot leave
// the sum, so the dequantize and matmul stay.
// CHECK-LABEL: func @qdq_contracting_axis_stays
// CHECK: nuri.dequantize
// CHECK: nuri.dequantize
// CHECK: nuri.matmul
// CHECK-NOT: nuri.quantized_matmul
func.func @qdq_contracting_axis_stays(%x: tensor<2x8xi8>, %xs: tensor<f32>, %w: tensor<8x4xi8>, %ws: tensor<8xf32>) -> tensor<2x4xf32> {
  %a = nuri.dequantize %x, %xs : (tensor<2x8xi8>, tensor<f32>) -> tensor<2x8xf32>
  %b = nuri.dequantize %w, %ws {axis = 0 : i64} : (tensor<8x4xi8>, tensor<8xf32>) -> tensor<8x4xf32>
  %y = nuri.matmul %a, %b : tensor<2x8xf32>, tensor<8x4xf32> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// A float activation (weight-only quantization) has no integer side to
// multiply: it stays a dequantize and a float matmul.
// CHECK-LABEL: func @weight_only_stays
// CHECK: nuri.dequantize
// CHECK: nuri.matmul
func.func @weight_only_stays(%x: tensor<2x8xf32>, %w: tensor<8x4xi8>, %ws: tensor<4xf32>) -> tensor<2x4xf32> {
  %b = nuri.dequantize %w, %ws {axis = 1 : i64} : (tensor<8x4xi8>, tensor<4xf32>) -> tensor<8x4xf32>
  %y = nuri.matmul %x, %b : tensor<2x8xf32>, tensor<8x4xf32> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}
