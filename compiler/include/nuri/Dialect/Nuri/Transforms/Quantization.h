//===- Quantization.h - What post-training quantization acts on -*- C++ -*-===//
//
// `nuri compile --quantize` is three steps that must agree on which ops they
// act on and what to call them: the driver calibrates the float model (it
// returns the input of each candidate as an extra output), nuri-smooth-quant
// migrates activation outliers into the preceding LayerNorm, nuri-quantize
// rewrites the candidates. A candidate is keyed by its ONNX node name, so a
// calibration made with one set of input shapes applies to any other
// compile of the same model (a prefill bucket, a batch size).
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NURI_TRANSFORMS_QUANTIZATION_H
#define NURI_DIALECT_NURI_TRANSFORMS_QUANTIZATION_H

#include "nuri/Dialect/Nuri/IR/NuriOps.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <vector>

namespace nuri {

/// On a candidate linear: the calibrated range of its input,
/// `{min = f32, max = f32, channel_absmax = array<f32: ...>}` (min/max for
/// int8, channel_absmax, one value per input channel, for SmoothQuant).
constexpr llvm::StringLiteral kCalibrationAttr = "nuri.calibration";
/// On a candidate linear: why it stays float (`--exclude`, the model head);
/// both passes leave it alone.
constexpr llvm::StringLiteral kQuantizeSkipAttr = "nuri.quantize_skip";
/// On the op that produces a quantized layer's result: the candidate's key,
/// so `--accuracy-report` can compare it with the float layer.
constexpr llvm::StringLiteral kQuantKeyAttr = "nuri.quant_key";

struct QuantCandidate {
  LinearOp op;
  /// The ONNX node name ("/transformer/h.0/attn/c_attn/Gemm"), with "#N"
  /// appended to the Nth repeat of a name.
  std::string key;
  /// The model head (its result reaches a function result through shape
  /// ops only, or its name says lm_head): stays float unless asked.
  bool head = false;
};

/// The linears by a constant 2-D f32 weight with an f32 input of rank >= 2
/// (quantized_matmul's operands), in program order.
std::vector<QuantCandidate> collectQuantCandidates(mlir::ModuleOp module);

/// Whether the module already holds quantized ops (a QDQ or dynamically
/// quantized model); returns the first one or null.
mlir::Operation *findQuantizedOp(mlir::ModuleOp module);

} // namespace nuri

#endif // NURI_DIALECT_NURI_TRANSFORMS_QUANTIZATION_H
