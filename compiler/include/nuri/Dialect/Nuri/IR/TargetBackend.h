//===- TargetBackend.h - What a chip's code generation answers --*- C++ -*-===//
//
// Graph passes ask a registered backend whether a chip runs an op; they never
// include or link the code generation that knows. The NPU code generation
// registers its backend (npu::registerNpuTargetBackend, NpuCodegen.h); tools
// that link it call that once at start-up. A build or tool without any
// backend still partitions: every op falls back to the CPU, with the reason.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NURI_IR_TARGETBACKEND_H
#define NURI_DIALECT_NURI_IR_TARGETBACKEND_H

#include "nuri/target/Target.h"

#include "mlir/IR/Operation.h"

#include <memory>
#include <string>

namespace nuri {

class TargetBackend {
public:
  virtual ~TargetBackend() = default;

  /// A short name for diagnostics and the registry ("npu").
  virtual llvm::StringRef name() const = 0;

  /// Whether this backend generates code for `target`.
  virtual bool accepts(const target::Target &target) const = 0;

  /// Whether `target` executes `op` (with its operand and result types);
  /// when not, `reason` says why, for `nuri compile --report`. Called from
  /// passes on several functions at once: must not modify shared state.
  virtual bool claims(mlir::Operation *op, const target::Target &target,
                      std::string &reason) const = 0;
};

/// Adds `backend` to the process-wide registry; a second backend with the
/// same name is ignored, so registering is idempotent. Thread-safe.
void registerTargetBackend(std::unique_ptr<TargetBackend> backend);

/// The first registered backend that accepts `target`, or null. The backend
/// lives as long as the process. Thread-safe.
const TargetBackend *findTargetBackend(const target::Target &target);

} // namespace nuri

#endif // NURI_DIALECT_NURI_IR_TARGETBACKEND_H
