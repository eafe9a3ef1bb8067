//===- Compile.cpp - The compile flow of `nuri compile` -------------------===//
//
// The flow: load the chip config once and attach it to the module, run the
// graph passes, the compute dtype conversion, the partitioning and the
// outlining, then the three jobs of the driver, each in its own file: compile
// each NPU partition (NpuPartition.cpp), build the report with its optional
// simulation cross-check (CompileReport.cpp), and write the package
// (PackageWriter.cpp), which drives the other two partition by partition.
//
//===----------------------------------------------------------------------===//

#include "nuri/Driver/Compile.h"
#include "nuri/Driver/Quantize.h"

#include "CompileReport.h"
#include "PackageWriter.h"

#include "nuri/Conversion/NpuCodegen.h"
#include "nuri/Dialect/Nuri/IR/NuriTarget.h"
#include "nuri/Dialect/Nuri/Transforms/Passes.h"
#include "nuri/Package/GraphEmitter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"

#include <chrono>
#include <cstring>

using namespace mlir;

namespace nuri::driver {

uint64_t WeightStore::intern(const void *data, size_t size) {
  auto bytes = llvm::ArrayRef(static_cast<const uint8_t *>(data), size);
  uint64_t hash = llvm::xxh3_64bits(bytes);
  auto [begin, end] = index_.equal_range(hash);
  for (auto it = begin; it != end; ++it) {
    auto [offset, length] = it->second;
    if (length == size &&
        (size == 0 || std::memcmp(bytes_.data() + offset, data, size) == 0)) {
      return offset;
    }
  }
  uint64_t offset = (bytes_.size() + kWeightAlignment - 1) / kWeightAlignment *
                    kWeightAlignment;
  bytes_.resize(offset);
  bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
  index_.emplace(hash, std::make_pair(offset, uint64_t(size)));
  return offset;
}

uint64_t WeightStore::reserveAbsent(uint64_t size) {
  uint64_t offset = (absentBytes_ + kWeightAlignment - 1) / kWeightAlignment *
                    kWeightAlignment;
  absentBytes_ = offset + size;
  return offset;
}

void registerDialects(DialectRegistry &registry) {
  registerOnnxImporterDialects(registry);
  npu::registerNpuKernels(registry);
}

namespace {

std::string computeDtype(const CompileOptions &options) {
  if (!options.dtype.empty()) {
    return options.dtype;
  }
  return options.target == "cpu" ? "fp32" : "bf16";
}

LogicalResult checkDtype(ModuleOp module, const std::string &dtype) {
  if (dtype != "bf16" && dtype != "fp16" && dtype != "fp32") {
    return module.emitError("unknown dtype '")
           << dtype << "' (expected bf16, fp16 or fp32)";
  }
  return success();
}

void enableDump(PassManager &pm, const CompileOptions &options) {
  if (!options.dumpIrAfterAll) {
    return;
  }
  pm.getContext()->disableMultithreading();
  pm.enableIRPrinting(
      [](Pass *, Operation *) { return false; },
      [](Pass *, Operation *) { return true; },
      /*printModuleScope=*/true,
      /*printAfterOnlyOnChange=*/false,
      /*printAfterOnlyOnFailure=*/false, llvm::errs(),
      OpPrintingFlags().elideLargeElementsAttrs(16).elideLargeResourceString(
          64));
}

/// Adds what prepareModule runs to `pm`: no pass here reads the chip
/// config. A quantization hook (afterGraphPasses) goes between the graph
/// passes and the dtype conversion: then the passes before it run here.
LogicalResult addGraphStage(PassManager &pm, ModuleOp module,
                            const CompileOptions &options,
                            const std::string &dtype) {
  buildDefaultGraphPipeline(pm);
  if (options.kvCache) {
    NuriKvCacheOptions kv;
    kv.slots = options.kvCache->slots;
    kv.maxSeq = options.kvCache->maxSeq;
    pm.addPass(createNuriKvCache(kv));
  }
  if (options.afterGraphPasses) {
    if (failed(pm.run(module)) || failed(options.afterGraphPasses(module))) {
      return failure();
    }
    pm.clear();
  }
  if (options.target != "cpu") {
    // The weight-only forms the NPU's GEMM reads compressed stay; every
    // other constant expansion is done here, so its float weight goes to
    // the device once instead of on every run.
    NuriFoldWeightDequantizeOptions fold;
    fold.keepLinearWeights = true;
    pm.addPass(createNuriFoldWeightDequantize(fold));
  }
  if (dtype != "fp32") {
    NuriConvertDtypeOptions convert;
    convert.dtype = dtype;
    pm.addNestedPass<func::FuncOp>(createNuriConvertDtype(convert));
  }
  return success();
}

} // namespace

LogicalResult prepareModule(ModuleOp module, const CompileOptions &options) {
  std::string dtype = computeDtype(options);
  if (failed(checkDtype(module, dtype))) {
    return failure();
  }
  if (options.progress) {
    options.progress("graph passes");
  }
  PassManager pm(module.getContext());
  enableDump(pm, options);
  if (failed(addGraphStage(pm, module, options, dtype))) {
    return failure();
  }
  return pm.run(module);
}

FailureOr<CompileResult> compileModule(ModuleOp module,
                                       const CompileOptions &options) {
  auto start = std::chrono::steady_clock::now();
  MLIRContext *context = module.getContext();
  bool cpu = options.target == "cpu";
  std::string dtype = computeDtype(options);
  if (failed(checkDtype(module, dtype))) {
    return failure();
  }
  // The chip config is loaded here, once, and travels on the module: the
  // passes, the NPU lowering and the package all read this one parse.
  const target::Target *target = nullptr;
  if (!cpu) {
    Result<target::Target> loaded = target::findTarget(options.target);
    if (!loaded) {
      return module.emitError("unknown target '")
             << options.target << "': " << loaded.error();
    }
    attachTarget(module, *loaded);
    target = lookupTarget(module);
    if (!target) {
      return failure();
    }
    // nuri-partition asks the NPU code generation through the registry.
    npu::registerNpuTargetBackend();
  }
  auto progress = [&](const std::string &what) {
    if (options.progress) {
      options.progress(what);
    }
  };

  PassManager pm(context);
  enableDump(pm, options);
  if (!options.prepared) {
    progress("graph passes");
    if (failed(addGraphStage(pm, module, options, dtype))) {
      return failure();
    }
  }
  if (!cpu) {
    NuriPartitionOptions partition;
    partition.testClaim = options.testClaim;
    pm.addNestedPass<func::FuncOp>(createNuriPartition(partition));
    pm.addPass(createNuriOutlineNpuPartitions());
  }
  if (failed(pm.run(module))) {
    return failure();
  }

  CompileResult result;
  Report &report = result.report;
  report.target = options.target;
  report.dtype = dtype;
  if (options.quantizationNotes) {
    report.quantization = *options.quantizationNotes;
  }
  ReportBuilder reportBuilder(report, options, target);
  reportBuilder.countOps(module);

  if (options.emit == Emit::Mlir) {
    llvm::raw_string_ostream os(result.text);
    module->print(os, OpPrintingFlags().elideLargeResourceString(64));
    os << "\n";
  } else {
    progress("packaging");
    FailureOr<std::vector<uint8_t>> bytes = writePackage(
        module, options, target, reportBuilder, result.text, result.programs);
    if (failed(bytes)) {
      return failure();
    }
    if (options.emit == Emit::Package) {
      result.package = std::move(*bytes);
    }
  }
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return result;
}

FailureOr<CompileResult> compileOnnxFile(MLIRContext &context,
                                         const std::string &path,
                                         OnnxImportOptions importOptions,
                                         const CompileOptions &options) {
  auto start = std::chrono::steady_clock::now();
  if (options.progress) {
    options.progress("importing " + path);
  }
  // The CPU runs ONNX ops Nuri has no op for, where it has a kernel.
  importOptions.allowUnsupported = true;
  OwningOpRef<ModuleOp> module = importOnnxFile(context, path, importOptions);
  if (!module) {
    return failure();
  }
  FailureOr<CompileResult> result;
  if (options.quantize && !options.afterGraphPasses) {
    FailureOr<CompileOptions> quantized =
        prepareQuantization(context, path, importOptions, options);
    if (failed(quantized)) {
      return failure();
    }
    result = compileModule(*module, *quantized);
  } else {
    result = compileModule(*module, options);
  }
  if (succeeded(result)) {
    result->report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
  }
  return result;
}

} // namespace nuri::driver
