//===- CompileReport.h - Building the report of `nuri compile` --*- C++ -*-===//
//
// One of the driver's three jobs (with NpuPartition.h and PackageWriter.h):
// what the report says about the partitioned module, each partition and
// each NPU op, and, with CompileOptions::simulate, the simulation
// cross-check that bills simulated cycles to ops and layers. The builder
// only reads the IR and the compiled partitions; it writes no package.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_LIB_DRIVER_COMPILEREPORT_H
#define NURI_LIB_DRIVER_COMPILEREPORT_H

#include "nuri/Conversion/NpuCodegen.h"
#include "nuri/Driver/Compile.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/SmallVector.h"

#include <string>
#include <vector>

namespace nuri::driver {

/// The NPU op's name in its location (`loc("Name"(...))`), "" if none.
std::string locationName(mlir::Location loc);

class ReportBuilder {
public:
  /// `target` is null for `--target cpu`. `report` must outlive the builder.
  ReportBuilder(Report &report, const CompileOptions &options,
                const target::Target *target)
      : report(report), options(options), target(target) {}

  /// Op counts, MAC shares and fallback reasons of the partitioned module.
  void countOps(mlir::ModuleOp module);

  /// A CPU partition, in execution order.
  void addCpuPartition(PartitionInfo info);

  /// The NPU partition `callee` lowered to `compiled`, in execution order:
  /// its row, its ops' estimates and, with CompileOptions::simulate, the
  /// simulated cycles of the program billed to the ops and to the kernels
  /// no op claims. Fails after a diagnostic at `callee` when the simulator
  /// rejects the program.
  mlir::LogicalResult addNpuPartition(mlir::func::FuncOp callee,
                                      const npu::CompiledPartition &compiled);

  /// The per-layer table, once every partition is in: ops outside every
  /// layer are named by where they fall relative to all the layers.
  void finish();

  bool hasPartitions() const { return !report.partitions.empty(); }

private:
  // One NPU op, or kernels no op claims (input staging, output copies), in
  // execution order.
  struct OpRecord {
    std::string layer; ///< layerOf its location; "" outside every layer
    bool isOp = true;
    int64_t estimate = -1; ///< index in report.opEstimates, if lowered alone
    uint64_t flops = 0;
    llvm::SmallVector<std::pair<mlir::Operation *, uint64_t>>
        constants; ///< and bytes
  };

  Report &report;
  const CompileOptions &options;
  const target::Target *target;
  std::vector<OpRecord> records;
};

} // namespace nuri::driver

#endif // NURI_LIB_DRIVER_COMPILEREPORT_H
