//===- NpuTargetBackend.cpp - The NPU code generation as a target backend -===//
//
// How graph passes reach claimsOp without linking the code generation: the
// partition pass asks the registry (nuri/Dialect/Nuri/IR/TargetBackend.h).
//
//===----------------------------------------------------------------------===//

#include "nuri/Conversion/NpuCodegen.h"
#include "nuri/Dialect/Nuri/IR/TargetBackend.h"

namespace nuri::npu {
namespace {

class NpuTargetBackend : public TargetBackend {
public:
  llvm::StringRef name() const override { return "npu"; }

  // Every chip config describes an NPU this code generation targets.
  bool accepts(const target::Target &) const override { return true; }

  bool claims(mlir::Operation *op, const target::Target &target,
              std::string &reason) const override {
    return claimsOp(op, target, reason);
  }
};

} // namespace

void registerNpuTargetBackend() {
  registerTargetBackend(std::make_unique<NpuTargetBackend>());
}

} // namespace nuri::npu
