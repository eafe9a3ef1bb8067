//===- AttachTarget.cpp - Put a named chip config on the module ----------===//
//
// What the driver does with the config it loaded, for nuri-opt: lit tests
// name a chip (`--nuri-attach-target=target=atom`) and the passes after it
// read the module's `nuri.target` like they do inside `nuri compile`.
//
//===----------------------------------------------------------------------===//

#include "nuri/Dialect/Nuri/IR/NuriTarget.h"
#include "nuri/Dialect/Nuri/Transforms/Passes.h"

namespace nuri {
#define GEN_PASS_DEF_NURIATTACHTARGET
#include "nuri/Dialect/Nuri/Transforms/Passes.h.inc"
} // namespace nuri

using namespace mlir;
using namespace nuri;

namespace {

struct AttachTargetPass
    : public nuri::impl::NuriAttachTargetBase<AttachTargetPass> {
  using NuriAttachTargetBase::NuriAttachTargetBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    Result<target::Target> loaded = loadNamedTarget(target);
    if (!loaded) {
      module.emitError("cannot load target '")
          << target << "': " << loaded.error();
      return signalPassFailure();
    }
    // A config from a file other than the search path's travels in the
    // attribute; a named one stays a name, which keeps test output short.
    bool fromFile = llvm::StringRef(target).ends_with(".yaml");
    attachTarget(module, *loaded, /*embedConfig=*/fromFile);
  }
};

} // namespace
