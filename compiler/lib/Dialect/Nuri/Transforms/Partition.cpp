//===- Partition.cpp - Place each op on the NPU or the CPU ----------------===//
//
// The question "does the NPU run this op" belongs to the code generation
// (npu::claimsOp): it knows which ops, dtypes and shapes it lowers. This
// pass only asks and records the answer, so the report and the outlining
// read one attribute.
//
//===----------------------------------------------------------------------===//

#include "nuri/Dialect/Nuri/IR/NuriOps.h"
#include "nuri/Dialect/Nuri/Transforms/Passes.h"
#include "nuri/target/Target.h"

#ifdef NURI_HAVE_NPU_CODEGEN
#include "nuri/Conversion/NpuCodegen.h"
#endif

#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringSet.h"

namespace nuri {
#define GEN_PASS_DEF_NURIPARTITION
#include "nuri/Dialect/Nuri/Transforms/Passes.h.inc"
} // namespace nuri

using namespace mlir;
using namespace nuri;

namespace {

bool hasEmptyTensor(Operation *op) {
  auto empty = [](Type type) {
    auto tensor = dyn_cast<RankedTensorType>(type);
    return tensor && tensor.hasStaticShape() && tensor.getNumElements() == 0;
  };
  return llvm::any_of(op->getOperandTypes(), empty) ||
         llvm::any_of(op->getResultTypes(), empty);
}

struct PartitionPass : public nuri::impl::NuriPartitionBase<PartitionPass> {
  using NuriPartitionBase::NuriPartitionBase;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal()) {
      return;
    }
    Result<target::Target> loaded = target::findTarget(target);
    if (!loaded) {
      func.emitError("cannot load target '")
          << target << "': " << loaded.error();
      return signalPassFailure();
    }
    llvm::StringSet<> claimed;
    for (const std::string &name : testClaim) {
      claimed.insert(name);
    }
    bool useList = !testClaim.empty();
    Builder b(&getContext());
    func.walk([&](Operation *op) {
      if (op == func || llvm::isa<ConstantOp, func::ReturnOp>(op)) {
        return;
      }
      std::string reason;
      bool npu = false;
      if (hasEmptyTensor(op)) {
        // Zero-length tensors (a KV cache before the first step) have no
        // work and no bytes to move; the CPU handles them for free.
        reason = "has an empty tensor (nothing for the NPU to do)";
      } else if (useList) {
        npu = claimed.contains(op->getName().getStringRef());
        if (!npu) {
          reason = "not in the claimed list of the test";
        }
      } else {
#ifdef NURI_HAVE_NPU_CODEGEN
        npu = npu::claimsOp(op, *loaded, reason);
#else
        reason = "this build has no NPU code generation (NuriNpuCodegen)";
#endif
      }
      op->setAttr("nuri.device", b.getStringAttr(npu ? "npu" : "cpu"));
      if (npu) {
        op->removeAttr("nuri.fallback");
      } else {
        op->setAttr("nuri.fallback",
                    b.getStringAttr(reason.empty() ? "not claimed by the NPU"
                                                   : reason));
      }
    });
  }
};

} // namespace
