// RUN: nuri-opt %s --nuri-quantize=scheme=w8a16 --split-input-file | FileCheck %s

// w8a16: the weight is stored as per-column int8 and dequantized in front of
// the float linear; no calibration is needed, the activations stay float.
// CHECK-LABEL: func @w8a16
// CHECK-DAG: %[[WQ:.*]] = nuri.constant dense<{{\[}}[127, -64, 64], [32, 127, -127]]> : tensor<2x3xi8>
// CHECK-DAG: %[[WS:.*]] = nuri.constant dense<[0.00787401571, 0.0314960629, 0.00787401571]> : tensor<3xf32>
// CHECK: %[[W:.*]] = nuri.dequantize %[[WQ]], %[[WS]] : (tensor<2x3xi8>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK: nuri.linear %arg0, %[[W]], %{{.*}} {nuri.quant_key = "fc"}
// CHECK-NOT: nuri.quantized_matmul
func.func @w8a16(%x: tensor<4x2xf32>) -> tensor<4x3xf32> {
  %w = nuri.constant dense<[[1.0, -2.0, 0.5], [0.25, 4.0, -1.0]]> : tensor<2x3xf32>
  %b = nuri.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
  %y = nuri.linear %x, %w, %b : (tensor<4x2xf32>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<4x3xf32> loc("fc")
  %r = nuri.relu %y : tensor<4x3xf32>
  return %r : tensor<4x3xf32>
}
