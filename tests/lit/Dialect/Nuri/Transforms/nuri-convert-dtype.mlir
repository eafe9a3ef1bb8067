// RUN: nuri-opt %s --nuri-convert-dtype=dtype=bf16 --split-input-file | FileCheck %s
// RUN: nuri-opt %s --nuri-convert-dtype=dtype=fp16 --split-input-file | FileCheck %s --check-prefix=FP16

// Float arguments are cast on entry, float results cast back: the model
// keeps its fp32 interface. Weights round to nearest even at compile time
// (3 + 1/128 is a tie and goes to the even 3.0; 3 + 3/128 goes up).
// CHECK-LABEL: func @linear
// CHECK-SAME: (%[[X:.*]]: tensor<2x4xf32> {nuri.name = "x"}) -> (tensor<2x3xf32> {nuri.name = "y"})
// CHECK: %[[XB:.*]] = nuri.cast %[[X]] : tensor<2x4xf32> -> tensor<2x4xbf16>
// CHECK: %[[W:.*]] = nuri.constant dense<1.000980e-01> : tensor<4x3xbf16>
// CHECK: %[[B:.*]] = nuri.constant dense<[1.000000e+00, 3.000000e+00, 3.031250e+00]> : tensor<3xbf16>
// CHECK: %[[Y:.*]] = nuri.linear %[[XB]], %[[W]], %[[B]] : (tensor<2x4xbf16>, tensor<4x3xbf16>, tensor<3xbf16>) -> tensor<2x3xbf16>
// CHECK: %[[S:.*]] = nuri.softmax %[[Y]] {axis = 1 : i64} : tensor<2x3xbf16>
// CHECK: %[[R:.*]] = nuri.cast %[[S]] : tensor<2x3xbf16> -> tensor<2x3xf32>
// CHECK: return %[[R]] : tensor<2x3xf32>
func.func @linear(%x: tensor<2x4xf32> {nuri.name = "x"}) -> (tensor<2x3xf32> {nuri.name = "y"}) {
  %w = nuri.constant dense<0.1> : tensor<4x3xf32>
  %b = nuri.constant dense<[1.0, 3.0078125, 3.0234375]> : tensor<3xf32>
  %y = nuri.linear %x, %w, %b : (tensor<2x4xf32>, tensor<4x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %s = nuri.softmax %y {axis = 1 : i64} : tensor<2x3xf32>
  return %s : tensor<2x3xf32>
}

// -----

// Integer tensors are untouched; an opaque ONNX op keeps fp32 with casts
// around it, and the converted ops after it read the compute dtype.
// CHECK-LABEL: func @opaque
// CHECK: %[[T:.*]] = nuri.cast %arg1 : tensor<8x2xf32> -> tensor<8x2xbf16>
// CHECK: %[[E:.*]] = nuri.gather %[[T]], %arg0 {axis = 0 : i64} : tensor<8x2xbf16>, tensor<1x4xi64> -> tensor<1x4x2xbf16>
// CHECK: %[[E32:.*]] = nuri.cast %[[E]] : tensor<1x4x2xbf16> -> tensor<1x4x2xf32>
// CHECK: %[[K:.*]]:2 = nuri.onnx_op "TopK"(%[[E32]], %arg0)
// CHECK-SAME: (tensor<1x4x2xf32>, tensor<1x4xi64>) -> (tensor<1x4x2xf32>, tensor<1x4xi64>)
// CHECK: %[[V:.*]] = nuri.cast %[[K]]#0 : tensor<1x4x2xf32> -> tensor<1x4x2xbf16>
// CHECK: %[[N:.*]] = nuri.neg %[[V]] : tensor<1x4x2xbf16>
// CHECK: %[[R:.*]] = nuri.cast %[[N]] : tensor<1x4x2xbf16> -> tensor<1x4x2xf32>
// CHECK: return %[[R]], %[[K]]#1 : tensor<1x4x2xf32>, tensor<1x4xi64>
func.func @opaque(%ids: tensor<1x4xi64>, %t: tensor<8x2xf32>) -> (tensor<1x4x2xf32>, tensor<1x4xi64>) {
  %e = nuri.gather %t, %ids {axis = 0 : i64} : tensor<8x2xf32>, tensor<1x4xi64> -> tensor<1x4x2xf32>
  %v, %i = nuri.onnx_op "TopK"(%e, %ids) {domain = "", opset = 17 : i64, onnx_attributes = {axis = -1 : i64}} : (tensor<1x4x2xf32>, tensor<1x4xi64>) -> (tensor<1x4x2xf32>, tensor<1x4xi64>)
  %n = nuri.neg %v : tensor<1x4x2xf32>
  return %n, %i : tensor<1x4x2xf32>, tensor<1x4xi64>
}

// -----

// A cast the model had (integer mask to float) now produces the compute
// dtype; a float-to-float cast that became an identity disappears.
// CHECK-LABEL: func @casts
// CHECK: %[[M:.*]] = nuri.cast %arg0 : tensor<1x4xi64> -> tensor<1x4xbf16>
// CHECK-NOT: nuri.cast
// CHECK: %[[A:.*]] = nuri.add %[[M]], %[[M]] : tensor<1x4xbf16>, tensor<1x4xbf16> -> tensor<1x4xbf16>
// CHECK: %[[R:.*]] = nuri.cast %[[A]] : tensor<1x4xbf16> -> tensor<1x4xf16>
// CHECK: return %[[R]]
func.func @casts(%mask: tensor<1x4xi64>) -> tensor<1x4xf16> {
  %f = nuri.cast %mask : tensor<1x4xi64> -> tensor<1x4xf32>
  %h = nuri.cast %f : tensor<1x4xf32> -> tensor<1x4xf16>
  %a = nuri.add %h, %h : tensor<1x4xf16>, tensor<1x4xf16> -> tensor<1x4xf16>
  return %a : tensor<1x4xf16>
}

// -----

// fp16 converts the same way.
// CHECK-LABEL: func @half
// CHECK: nuri.constant dense<1.000980e-01> : tensor<3xbf16>
// FP16-LABEL: func @half
// FP16: nuri.cast %arg0 : tensor<3xf32> -> tensor<3xf16>
// FP16: nuri.constant dense<9.997550e-02> : tensor<3xf16>
// FP16: nuri.mul {{.*}} : tensor<3xf16>, tensor<3xf16> -> tensor<3xf16>
func.func @half(%x: tensor<3xf32>) -> tensor<3xf32> {
  %c = nuri.constant dense<0.1> : tensor<3xf32>
  %y = nuri.mul %x, %c : tensor<3xf32>, tensor<3xf32> -> tensor<3xf32>
  return %y : tensor<3xf32>
}

// -----

// -FLT_MAX (a mask value) saturates to the largest finite bf16 instead of
// rounding to -inf; infinities stay infinite.
// CHECK-LABEL: func @saturate
// CHECK: nuri.constant dense<[-3.389530e+38, 0xFF80]> : tensor<2xbf16>
// FP16-LABEL: func @saturate
// FP16: nuri.constant dense<[-6.550400e+04, 0xFC00]> : tensor<2xf16>
func.func @saturate(%x: tensor<2xf32>) -> tensor<2xf32> {
  %m = nuri.constant dense<[-3.40282347e+38, 0xFF800000]> : tensor<2xf32>
  %y = nuri.add %x, %m : tensor<2xf32>, tensor<2xf32> -> tensor<2xf32>
  return %y : tensor<2xf32>
}

// -----

// Constants of more than 16 elements convert byte to byte (the weight path),
// with the same rounding and saturation.
// CHECK-LABEL: func @weights
// CHECK: nuri.constant dense<[1.000000e+00, 3.000000e+00, 3.031250e+00, -3.389530e+38, 0xFF80, 1.000980e-01, 2.000000e+00, {{.*}}]> : tensor<20xbf16>
// FP16-LABEL: func @weights
// FP16: nuri.constant dense<[1.000000e+00, 3.007810e+00, 3.023440e+00, -6.550400e+04, 0xFC00, 9.997550e-02, 2.000000e+00, {{.*}}]> : tensor<20xf16>
func.func @weights(%x: tensor<20xf32>) -> tensor<20xf32> {
  %m = nuri.constant dense<[1.0, 3.0078125, 3.0234375, -3.40282347e+38, 0xFF800000, 0.1, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0]> : tensor<20xf32>
  %y = nuri.add %x, %m : tensor<20xf32>, tensor<20xf32> -> tensor<20xf32>
  return %y : tensor<20xf32>
}

// -----

// A state buffer (nuri-kv-cache's cache) is storage, not interface: its
// argument and result take the compute dtype, with no cast at the edges,
// while the model's own inputs and outputs keep fp32.
// CHECK-LABEL: func.func @state
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<1x2x1x8xf32> {nuri.name = "q"}
// CHECK-SAME: %[[C:[a-z0-9]+]]: tensor<4x2x16x8xbf16> {nuri.name = "past.key", nuri.state = "past.key"}
// CHECK-SAME: -> (tensor<1x2x1x8xf32> {nuri.name = "out"}, tensor<4x2x16x8xbf16> {nuri.name = "present.key", nuri.state = "past.key"})
// CHECK-NOT: nuri.cast %[[C]]
// CHECK: %[[W:.*]] = nuri.cache_write %[[C]]
// CHECK-NOT: nuri.cast %[[W]]
// CHECK: return %{{.*}}, %[[W]]
// FP16-LABEL: func.func @state
// FP16-SAME: tensor<4x2x16x8xf16> {nuri.name = "past.key", nuri.state = "past.key"}
func.func @state(%q: tensor<1x2x1x8xf32> {nuri.name = "q"},
                 %cache: tensor<4x2x16x8xf32> {nuri.name = "past.key", nuri.state = "past.key"},
                 %v: tensor<4x2x16x8xf32> {nuri.name = "past.value", nuri.state = "past.value"},
                 %slots: tensor<1xi64> {nuri.name = "kv_slots"},
                 %pos: tensor<1xi64> {nuri.name = "kv_positions"})
    -> (tensor<1x2x1x8xf32> {nuri.name = "out"},
        tensor<4x2x16x8xf32> {nuri.name = "present.key", nuri.state = "past.key"}) {
  %w = nuri.cache_write %cache, %q, %slots, %pos : (tensor<4x2x16x8xf32>, tensor<1x2x1x8xf32>, tensor<1xi64>, tensor<1xi64>) -> tensor<4x2x16x8xf32>
  %o = nuri.cache_attention %q, %w, %v, %slots {context_length = 4 : i64, scale = 0.25 : f32} : (tensor<1x2x1x8xf32>, tensor<4x2x16x8xf32>, tensor<4x2x16x8xf32>, tensor<1xi64>) -> tensor<1x2x1x8xf32>
  return %o, %w : tensor<1x2x1x8xf32>, tensor<4x2x16x8xf32>
}

// -----

// The bias add of a quantized product stays fp32 and reads the product
// itself (the int8 read-out rounds once, after the bias); its result is
// rounded for the converted relu.
// CHECK-LABEL: func @quantized_bias_add
// CHECK: %[[Y:.*]] = nuri.quantized_matmul {{.*}} -> tensor<2x4xf32>
// CHECK-NEXT: %[[B:.*]] = nuri.cast %{{.*}} : tensor<4xbf16> -> tensor<4xf32>
// CHECK-NEXT: %[[A:.*]] = nuri.add %[[Y]], %[[B]] : tensor<2x4xf32>, tensor<4xf32> -> tensor<2x4xf32>
// CHECK-NEXT: %[[C:.*]] = nuri.cast %[[A]] : tensor<2x4xf32> -> tensor<2x4xbf16>
// CHECK-NEXT: nuri.relu %[[C]] : tensor<2x4xbf16>
// FP16-LABEL: func @quantized_bias_add
// FP16: nuri.add {{.*}} -> tensor<2x4xf32>
func.func @quantized_bias_add(%q: tensor<2x3xui8>) -> tensor<2x4xf32> {
  %s = nuri.constant dense<0.5> : tensor<f32>
  %z = nuri.constant dense<64> : tensor<ui8>
  %w = nuri.constant dense<2> : tensor<3x4xi8>
  %wz = nuri.constant dense<0> : tensor<i8>
  %ws = nuri.constant dense<0.25> : tensor<4xf32>
  %b = nuri.constant dense<1.0> : tensor<4xf32>
  %y = nuri.quantized_matmul %q, %w zero_points(%z, %wz) scales(%s, %ws) : (tensor<2x3xui8>, tensor<3x4xi8>, tensor<ui8>, tensor<i8>, tensor<f32>, tensor<4xf32>) -> tensor<2x4xf32>
  %yb = nuri.add %y, %b : tensor<2x4xf32>, tensor<4xf32> -> tensor<2x4xf32>
  %r = nuri.relu %yb : tensor<2x4xf32>
  return %r : tensor<2x4xf32>
}
