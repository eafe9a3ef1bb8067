//===- ConvertNuriToNpu.cpp - NPU partitions to npu programs --------------===//

#include "NpuPlan.h"

#include "nuri/Conversion/NpuCodegen.h"
#include "nuri/Conversion/NpuProgram.h"
#include "nuri/Dialect/Npu/Transforms/Passes.h"
#include "nuri/Dialect/Nuri/IR/NuriTarget.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace nuri::npu {
#define GEN_PASS_DEF_CONVERTNURITONPU
#include "nuri/Dialect/Npu/Transforms/Passes.h.inc"
} // namespace nuri::npu

using namespace mlir;

namespace nuri::npu {
namespace {

struct ConvertNuriToNpuPass : impl::ConvertNuriToNpuBase<ConvertNuriToNpuPass> {
  using ConvertNuriToNpuBase::ConvertNuriToNpuBase;

  LogicalResult initialize(MLIRContext *ctx) override {
    return target_.load(ctx, target);
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    const target::Target *t = target_.resolve(module);
    if (!t) {
      return signalPassFailure();
    }
    SmallVector<func::FuncOp> funcs, marked;
    for (auto f : module.getOps<func::FuncOp>()) {
      funcs.push_back(f);
      auto p = f->getAttrOfType<StringAttr>("nuri.partition");
      if (p && p.getValue() == "npu") {
        marked.push_back(f);
      }
    }
    for (func::FuncOp f : marked.empty() ? funcs : marked) {
      FailureOr<CompiledPartition> part = compileNpuPartition(f, *t);
      if (failed(part)) {
        return signalPassFailure();
      }
      OpBuilder b(f->getContext());
      b.setInsertionPointAfter(f);
      importProgram(b, f.getLoc(), (f.getName() + "_npu").str(), *part,
                    t->name);
    }
  }

  TargetOption target_;
};

} // namespace
} // namespace nuri::npu
