//===- CompileCommand.cpp - nuri compile ----------------------------------===//
//
// nuri compile MODEL.onnx [--target cpu|atom|x220|x330|rngd|tiny]
//              [--dtype bf16|fp16|fp32] [--input-shape NAME=DIMS ...]
//              [--bind-input NAME=FILE.pb ...] [--emit package|mlir|asm]
//              [--report [--simulate]] [--dump-ir-after-all] [--progress]
//              [--generate [--max-seq N] [--prefill-buckets 32,128]
//                          [--decode-batch 1,4,8] [--context-buckets 64,128]]
//              [--timing-only]
//              [--quantize int8|fp8|w8a16|w4a16 [--calibration DIR|FILE.npy]
//                  [--calibration-method minmax|percentile|entropy|mse]
//                  [--percentile P]
//                  [--smoothquant ALPHA] [--exclude NAME_OR_OP ...]
//                  [--calibration-cache FILE] [--quantize-head]]
//              -o OUT
//
// A command line over nuri::driver (compiler/lib/Driver): import, graph
// passes, compute dtype, partitioning into NPU and CPU partitions, package.
// With --target cpu the whole model is one CPU partition.
//
//===----------------------------------------------------------------------===//

#include "CliSupport.h"
#include "Command.h"

#include "nuri/Driver/Compile.h"
#include "nuri/Driver/Generate.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace {
cl::SubCommand compileCommand("compile",
                              "Compile an ONNX model into a .nuri package");
cl::opt<std::string> inputPath(cl::Positional, cl::Required,
                               cl::desc("<model.onnx>"),
                               cl::sub(compileCommand));
cl::opt<std::string> outputPath("o",
                                cl::desc("Output (package, or the text of "
                                         "--emit mlir|asm; '-' is stdout)"),
                                cl::value_desc("file"), cl::Required,
                                cl::sub(compileCommand));
cl::opt<std::string>
    targetName("target",
               cl::desc("cpu, or a chip config: atom, x220, x330, rngd, tiny"),
               cl::init("cpu"), cl::sub(compileCommand));
cl::opt<std::string> dtypeName("dtype",
                               cl::desc("Compute dtype: bf16, fp16 or fp32 "
                                        "(default: fp32 for cpu, bf16 for a "
                                        "chip)"),
                               cl::init(""), cl::sub(compileCommand));
cl::opt<std::string> emitKind("emit",
                              cl::desc("What to write: package, mlir (the "
                                       "partitioned graph) or asm (the NPU "
                                       "programs)"),
                              cl::init("package"), cl::sub(compileCommand));
cl::opt<bool> printReport("report",
                          cl::desc("Print the partitions, the ops that fell "
                                   "back to the CPU and why, and the cost "
                                   "model's cycles per op and per "
                                   "transformer layer"),
                          cl::sub(compileCommand));
cl::opt<bool> simulate("simulate",
                       cl::desc("With --report: run each NPU program "
                                "through the simulator's timing model and "
                                "show simulated next to predicted cycles "
                                "per partition, op and layer"),
                       cl::sub(compileCommand));
cl::opt<bool> dumpIr("dump-ir-after-all",
                     cl::desc("Print the IR after every pass to stderr"),
                     cl::sub(compileCommand));
cl::opt<bool> showProgress("progress",
                           cl::desc("Print a progress line (default: when "
                                    "stderr is a terminal)"),
                           cl::sub(compileCommand));
cl::list<std::string> inputShapes("input-shape",
                                  cl::desc("Pin an input's shape, e.g. "
                                           "input_ids=1x128"),
                                  cl::value_desc("NAME=DIMS"),
                                  cl::sub(compileCommand));
cl::list<std::string>
    bindInputs("bind-input",
               cl::desc("Freeze a graph input to a TensorProto's value"),
               cl::value_desc("NAME=FILE.pb"), cl::sub(compileCommand));

cl::opt<bool> generate("generate",
                       cl::desc("Compile a decoder exported with its KV cache "
                                "into a generation package: prefill and "
                                "decode programs sharing the weights and a "
                                "KV cache kept on the device"),
                       cl::sub(compileCommand));
cl::opt<int64_t> maxSeq("max-seq",
                        cl::desc("With --generate: cache length per sequence "
                                 "(prompt and generated tokens)"),
                        cl::init(256), cl::sub(compileCommand));
cl::list<int64_t> prefillBuckets(
    "prefill-buckets",
    cl::desc("With --generate: prompt lengths of the prefill programs "
             "(default 32,128,512 below --max-seq, and --max-seq)"),
    cl::CommaSeparated, cl::sub(compileCommand));
cl::list<int64_t> decodeBatch(
    "decode-batch",
    cl::desc("With --generate: batch sizes of the decode programs (default "
             "1,4,8; the largest is the number of cache slots)"),
    cl::CommaSeparated, cl::sub(compileCommand));
cl::list<int64_t> contextBuckets(
    "context-buckets",
    cl::desc("With --generate: context lengths of the decode programs "
             "(default 64, 128, ... doubling below --max-seq, and --max-seq)"),
    cl::CommaSeparated, cl::sub(compileCommand));

cl::opt<bool> timingOnly(
    "timing-only",
    cl::desc("For a chip: accept weights stored as external data that is "
             "missing (`nuri zoo --shapes-only`) and write a timing-only "
             "package without NPU weight bytes, which `nuri generate` and "
             "`nuri run` simulate with --timing-only (its outputs and "
             "tokens mean nothing)"),
    cl::sub(compileCommand));

cl::opt<std::string> quantizeScheme(
    "quantize",
    cl::desc("Post-training quantization of the linears by constant weights: "
             "int8 (W8A8, calibrated), fp8 (e4m3 weights and activations, "
             "calibrated), w8a16 (int8 weights only) or w4a16 (4-bit weights "
             "in blocks of 128)"),
    cl::value_desc("int8|fp8|w8a16|w4a16"), cl::init(""),
    cl::sub(compileCommand));
cl::opt<std::string> calibrationPath(
    "calibration",
    cl::desc("With --quantize: input sets DIR/<set>/<input>.npy (or one "
             "set's .npy files), or a [sets, tokens] token-id .npy for a "
             "decoder"),
    cl::value_desc("DIR|FILE.npy"), cl::init(""), cl::sub(compileCommand));
cl::opt<std::string> calibrationMethod(
    "calibration-method",
    cl::desc("With --quantize int8: activation ranges from the minmax or "
             "the percentile (--percentile) of the calibration data, or the "
             "clipping with the least KL divergence (entropy) or squared "
             "error (mse) of the quantized histogram"),
    cl::init("minmax"), cl::sub(compileCommand));
cl::opt<double> calibrationPercentile(
    "percentile",
    cl::desc("With --calibration-method percentile: the share of values "
             "the range keeps, in percent"),
    cl::init(99.99), cl::sub(compileCommand));
cl::opt<double> smoothQuant(
    "smoothquant",
    cl::desc("With --quantize: migrate activation outliers into the "
             "preceding LayerNorm with this alpha in [0, 1] (0.5 is usual)"),
    cl::value_desc("ALPHA"), cl::sub(compileCommand));
cl::list<std::string> quantizeExclude(
    "exclude",
    cl::desc("With --quantize: keep float the linears of this ONNX node name, "
             "name prefix ending at '/', or op type (repeatable)"),
    cl::value_desc("NAME_OR_OP"), cl::sub(compileCommand));
cl::opt<std::string> calibrationCache(
    "calibration-cache",
    cl::desc("With --quantize: read calibration statistics from FILE if it "
             "exists, else calibrate and write them there"),
    cl::value_desc("FILE"), cl::init(""), cl::sub(compileCommand));
cl::opt<bool> quantizeHead(
    "quantize-head",
    cl::desc("With --quantize: quantize the model head (lm_head) too"),
    cl::sub(compileCommand));

cl::opt<bool> accuracyReport(
    "accuracy-report",
    cl::desc("With --quantize: compare each quantized layer (SQNR, cosine) "
             "and each output (cosine, max error, top-1 of logits) against "
             "the float model on the first calibration set, and suggest "
             "exclusions; printed with --report"),
    cl::sub(compileCommand));
cl::opt<double> minSqnr(
    "min-sqnr",
    cl::desc("With --quantize and --calibration: keep float every layer whose "
             "SQNR against the float model (first calibration set) is below "
             "DB; without it, --accuracy-report suggests exclusions below "
             "20 dB"),
    cl::value_desc("DB"), cl::sub(compileCommand));

int runCompile() {
  nuri::driver::CompileOptions options;
  options.target = targetName;
  options.dtype = dtypeName;
  options.dumpIrAfterAll = dumpIr;
  options.simulate = simulate;
  options.producer =
      "nuri compile " + std::string(sys::path::filename(inputPath));
  if (emitKind == "package") {
    options.emit = nuri::driver::Emit::Package;
  } else if (emitKind == "mlir") {
    options.emit = nuri::driver::Emit::Mlir;
  } else if (emitKind == "asm") {
    options.emit = nuri::driver::Emit::Asm;
  } else {
    WithColor::error() << "--emit " << emitKind
                       << ": expected package, mlir or asm\n";
    return 2;
  }
  bool terminal = sys::Process::StandardErrIsDisplayed();
  if (showProgress || terminal) {
    // One line, rewritten in place on a terminal.
    options.progress = [terminal](const std::string &what) {
      if (terminal) {
        errs() << "\r\033[K[nuri compile] " << what;
      } else {
        errs() << "[nuri compile] " << what << "\n";
      }
      errs().flush();
    };
  }
  bool quantOptions =
      !calibrationPath.empty() || calibrationMethod.getNumOccurrences() ||
      calibrationPercentile.getNumOccurrences() ||
      smoothQuant.getNumOccurrences() || !quantizeExclude.empty() ||
      !calibrationCache.empty() || quantizeHead ||
      minSqnr.getNumOccurrences() || accuracyReport;
  if (!quantizeScheme.empty()) {
    nuri::driver::QuantizeOptions q;
    q.scheme = quantizeScheme;
    q.calibration = calibrationPath;
    q.method = calibrationMethod;
    q.percentile = calibrationPercentile;
    if (smoothQuant.getNumOccurrences()) {
      q.smoothQuantAlpha = smoothQuant;
    }
    q.exclude.assign(quantizeExclude.begin(), quantizeExclude.end());
    q.cachePath = calibrationCache;
    q.quantizeHead = quantizeHead;
    q.accuracyReport = accuracyReport;
    if (minSqnr.getNumOccurrences()) {
      q.minSqnr = minSqnr;
    }
    options.quantize = q;
  } else if (quantOptions) {
    WithColor::error() << "--calibration, --calibration-method, "
                          "--percentile, --smoothquant, --exclude, "
                          "--calibration-cache, --quantize-head, "
                          "--accuracy-report and --min-sqnr need "
                          "--quantize\n";
    return 2;
  }
  nuri::OnnxImportOptions importOptions;
  if (!nuri::cli::parseImportOptions(inputShapes, bindInputs, importOptions)) {
    return 2;
  }
  if (timingOnly) {
    if (options.target == "cpu" ||
        options.emit != nuri::driver::Emit::Package) {
      WithColor::error() << "--timing-only writes a package for a chip "
                            "(--target atom, rngd, ...) that the simulator "
                            "times; the cpu device runs real weights only\n";
      return 2;
    }
    if (options.quantize) {
      WithColor::error() << "--timing-only cannot --quantize: calibration "
                            "needs the weights\n";
      return 2;
    }
    options.timingOnly = true;
    importOptions.weightPlaceholders = true;
  }
  mlir::DialectRegistry registry;
  nuri::driver::registerDialects(registry);
  mlir::MLIRContext context(registry);
  context.disableMultithreading();
  // A diagnostic at a partition would otherwise print the whole function.
  context.printOpOnDiagnostic(false);
  nuri::cli::DiagnosticPrinter diagnostics(context);

  mlir::FailureOr<nuri::driver::CompileResult> result;
  if (generate) {
    nuri::driver::GenerateOptions family;
    family.maxSeq = maxSeq;
    family.prefillBuckets.assign(prefillBuckets.begin(), prefillBuckets.end());
    if (!decodeBatch.empty()) {
      family.decodeBatch.assign(decodeBatch.begin(), decodeBatch.end());
    }
    family.contextBuckets.assign(contextBuckets.begin(), contextBuckets.end());
    result = nuri::driver::compileGenerationFamily(
        context, inputPath, importOptions, options, family);
  } else {
    if (maxSeq.getNumOccurrences() || !prefillBuckets.empty() ||
        !decodeBatch.empty() || !contextBuckets.empty()) {
      WithColor::error()
          << "--max-seq and the bucket options need --generate\n";
      return 2;
    }
    result = nuri::driver::compileOnnxFile(context, inputPath, importOptions,
                                           options);
  }
  if (terminal && options.progress) {
    errs() << "\r\033[K";
  }
  if (mlir::failed(result)) {
    return 1;
  }
  if (options.emit == nuri::driver::Emit::Package) {
    std::error_code ec;
    raw_fd_ostream out(outputPath, ec, sys::fs::OF_None);
    if (!ec) {
      out.write(reinterpret_cast<const char *>(result->package.data()),
                result->package.size());
      out.close();
      ec = out.error();
    }
    if (ec) {
      WithColor::error() << outputPath << ": " << ec.message() << "\n";
      return 1;
    }
  } else if (!nuri::cli::writeOutput(outputPath, result->text)) {
    return 1;
  }
  if (printReport) {
    outs() << (generate ? result->text : result->report.text());
  } else if (accuracyReport) {
    // --accuracy-report without --report: the quantization lines alone.
    for (const std::string &line : result->report.quantization) {
      outs() << line << "\n";
    }
  }
  return 0;
}

nuri::cli::CommandRegistration registration(compileCommand, runCompile);
} // namespace
