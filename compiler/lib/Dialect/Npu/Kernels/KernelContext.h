//===- KernelContext.h - What a kernel sees of its partition ----*- C++ -*-===//
//
// The partition as NpuKernelOpInterface implementations see it while they
// are planned (npu-plan-kernels) and emitted (compileNpuPartition): the
// target, the buffer the memory plan gave every value, and, while emitting,
// the program being built. Internal to NuriNpuCodegen.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NPU_KERNELS_KERNELCONTEXT_H
#define NURI_DIALECT_NPU_KERNELS_KERNELCONTEXT_H

#include "NpuKernels.h"

#include "nuri/Dialect/Npu/IR/NpuOps.h"
#include "nuri/target/Target.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <optional>

namespace nuri::npu {

class KernelContext {
public:
  KernelContext(mlir::func::FuncOp partition, const target::Target &target)
      : partition_(partition), target_(target) {}
  virtual ~KernelContext() = default;

  const target::Target &target() const { return target_; }
  mlir::func::FuncOp partition() const { return partition_; }

  /// Where the memory plan (npu-plan-memory) put the bytes `v` addresses,
  /// seen through views: a DRAM address, a shared-SRAM address tagged
  /// with kSharedTag, or a peer-pool address tagged with kPeerTag. Fails after
  /// a diagnostic when the plan has none.
  mlir::FailureOr<uint64_t> plannedAddress(mlir::Value v) const;
  /// The address a kernel reads or writes `v` at: plannedAddress, and while
  /// emitting, a constant expression's bytes are laid out in DRAM on its
  /// first use.
  virtual mlir::FailureOr<uint64_t> addressOf(mlir::Value v) {
    return plannedAddress(v);
  }
  /// The row pitch in bytes of a column view (a slice of a merged
  /// projection), seen through aliases.
  std::optional<uint64_t> pitchOf(mlir::Value v) const;

  /// The program being built; null while planning.
  virtual KernelEmitter *emitter() { return nullptr; }

private:
  mlir::func::FuncOp partition_;
  const target::Target &target_;
};

/// Whether `ctx` has the kernels of registerNpuKernels (NpuCodegen.h)
/// attached: the lowering refuses to guess otherwise.
bool npuKernelsRegistered(mlir::MLIRContext *ctx);

} // namespace nuri::npu

#endif // NURI_DIALECT_NPU_KERNELS_KERNELCONTEXT_H
