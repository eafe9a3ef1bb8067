//===- FoldConstants.cpp - Evaluate ops on constant operands --------------===//

#include "nuri/Dialect/Nuri/IR/NuriOps.h"
#include "nuri/Dialect/Nuri/Transforms/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace nuri {
#define GEN_PASS_DEF_NURIFOLDCONSTANTS
#include "nuri/Dialect/Nuri/Transforms/Passes.h.inc"
} // namespace nuri

using namespace mlir;

namespace {
struct FoldConstantsPass
    : nuri::impl::NuriFoldConstantsBase<FoldConstantsPass> {
  void runOnOperation() override {
    // An empty pattern set makes the greedy driver a pure folder: it folds,
    // materializes constants through the dialect, and erases what is dead.
    RewritePatternSet patterns(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(),
                                            std::move(patterns)))) {
      getOperation()->emitError("constant folding did not converge");
      signalPassFailure();
    }
  }
};
} // namespace
