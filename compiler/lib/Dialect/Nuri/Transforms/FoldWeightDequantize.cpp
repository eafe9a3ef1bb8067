//===- FoldWeightDequantize.cpp - Quantized weights made float constants --===//
//
// nuri-fold-weight-dequantize (Passes.td). The values are computed by the
// CPU device's own kernels (nuri::cpu::runKernel), so a folded weight is
// what a cpu session computes at prepare, bit for bit, from one definition
// of the arithmetic.
//
//===----------------------------------------------------------------------===//

#include "nuri/Dialect/Nuri/IR/ConstantData.h"
#include "nuri/Dialect/Nuri/IR/NuriOps.h"
#include "nuri/Dialect/Nuri/IR/WeightOnly.h"
#include "nuri/Dialect/Nuri/Transforms/Passes.h"
#include "nuri/Package/GraphEmitter.h"
#include "nuri/cpu/Kernels.h"

#include "llvm/ADT/SetVector.h"

namespace nuri {
#define GEN_PASS_DEF_NURIFOLDWEIGHTDEQUANTIZE
#include "nuri/Dialect/Nuri/Transforms/Passes.h.inc"
} // namespace nuri

using namespace mlir;

/// The op's result computed by the CPU kernel of the same name, or failure
/// when an operand is not a constant (then the op stays).
FailureOr<ElementsAttr> nuri::evaluateWeightDequantize(Operation *op) {
  nuri::graph::Op node;
  node.kind = op->getName().stripDialect().str();
  for (NamedAttribute attr : op->getAttrs()) {
    if (auto i = dyn_cast<IntegerAttr>(attr.getValue())) {
      node.attrs[attr.getName().str()] = i.getInt();
    }
  }
  std::vector<std::vector<char>> bytes;
  std::vector<nuri::cpu::TensorView> inputs;
  bytes.reserve(op->getNumOperands());
  for (Value v : op->getOperands()) {
    auto type = cast<ShapedType>(v.getType());
    std::optional<nuri::graph::DType> dtype =
        nuri::toDType(type.getElementType());
    if (!nuri::isConstantOrCast(v) || !dtype) {
      return failure();
    }
    ElementsAttr value;
    if (auto c = v.getDefiningOp<nuri::CastOp>()) {
      // A float constant rounded by nuri.cast: to nearest even, as
      // makeFromDouble rounds.
      auto from = c.getInput().getDefiningOp<nuri::ConstantOp>().getValue();
      FailureOr<std::vector<double>> x = nuri::readAsDouble(from);
      if (failed(x)) {
        return failure();
      }
      value = nuri::makeFromDouble(type, *x);
    } else {
      value = v.getDefiningOp<nuri::ConstantOp>().getValue();
    }
    FailureOr<std::vector<char>> raw = nuri::readRawBytes(value);
    if (failed(raw)) {
      return failure();
    }
    bytes.push_back(std::move(*raw));
    inputs.push_back({*dtype, type.getShape().vec(), bytes.back().data(),
                      /*constant=*/true});
  }
  auto type = cast<ShapedType>(op->getResult(0).getType());
  std::vector<float> values(size_t(type.getNumElements()));
  std::vector<nuri::cpu::TensorView> outputs = {
      {nuri::graph::DType::F32, type.getShape().vec(), values.data()}};
  std::string error = nuri::cpu::runKernel(node, inputs, outputs);
  if (!error.empty()) {
    op->emitOpError("cannot be evaluated at compile time: ") << error;
    return failure();
  }
  llvm::ArrayRef<char> raw(reinterpret_cast<const char *>(values.data()),
                           values.size() * sizeof(float));
  return nuri::makeFromRawBytes(type, raw, "dequantized");
}

namespace {

/// Whether every use of `v` is the weight of a linear (the operand the
/// NPU's GEMM reads compressed).
bool onlyLinearWeights(Value v) {
  return !v.use_empty() && llvm::all_of(v.getUses(), [](OpOperand &u) {
    auto l = dyn_cast<nuri::LinearOp>(u.getOwner());
    return l && u.get() == l.getWeight() && u.get() != l.getInput() &&
           u.get() != l.getBias();
  });
}

struct FoldWeightDequantizePass
    : nuri::impl::NuriFoldWeightDequantizeBase<FoldWeightDequantizePass> {
  using NuriFoldWeightDequantizeBase::NuriFoldWeightDequantizeBase;
  void runOnOperation() override {
    std::vector<Operation *> ops;
    getOperation()->walk([&](Operation *op) {
      // Only an f32 result: the dtype conversion comes after this pass.
      if (isa<nuri::DequantizeOp, nuri::DequantizeBlockedOp>(op) &&
          cast<ShapedType>(op->getResult(0).getType())
              .getElementType()
              .isF32()) {
        ops.push_back(op);
      }
    });
    for (Operation *op : ops) {
      if (keepLinearWeights && nuri::expandableWeight(op) &&
          onlyLinearWeights(op->getResult(0))) {
        continue; // the NPU's GEMM expands it on chip
      }
      FailureOr<ElementsAttr> folded = nuri::evaluateWeightDequantize(op);
      if (failed(folded)) {
        continue; // not all constant: the dequantize stays an op
      }
      OpBuilder b(op);
      Value constant =
          b.create<nuri::ConstantOp>(op->getLoc(), *folded).getResult();
      llvm::SetVector<Operation *> inputs;
      for (Value v : op->getOperands()) {
        inputs.insert(v.getDefiningOp());
      }
      op->getResult(0).replaceAllUsesWith(constant);
      op->erase();
      for (Operation *def : inputs) {
        if (def->use_empty()) {
          def->erase();
        }
      }
    }
  }
};

} // namespace
