//===- Partition.cpp - Place each op on the NPU or the CPU ----------------===//
//
// The question "does the NPU run this op" belongs to the code generation: it
// knows which ops, dtypes and shapes it lowers. This pass asks the target
// backend registered for the module's target (TargetBackend.h) and records
// the answer, so the report and the outlining read one attribute; it never
// includes or links the code generation itself.
//
//===----------------------------------------------------------------------===//

#include "nuri/Dialect/Nuri/IR/NuriOps.h"
#include "nuri/Dialect/Nuri/IR/NuriTarget.h"
#include "nuri/Dialect/Nuri/IR/TargetBackend.h"
#include "nuri/Dialect/Nuri/Transforms/Passes.h"

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
    const target::Target *target = lookupTarget(func);
    if (!target) {
      return signalPassFailure();
    }
    const TargetBackend *backend = findTargetBackend(*target);
    llvm::StringSet<> claimed;
    for (const std::string &name : testClaim) {
      claimed.insert(name);
    }
    bool useList = !testClaim.empty();
    bool hasState = false;
    for (unsigned i = 0; i < func.getNumArguments(); ++i) {
      hasState = hasState || func.getArgAttr(i, kStateAttrName);
    }
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
      } else if (backend) {
        npu = backend->claims(op, *target, reason);
        if (npu && !hasState && isRuntimeGather(op)) {
          // Embedding lookups of plain models keep their measured
          // placement; a generation program's step sends token ids, not
          // embeddings.
          npu = false;
          reason = "gather at run-time indices: on the NPU only in generation "
                   "programs";
        }
      } else {
        reason = "no code generation is registered for target '" +
                 target->name + "' (this tool links no NuriNpuCodegen)";
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
    if (hasState) {
      keepIslandsOnTheCpu(func, b);
    }
  }

  /// A gather whose indices are not a constant (through reshapes).
  static bool isRuntimeGather(Operation *op) {
    auto g = dyn_cast<GatherOp>(op);
    if (!g) {
      return false;
    }
    Value v = g.getIndices();
    while (auto r = v.getDefiningOp<ReshapeOp>()) {
      v = r.getInput();
    }
    return !v.getDefiningOp<ConstantOp>();
  }

  /// In a program with state (a generation program): an NPU op that only
  /// reads what the CPU computes (or the program's inputs and constants) and
  /// only feeds CPU ops is an island. Running it on the NPU costs a crossing
  /// each way and splits the NPU ops around its CPU readers into two
  /// partitions, which would split a decode step's KV caches across two
  /// simulated DRAMs too (GPT-2's mask: `1 - mask` between the CPU's Equal
  /// and Where). Plain models keep their placement.
  static void keepIslandsOnTheCpu(func::FuncOp func, Builder &b) {
    auto onCpu = [](Operation *op) {
      auto d = op->getAttrOfType<StringAttr>("nuri.device");
      return d && d.getValue() == "cpu";
    };
    func.walk([&](Operation *op) {
      auto d = op->getAttrOfType<StringAttr>("nuri.device");
      if (!d || d.getValue() != "npu" || op->getNumResults() == 0) {
        return;
      }
      bool cpuInputs = llvm::all_of(op->getOperands(), [&](Value v) {
        Operation *def = v.getDefiningOp();
        return !def || llvm::isa<ConstantOp>(def) || onCpu(def);
      });
      bool cpuUsers = llvm::all_of(op->getUsers(), onCpu);
      if (!cpuInputs || !cpuUsers || op->use_empty()) {
        return;
      }
      op->setAttr("nuri.device", b.getStringAttr("cpu"));
      op->setAttr("nuri.fallback",
                  b.getStringAttr("reads and feeds only CPU ops: on the NPU it "
                                  "would cost two host-device crossings"));
    });
  }
};

} // namespace
