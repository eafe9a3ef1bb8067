//===- WeightOnly.h - Weight-only quantized weights the NPU expands -*- C++
//-*-===//
//
// The forms of a weight-only quantized weight (w8a16, w4a16) that the NPU's
// GEMM reads compressed from DRAM and expands on chip (dma.dq, docs/isa.md):
// one rule, read by the graph pass that would otherwise fold the weight to
// float (nuri-fold-weight-dequantize) and by the NPU lowering that packs it
// (npu-fuse-epilogues).
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NURI_IR_WEIGHTONLY_H
#define NURI_DIALECT_NURI_IR_WEIGHTONLY_H

#include "mlir/IR/BuiltinAttributeInterfaces.h"
#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"
#include "mlir/Support/LogicalResult.h"

#include <optional>

namespace nuri {

/// A constant `[K, N]` weight stored as signed `bits`-bit values times an
/// fp32 scale per column and group of `group` rows of K:
/// - `bits` 8: `nuri.dequantize` of a 2-D i8 constant along axis 1, a 1-D
///   constant scale per column, no zero point (`--quantize w8a16`);
///   `group` is K.
/// - `bits` 4: `nuri.dequantize_blocked` of 4-bit blocks with the implicit
///   zero point 8 (no zero points; `--quantize w4a16`, MatMulNBits without
///   zero points) and an even N; `group` is the block size.
struct ExpandableWeight {
  mlir::Operation *op = nullptr; ///< the dequantize
  unsigned bits = 0;
  int64_t K = 0, N = 0, group = 0;
};

/// `op`'s form, or nullopt when it is not one of the above (then the
/// weight is folded to float for the chips).
std::optional<ExpandableWeight> expandableWeight(mlir::Operation *op);

/// The dequantize behind `w` (through one cast to the compute dtype), if
/// it has an expandable form.
std::optional<ExpandableWeight> expandableWeightOf(mlir::Value w);

/// A constant, or a cast of one (what nuri-convert-dtype leaves of an fp32
/// constant an fp32 op reads: rounded to the compute dtype, widened back).
bool isConstantOrCast(mlir::Value v);

/// The float result of a `nuri.dequantize` or `nuri.dequantize_blocked` of
/// constants, computed by the CPU device's kernel (what a cpu session
/// computes at prepare, bit for bit); failure when an operand is not a
/// constant or a cast of one (isConstantOrCast; the cast rounds as
/// nuri.cast does). nuri-fold-weight-dequantize folds with it, and the NPU
/// lowering expands a weight its GEMM does not read compressed. Defined
/// in NuriTransforms (FoldWeightDequantize.cpp), which links the CPU
/// kernels.
mlir::FailureOr<mlir::ElementsAttr>
evaluateWeightDequantize(mlir::Operation *op);

} // namespace nuri

#endif // NURI_DIALECT_NURI_IR_WEIGHTONLY_H
