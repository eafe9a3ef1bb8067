//===- Compile.h - The compile flow of `nuri compile` -----------*- C++ -*-===//
//
// ONNX model (or an imported module) -> graph passes -> compute dtype ->
// partitioning -> outlined NPU partitions -> package. `nuri compile` is a
// thin command line over this; the unit tests and the compile-time
// benchmark call it directly. See docs/npu-codegen.md.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DRIVER_COMPILE_H
#define NURI_DRIVER_COMPILE_H

#include "nuri/Frontend/OnnxImporter.h"
#include "nuri/isa/Program.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace nuri::driver {

/// What a compile produces. Programs: the NPU programs and the report
/// only, no package; the constants are placed in DRAM but their bytes are
/// never computed, which is most of a large model's compile time (what
/// `nuri sweep` asks for: it simulates timing only).
enum class Emit { Package, Mlir, Asm, Programs };

/// `nuri compile --quantize` (see nuri/Driver/Quantize.h).
struct QuantizeOptions {
  std::string scheme; ///< int8, fp8, w8a16 or w4a16
  /// A folder of input sets (DIR/<set>/<input>.npy, or one set's .npy
  /// files), or a 2-D token-id .npy (one row per set) for a decoder.
  std::string calibration;
  std::string method = "minmax"; ///< minmax, percentile, entropy or mse
  double percentile = 99.99;     ///< with method percentile
  std::optional<double> smoothQuantAlpha;
  /// Node names (or a prefix ending at '/', or an ONNX op type) to keep
  /// float.
  std::vector<std::string> exclude;
  /// Read if it exists (no calibration), else written after calibrating.
  std::string cachePath;
  bool quantizeHead = false;
  /// Compare each quantized layer and output against the float model on
  /// the first calibration set; the text lands in Report::quantization.
  bool accuracyReport = false;
  /// Automatic fallback: layers whose SQNR against the float model (first
  /// calibration set) is below this stay float. Unset, --accuracy-report
  /// only suggests exclusions below kSuggestedMinSqnr.
  std::optional<double> minSqnr;
  static constexpr double kSuggestedMinSqnr = 20;
};

struct CompileOptions {
  /// "cpu" (one CPU partition) or a chip config name (atom, rngd, ...).
  std::string target = "cpu";
  /// bf16, fp16 or fp32; empty: fp32 for cpu, bf16 for a chip.
  std::string dtype;
  Emit emit = Emit::Package;
  /// Print the IR after every pass, graph-level and NPU lowering, to stderr.
  bool dumpIrAfterAll = false;
  /// Called at each stage with a short description (a progress line).
  std::function<void(const std::string &)> progress;
  /// Also run each NPU program through the simulator's timing model (no
  /// data: the timing does not depend on it), so the report shows simulated
  /// next to predicted cycles per partition.
  bool simulate = false;
  /// Tests of the flow: claim exactly these op names (see nuri-partition).
  std::vector<std::string> testClaim;
  /// The `producer` string of the package.
  std::string producer = "nuri compile";
  /// `nuri compile --timing-only`: NPU constants are placed in DRAM but
  /// their bytes are never computed (the model may have no weight data:
  /// import it with OnnxImportOptions::weightPlaceholders), and the package
  /// is timing-only (package::Package::timingOnly): its weight loads refer
  /// to an absent blob, so it holds no weight bytes.
  bool timingOnly = false;
  /// Set for one program of a generation family (`--generate`):
  /// nuri-kv-cache turns the decoder's past/present pairs into in-place
  /// KV-cache state buffers of this many slots and positions.
  struct KvCache {
    int64_t slots = 1;
    int64_t maxSeq = 0; ///< 0: the program's own context
  };
  std::optional<KvCache> kvCache;
  /// Set for the programs of a family: constants go into this shared weight
  /// blob (identical bytes stored once) and the package's own weights
  /// section stays empty (see package::PackageBuilder::setExternalWeights).
  class WeightStore *weightStore = nullptr;
  /// The module already went through prepareModule with these options (its
  /// dtype and kvCache): compileModule starts at the partitioning. A sweep
  /// prepares a workload once and compiles clones of it for many chips.
  bool prepared = false;
  /// Post-training quantization; compileOnnxFile calibrates and sets
  /// afterGraphPasses from it.
  std::optional<QuantizeOptions> quantize;
  /// Runs after the graph passes (and nuri-kv-cache), before the compute
  /// dtype and partitioning: quantization and calibration hook in here.
  std::function<mlir::LogicalResult(mlir::ModuleOp)> afterGraphPasses;
  /// Lines for Report::quantization, filled by prepareQuantization.
  std::shared_ptr<std::vector<std::string>> quantizationNotes;
};

/// The weight blob a generation family's programs share. Identical tensors
/// (every program of a family holds the same weights) are stored once.
class WeightStore {
public:
  /// The offset of `bytes` in the blob, appending them if new.
  uint64_t intern(const void *data, size_t size);
  const std::vector<uint8_t> &bytes() const { return bytes_; }
  /// The offset of `size` bytes in the absent blob of a timing-only
  /// package (CompileOptions::timingOnly). Without their bytes identical
  /// constants cannot be told apart: each gets its own range.
  uint64_t reserveAbsent(uint64_t size);
  uint64_t absentBytes() const { return absentBytes_; }

private:
  std::vector<uint8_t> bytes_;
  uint64_t absentBytes_ = 0;
  std::unordered_multimap<uint64_t, std::pair<uint64_t, uint64_t>> index_;
};

/// What the report says about one partition.
struct PartitionInfo {
  bool npu = false;
  std::string name;
  int64_t ops = 0;
  std::vector<std::string> inputs, outputs;
  uint64_t predictedCycles = 0; ///< NPU: sum of the cost model's estimates
  uint64_t simulatedCycles = 0; ///< NPU with CompileOptions::simulate
  /// NPU with simulate: cycles after the last kernel's barrier, which no op
  /// is billed for (the per-op cycles sum to simulatedCycles - tailCycles).
  uint64_t tailCycles = 0;
  /// NPU with simulate: useful MAC-cycles / (cycles x cores).
  double macUtilization = 0;
  /// What a roofline bound of the partition weighs: FLOPs of its matrix ops
  /// (see Report::flopsOf), bytes of the constants it loads into DRAM and
  /// of its inputs and outputs. For CPU partitions only `flops`.
  uint64_t flops = 0;
  uint64_t weightBytes = 0, ioBytes = 0;
};

/// One group of ops that fell back to the CPU for the same reason.
struct Fallback {
  std::string op;
  std::string reason;
  int64_t count = 0;
  std::string example; ///< the location of the first one
};

/// One op an NPU partition lowered: the cost model's cycles and, with
/// CompileOptions::simulate, the simulated cycles of its kernels (0 for ops
/// without a kernel of their own: reshapes, epilogues fused into a GEMM).
struct OpEstimate {
  std::string partition, location, kind;
  std::string layer; ///< the LayerInfo::name it is billed to
  uint64_t predictedCycles = 0;
  uint64_t simulatedCycles = 0;
  /// Its kernels are [firstKernel, firstKernel + kernelCount) of its
  /// partition's program; each ends with one chip-wide barrier, so a later
  /// simulation (`nuri sweep` at another DRAM speed) can time the op again
  /// from its own barrier releases.
  unsigned firstKernel = 0, kernelCount = 0;
};

/// The NPU ops of one transformer layer (by the layer index in their ONNX
/// node names, `/encoder/layer.3/...`, `/h.3/...`), possibly over several
/// partitions; ops outside every layer are "embeddings" before the first
/// layer, "head" after the last and "other" in between.
struct LayerInfo {
  std::string name; ///< `encoder/layer.3`, `transformer/h.3`, `head`, ...
  int64_t ops = 0;  ///< NPU ops, fused and folded ones included
  uint64_t predictedCycles = 0, simulatedCycles = 0;
  /// Matrix FLOPs of its ops and bytes of the constants they read (each
  /// constant once), for a per-layer roofline bound.
  uint64_t flops = 0, weightBytes = 0;
};

struct Report {
  std::string target, dtype;
  int64_t npuOps = 0, cpuOps = 0;
  /// Multiply-accumulates of the matrix ops on each side.
  uint64_t npuMacs = 0, cpuMacs = 0;
  std::vector<PartitionInfo> partitions;
  std::vector<Fallback> fallbacks;
  std::vector<OpEstimate> opEstimates; ///< NPU ops in execution order
  std::vector<LayerInfo> layers;       ///< in execution order
  double seconds = 0;
  /// What --quantize did: the calibration, the layers quantized and kept
  /// float and why, and with --accuracy-report the per-layer errors.
  std::vector<std::string> quantization;
  /// The human-readable form `nuri compile --report` prints.
  std::string text() const;
};

/// FLOPs of one nuri op's matrix work (a multiply-add counts two): linear,
/// matmul and quantized_matmul 2*M*N*K, conv 2 x outputs x taps, attention
/// 2*B*H*Sq*Skv*(D+Dv) over the (query, key) pairs a causal mask leaves; 0 for
/// everything else (elementwise work is ignored). The report's MAC share is
/// half of it.
uint64_t flopsOf(mlir::Operation *op);

struct CompileResult {
  std::vector<uint8_t> package; ///< Emit::Package
  std::string text;             ///< Emit::Mlir / Emit::Asm
  /// Emit::Programs: the NPU partitions' programs, in package order.
  std::vector<isa::Program> programs;
  Report report;
};

/// Registers the dialects the flow needs.
void registerDialects(mlir::DialectRegistry &registry);

/// The part of compileModule no chip config changes: the graph passes, the
/// KV cache (options.kvCache) and the compute dtype (options.dtype; the
/// target only picks its default). Fails after a diagnostic.
mlir::LogicalResult prepareModule(mlir::ModuleOp module,
                                  const CompileOptions &options);

/// Compiles an imported module (its `@main`), or one prepareModule already
/// ran on (options.prepared). Fails after a diagnostic through the
/// context's handler.
mlir::FailureOr<CompileResult> compileModule(mlir::ModuleOp module,
                                             const CompileOptions &options);

/// Imports `path` (allowing ops only the CPU runs) and compiles it.
mlir::FailureOr<CompileResult> compileOnnxFile(mlir::MLIRContext &context,
                                               const std::string &path,
                                               OnnxImportOptions importOptions,
                                               const CompileOptions &options);

} // namespace nuri::driver

#endif // NURI_DRIVER_COMPILE_H
