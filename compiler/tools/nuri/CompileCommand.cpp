//===- CompileCommand.cpp - nuri compile ----------------------------------===//
//
// nuri compile MODEL.onnx --target cpu [--input-shape NAME=DIMS ...]
//              [--bind-input NAME=FILE.pb ...] -o PKG.nuri
//
// Imports, runs the default graph passes, and packages the graph for the
// runtime. With --target cpu the whole model is one CPU partition; every op
// must have a CPU kernel, which is checked here rather than at run time.
//
//===----------------------------------------------------------------------===//

#include "CliSupport.h"
#include "Command.h"

#include "nuri/Dialect/Nuri/Transforms/Passes.h"
#include "nuri/Frontend/OnnxImporter.h"
#include "nuri/Package/GraphEmitter.h"
#include "nuri/cpu/Kernels.h"
#include "nuri/package/Package.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace {
cl::SubCommand compileCommand("compile",
                              "Compile an ONNX model into a .nuri package");
cl::opt<std::string> inputPath(cl::Positional, cl::Required,
                               cl::desc("<model.onnx>"), cl::sub(compileCommand));
cl::opt<std::string> outputPath("o", cl::desc("Output package"),
                                cl::value_desc("file.nuri"), cl::Required,
                                cl::sub(compileCommand));
cl::opt<std::string> targetName("target", cl::desc("Target: cpu"),
                                cl::init("cpu"), cl::sub(compileCommand));
cl::list<std::string> inputShapes("input-shape",
                                  cl::desc("Pin an input's shape, e.g. "
                                           "input_ids=1x128"),
                                  cl::value_desc("NAME=DIMS"),
                                  cl::sub(compileCommand));
cl::list<std::string> bindInputs(
    "bind-input", cl::desc("Freeze a graph input to a TensorProto's value"),
    cl::value_desc("NAME=FILE.pb"), cl::sub(compileCommand));

int runCompile() {
  if (targetName != "cpu") {
    WithColor::error() << "--target " << targetName
                       << ": this build compiles for 'cpu' only; NPU code "
                          "generation for the chip targets is not built yet\n";
    return 2;
  }
  nuri::OnnxImportOptions options;
  // The CPU runs ONNX ops Nuri has no op for, where it has a kernel.
  options.allowUnsupported = true;
  if (!nuri::cli::parseImportOptions(inputShapes, bindInputs, options)) {
    return 2;
  }
  mlir::DialectRegistry registry;
  nuri::registerOnnxImporterDialects(registry);
  mlir::MLIRContext context(registry);
  context.disableMultithreading();
  nuri::cli::DiagnosticPrinter diagnostics(context);

  mlir::OwningOpRef<mlir::ModuleOp> module =
      nuri::importOnnxFile(context, inputPath, options);
  if (!module) {
    return 1;
  }
  mlir::PassManager pm(&context);
  nuri::buildDefaultGraphPipeline(pm);
  if (mlir::failed(pm.run(*module))) {
    return 1;
  }
  mlir::FailureOr<nuri::EmittedGraph> emitted = nuri::emitGraph(*module);
  if (mlir::failed(emitted)) {
    return 1;
  }
  for (const nuri::graph::Op &op : emitted->graph.ops) {
    if (!nuri::cpu::hasKernel(op)) {
      std::string what = op.kind == "onnx_op"
                             ? "ONNX op '" + op.getString("op_type", "?") + "'"
                             : "op '" + op.kind + "'";
      errs() << inputPath << ": node '" << op.location << "': ";
      WithColor::error() << "the CPU has no kernel for " << what << "\n";
      return 1;
    }
  }
  nuri::package::PackageBuilder builder;
  builder.setProducer("nuri compile " + std::string(sys::path::filename(inputPath)));
  builder.setWeights(emitted->weights.data(), emitted->weights.size());
  builder.addCpuPartition(std::move(emitted->graph), "cpu");
  nuri::Result<bool> written = builder.write(outputPath);
  if (!written) {
    WithColor::error() << written.error() << "\n";
    return 1;
  }
  return 0;
}

nuri::cli::CommandRegistration registration(compileCommand, runCompile);
} // namespace
